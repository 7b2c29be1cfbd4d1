"""activate() on a healthy env (safety checks included), against a bare
``site.addsitedir`` of the same dir, measured side by side in one run; and the use-lock's
share: the first activate() of a process takes a shared flock on the build (open, flock,
fstat, lstat, a use mark), timed against the same call with the lock left out.

    python benchmarks/bench_activate.py [--calls 5000]
"""

from __future__ import annotations

import shutil
import site
import sys

from _common import arguments, built_spec, fresh, median_p99, row, scratch, time_calls

import sdkboot
from sdkboot import inuse


def main() -> None:
    args = arguments(__doc__ or "", 5000)
    root = scratch()
    try:
        spec = built_spec(root)
        site_dir = sdkboot.activate(spec).path or ""
        activated = time_calls(fresh(lambda: sdkboot.activate(spec)), args.calls)
        baseline = time_calls(fresh(lambda: site.addsitedir(site_dir)), args.calls)
        again = time_calls(lambda: sdkboot.activate(spec), args.calls)
        locked, unlocked = _with_and_without_the_lock(spec, args.calls)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"python {sys.version.split()[0]}")
    print(row("sdkboot.activate(), full work each call", activated))
    print(row("baseline: bare site.addsitedir()", baseline))
    print(f"{'cost of the safety checks (median)':<48} {median_p99(activated)[0] - median_p99(baseline)[0]:.4f} ms")
    print(row("sdkboot.activate(), already active", again))
    print(row("activate(), first in a process (takes the lock)", locked))
    print(row("  the same without the use-lock", unlocked))
    print(f"{'  cost of the use-lock (median)':<48} {median_p99(locked)[0] - median_p99(unlocked)[0]:.4f} ms")


def _with_and_without_the_lock(spec: sdkboot.Spec, calls: int) -> tuple:
    """A fresh sys.path and no lock held before each call, as in a new process; interleaved rounds."""
    real_hold = inuse.hold

    def first_call() -> object:
        inuse.release_all()
        return sdkboot.activate(spec)

    locked: list = []
    unlocked: list = []
    for _ in range(10):
        locked += time_calls(fresh(first_call), calls // 10)
        inuse.hold = lambda env: None  # type: ignore[assignment]
        try:
            unlocked += time_calls(fresh(first_call), calls // 10)
        finally:
            inuse.hold = real_hold  # type: ignore[assignment]
    inuse.release_all()
    return locked, unlocked


if __name__ == "__main__":
    main()
