"""activate() on a healthy env (safety checks included), against a bare
``site.addsitedir`` of the same dir, measured side by side in one run.

    python benchmarks/bench_activate.py [--calls 5000]
"""
from __future__ import annotations

import shutil
import site
import sys

from _common import arguments, built_spec, row, scratch, stats, time_calls

import sdkboot


def fresh(fn):  # type: ignore[no-untyped-def]
    """Run ``fn`` on a pristine sys.path, so every call does the full work, not the idempotent exit."""
    saved = list(sys.path)

    def call() -> object:
        try:
            return fn()
        finally:
            sys.path[:] = saved

    return call


def main() -> None:
    args = arguments(__doc__ or "", 5000)
    root = scratch()
    try:
        spec = built_spec(root)
        site_dir = sdkboot.activate(spec).path or ""
        activated = time_calls(fresh(lambda: sdkboot.activate(spec)), args.calls)
        baseline = time_calls(fresh(lambda: site.addsitedir(site_dir)), args.calls)
        again = time_calls(lambda: sdkboot.activate(spec), args.calls)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"python {sys.version.split()[0]}")
    print(row("sdkboot.activate(), full work each call", activated))
    print(row("baseline: bare site.addsitedir()", baseline))
    print(f"{'cost of the safety checks (median)':<48} {stats(activated)[0] - stats(baseline)[0]:.4f} ms")
    print(row("sdkboot.activate(), already active", again))


if __name__ == "__main__":
    main()
