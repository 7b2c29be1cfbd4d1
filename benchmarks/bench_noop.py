"""The no-op path: ensure() on an already-built env, against the origin design's
subprocess import probe, measured side by side in one run; the damage check's share of it;
and whole hook processes (``python -m sdkboot hook``, ``python sdkboot.pyz hook``) against a
bare ``python -c pass``.

    python benchmarks/bench_noop.py [--calls 10000] [--baseline-calls 200] [--sdk]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from _common import REPO, arguments, built_spec, median_p99, row, scratch, time_calls

import sdkboot
from sdkboot import bundle, seal, state
from sdkboot.layout import Layout
from sdkboot.strategies.base import venv_python


def main() -> None:
    args = arguments(__doc__ or "", 10000)
    root = scratch()
    try:
        spec = built_spec(root, sdk=args.sdk)
        name = spec.import_name
        result = sdkboot.ensure(spec)
        env = result.env or ""
        probe = [venv_python(env), "-c", f"import {name}"]
        outcomes = set()
        noop, unsealed = _with_and_without_the_check(spec, args.calls, outcomes)
        walk = _walk_cost(spec, args.calls)
        baseline = time_calls(lambda: subprocess.run(probe, check=True), args.baseline_calls)
        pyz = root / "sdkboot.pyz"
        _, pyz_size = bundle.write(str(pyz))
        module_env = {**os.environ, "PYTHONPATH": str(REPO)}
        bare_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        hooks: dict[str, list[float]] = {"-m": [], "pyz": [], "pass": []}
        for _ in range(20):  # interleaved: a loaded machine slows all three alike
            hooks["-m"] += time_calls(lambda: _quiet(_hook_argv(spec, ["-m", "sdkboot"]), module_env), 1)
            hooks["pyz"] += time_calls(lambda: _quiet(_hook_argv(spec, [str(pyz)]), bare_env), 1)
            hooks["pass"] += time_calls(lambda: _quiet([sys.executable, "-c", "pass"], bare_env), 1)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"python {sys.version.split()[0]}; env: {'the claude-agent-sdk closure' if args.sdk else 'one module'}"
        f" ({walk[0]} distributions sealed); outcomes of the measured calls: {', '.join(sorted(outcomes))}"
    )
    print(row("sdkboot.ensure() no-op, in process", noop))
    print(row("  the same without the damage check", unsealed))
    print(f"{'  difference of the medians':<48} {median_p99(noop)[0] - median_p99(unsealed)[0]:.4f} ms")
    print(row("  seal.check() alone (the one stat)", walk[2]))
    print(row("  the full entry walk (after a site dir change)", walk[1]))
    print(row("baseline: subprocess `python -c import X`", baseline))
    print(f"{'speed-up of the median':<48} {median_p99(baseline)[0] / median_p99(noop)[0]:.0f}x")
    print(row("whole `python -m sdkboot hook` process, no-op", hooks["-m"]))
    # The size is taken when it is written: the scratch dir is gone by now.
    print(row(f"whole `python sdkboot.pyz hook` process ({pyz_size / 1024:.0f} KiB)", hooks["pyz"]))
    print(row("baseline: bare `python -c pass`", hooks["pass"]))


def _with_and_without_the_check(spec: sdkboot.Spec, calls: int, outcomes: set) -> tuple:
    """ensure() no-ops with the damage check and with it stubbed out, in interleaved rounds."""
    real_check = seal.check
    sealed: list[float] = []
    unsealed: list[float] = []
    for _ in range(10):
        sealed += time_calls(lambda: outcomes.add(sdkboot.ensure(spec).outcome.name), calls // 10)
        seal.check = lambda *a: None  # type: ignore[assignment]
        try:
            unsealed += time_calls(lambda: outcomes.add(sdkboot.ensure(spec).outcome.name), calls // 10)
        finally:
            seal.check = real_check  # type: ignore[assignment]
    return sealed, unsealed


def _walk_cost(spec: sdkboot.Spec, calls: int) -> tuple:
    """Entries sealed; the time to stat them all (what a no-op pays once the site stamp changed);
    and the quick check alone."""
    record = state.load(Layout(spec.root)).builds[0]
    found, _ = seal._read(record.env)
    entries = found or {}
    walk = time_calls(lambda: seal.damage(record.site, entries), max(1, calls // 10))
    quick = time_calls(lambda: seal.check(record.env, record.site, record.site_stamp), calls)
    return len(entries), walk, quick


def _quiet(argv: list[str], env: dict) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _hook_argv(spec: sdkboot.Spec, how: list[str]) -> list[str]:
    return [
        sys.executable,
        *how,
        "hook",
        "--state-dir",
        spec.root,
        "--import-name",
        spec.import_name,
        "--no-index",
        *[arg for link in spec.find_links for arg in ("--find-links", link)],
        *spec.requirements,
    ]


if __name__ == "__main__":
    main()
