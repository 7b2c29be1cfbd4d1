"""What every session pays once the env exists: ensure()'s no-op and activate(), in process.

Each is measured beside its baseline in the same run: the no-op against the subprocess
import probe that a naive bootstrapper runs every session, activate() against a bare
``site.addsitedir`` of the same dir.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import sdkboot
from repro.bench.timing import fresh, median_p99, time_calls
from repro.bench.ways import IMPORT, REQUIREMENT
from sdkboot.strategies.base import venv_python


def stats(samples: list[float]) -> dict[str, Any]:
    median, p99 = median_p99(samples)
    return {"calls": len(samples), "median_ms": round(median, 4), "p99_ms": round(p99, 4)}


def built_spec(python: str, wheelhouse: Path, state: Path) -> sdkboot.Spec:
    """The real closure built once with the lean strategy, unlimited: what later sessions find."""
    spec = sdkboot.Spec(
        requirements=[REQUIREMENT],
        import_name=IMPORT,
        python=python,
        state_dir=str(state),
        find_links=[str(wheelhouse)],
        no_index=True,
        strategies=("lean",),
        min_python=sys.version_info[:2],
    )
    result = sdkboot.ensure(spec)
    if result.outcome is not sdkboot.Outcome.BUILT:
        raise RuntimeError(f"could not build the env to time: {result.outcome.name} {result.err_kind} {result.message}")
    return spec


def noop(spec: sdkboot.Spec, calls: int, probe_calls: int) -> dict[str, Any]:
    outcomes: set[str] = set()
    measured = time_calls(lambda: outcomes.add(sdkboot.ensure(spec).outcome.name), calls)
    env = sdkboot.ensure(spec).env or ""
    probe = [venv_python(env), "-I", "-c", f"import {IMPORT}"]
    baseline = time_calls(lambda: subprocess.run(probe, check=True), probe_calls)
    return {"ensure_noop": stats(measured), "outcomes": sorted(outcomes), "subprocess_import_probe": stats(baseline)}


def activation(spec: sdkboot.Spec, calls: int) -> dict[str, Any]:
    site_dir = sdkboot.activate(spec).path or ""
    full = time_calls(fresh(lambda: sdkboot.activate(spec)), calls)
    bare = time_calls(fresh(lambda: site.addsitedir(site_dir)), calls)
    return {"activate": stats(full), "bare_addsitedir": stats(bare)}
