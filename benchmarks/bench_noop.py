"""The no-op path: ensure() on an already-built env, against the origin design's
subprocess import probe, measured side by side in one run.

    python benchmarks/bench_noop.py [--calls 10000] [--baseline-calls 200]
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

from _common import arguments, MODULE, REPO, built_spec, row, scratch, stats, time_calls

import sdkboot
from sdkboot.strategies.base import venv_python


def main() -> None:
    args = arguments(__doc__ or "", 10000)
    root = scratch()
    try:
        spec = built_spec(root)
        env = sdkboot.ensure(spec).env or ""
        probe = [venv_python(env), "-c", f"import {MODULE}"]
        outcomes = set()
        noop = time_calls(lambda: outcomes.add(sdkboot.ensure(spec).outcome.name), args.calls)
        baseline = time_calls(lambda: subprocess.run(probe, check=True), args.baseline_calls)
        cli = time_calls(lambda: subprocess.run(_hook_argv(spec), check=True, capture_output=True,
                                                env={**os.environ, "PYTHONPATH": str(REPO)}), 20)
        bare = time_calls(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 20)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"python {sys.version.split()[0]}; outcomes of the measured calls: {', '.join(sorted(outcomes))}")
    print("(the baseline imports a one-module package; with the real SDK it costs ~0.9 s a call)")
    print(row("sdkboot.ensure() no-op, in process", noop))
    print(row("baseline: subprocess `python -c import X`", baseline))
    print(f"{'speed-up of the median':<48} {stats(baseline)[0] / stats(noop)[0]:.0f}x")
    print(row("whole `sdkboot hook` process, no-op", cli))
    print(row("baseline: bare `python -c pass`", bare))


def _hook_argv(spec: sdkboot.Spec) -> list:
    return [sys.executable, "-m", "sdkboot", "hook", "--state-dir", spec.root, "--import-name", MODULE,
            *spec.requirements]


if __name__ == "__main__":
    main()
