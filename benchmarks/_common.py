"""Shared pieces of the benchmarks: a result row and a real, tiny built env (timing: repro.bench.timing)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere

import sdkboot  # noqa: E402
from repro.bench.timing import fresh, median_p99, time_calls  # noqa: E402,F401 - re-exported to the scripts
from tests.wheels import make_wheel  # noqa: E402

MODULE = "sdkboot_bench"


def row(label: str, samples: list[float]) -> str:
    median, p99 = median_p99(samples)
    return f"{label:<48} {len(samples):>6} calls  median {median:9.4f} ms  p99 {p99:9.4f} ms"


def built_spec(root: Path, sdk: bool = False) -> sdkboot.Spec:
    """A real build (offline), so the no-op path is the real one: of a one-module wheel, or with
    ``sdk`` of the claude-agent-sdk closure in $SDKBOOT_WHEELHOUSE (about 30 distributions)."""
    if sdk:
        house = os.environ.get("SDKBOOT_WHEELHOUSE", "/var/cache/sdkboot/wheelhouse")
        spec = sdkboot.Spec(state_dir=str(root / "state"), find_links=[house], no_index=True)
    else:
        wheels = root / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        make_wheel(wheels, "sdkboot-bench", {f"{MODULE}/__init__.py": "VALUE = 1\n"})
        spec = sdkboot.Spec(
            requirements=["sdkboot-bench"],
            import_name=MODULE,
            state_dir=str(root / "state"),
            find_links=[str(wheels)],
            no_index=True,
        )
    result = sdkboot.ensure(spec)
    if result.outcome not in (sdkboot.Outcome.BUILT, sdkboot.Outcome.BUILT_TARGET):
        raise SystemExit(f"benchmark setup failed: {result.outcome.name} {result.err_kind} {result.message}")
    return spec


def arguments(doc: str, calls: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=calls, help=f"timed calls (default {calls})")
    parser.add_argument("--baseline-calls", type=int, default=200, help="timed calls of a slow baseline")
    parser.add_argument(
        "--sdk", action="store_true", help="measure on the real claude-agent-sdk env (built from $SDKBOOT_WHEELHOUSE)"
    )
    return parser.parse_args()


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="sdkboot-bench-"))
