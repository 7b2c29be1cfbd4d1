"""Interpreter discovery on this machine, cold (no cache) and from the cache, beside what an
interpreter start and a pyenv shim cost in the same run; and `sdkboot run`'s no-op overhead
against starting the env's interpreter directly.

    python benchmarks/bench_discovery.py [--calls 200] [--baseline-calls 20]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _common import MODULE, REPO, arguments, built_spec, row, scratch, time_calls

from sdkboot.discovery import discover
from sdkboot.strategies.base import venv_python

COLD_ROUNDS = 5


def _shim() -> list[str]:
    """An unselected pyenv shim, the way a launcher that trusts PATH would meet it ([] when absent)."""
    shims = Path(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")) / "shims"
    found = sorted(p for p in shims.glob("python3.*") if p.name[len("python3.") :].isdigit())
    return [str(found[0]), "-c", "pass"] if found else []


def main() -> None:
    args = arguments(__doc__ or "", 200)
    root = scratch()
    try:
        cache = root / "interpreters.json"

        def cold() -> None:
            cache.unlink(missing_ok=True)
            discover(cache_file=str(cache))

        cold_ms = time_calls(cold, COLD_ROUNDS)
        found = discover(cache_file=str(cache))
        warm_ms = time_calls(lambda: discover(cache_file=str(cache)), args.calls)
        bare = time_calls(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), args.baseline_calls)
        shim = _shim()
        shim_ms = (
            time_calls(lambda: subprocess.run(shim, capture_output=True), min(args.baseline_calls, 5)) if shim else []
        )
        spec = built_spec(root / "env")
        script = root / "agent.py"
        script.write_text(f"import {MODULE}\n")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        run_argv = [
            sys.executable,
            "-m",
            "sdkboot",
            "run",
            "--state-dir",
            spec.root,
            "--import-name",
            MODULE,
            *spec.requirements,
            "--",
            str(script),
        ]
        run_ms = time_calls(lambda: subprocess.run(run_argv, check=True, env=env), args.baseline_calls)
        direct = [venv_python(spec.root + "/builds/" + os.listdir(spec.root + "/builds")[0]), str(script)]
        direct_ms = time_calls(lambda: subprocess.run(direct, check=True), args.baseline_calls)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    probed = [i for i in found.interpreters if i.info is not None]
    print(
        f"python {sys.version.split()[0]}; {len(found.interpreters)} candidates, {len(probed)} probed:"
        f" {', '.join(i.info.label for i in probed if i.info)}"
    )
    print(row("discover(), cold: every candidate probed", cold_ms))
    print(row("discover(), from the cache: 0 processes", warm_ms))
    print(row("baseline: bare `python -c pass`", bare))
    if shim_ms:
        print(row(f"baseline: unselected pyenv shim ({Path(shim[0]).name})", shim_ms))
    print(row("`sdkboot run -- script.py`, no-op, whole process", run_ms))
    print(row("baseline: the env's python script.py, directly", direct_ms))


if __name__ == "__main__":
    main()
