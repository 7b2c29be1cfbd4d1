"""What the no-op path's safety checks cost: ensure() on a built env with the ownership rule
(the state dir and its parents; below it, the site dir up to the state dir unless the state
dir is private) as shipped, beside the same call with the rule stubbed out, in one run; and the
rule on its own, beside the walk down that a private state dir spares.

    python benchmarks/bench_checks.py [--calls 20000]
"""

from __future__ import annotations

import shutil
import sys

from _common import arguments, built_spec, median_p99, row, scratch, time_calls

import sdkboot
from sdkboot import ownership, state
from sdkboot.layout import Layout


def _none(*args: object) -> str | None:
    return None


def main() -> None:
    args = arguments(__doc__ or "", 20000)
    root = scratch()
    try:
        spec = built_spec(root)
        record = state.load(Layout(spec.root)).builds[0]
        shipped = time_calls(lambda: sdkboot.ensure(spec), args.calls)
        walks = (ownership.dir_problem, ownership.site_problem)
        ownership.dir_problem, ownership.site_problem = _none, _none  # type: ignore[assignment]
        try:
            bare = time_calls(lambda: sdkboot.ensure(spec), args.calls)
        finally:
            ownership.dir_problem, ownership.site_problem = walks  # type: ignore[assignment]
        site = time_calls(lambda: ownership.site_problem(record.site, spec.root), args.calls)
        down = time_calls(lambda: ownership.tree_problem(record.site, spec.root), args.calls)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"python {sys.version.split()[0]}; state dir {spec.root}")
    print(row("ensure() no-op, with the ownership rule", shipped))
    print(row("baseline: the same, the rule stubbed out", bare))
    cost = (median_p99(shipped)[0] - median_p99(bare)[0]) * 1000
    print(f"{'cost of the rule (difference of the medians)':<48} {cost:8.1f} us")
    print(row("site_problem: the rule as the no-op applies it", site))
    print(row("tree_problem: the walk down a private dir spares", down))


if __name__ == "__main__":
    main()
