"""Sweep a scenario across memory limits: a coarse grid, then bisection at every edge.

The search itself only sees a probe (limit -> Sample), so it is tested without processes.
A sweep measures; it asserts nothing. Where one signature comes back after another has been
seen at a higher limit, the band is mixed (the kernel's choice of victim, not the limit,
decides there), and the table marks those ranges: a check pinned in such a band must declare
the set of signatures it accepts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro import UsageError, cgroups, floor, limits, options, plot, report, scenarios
from repro.limits import format_size
from repro.probe import Probe, probe_for
from repro.signature import Range, Sample, Sweep, mixed, signature_json

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ROOT / "sdkboot" / "floors.json"  # the one floors file: the bench writes it
FLOOR_KEYS = {"as": "rlimit_as_mib", "cgroup": "cgroup_mib"}  # the floors file's names
HEADROOM = 1.25  # a tree sweep reaches this far past the highest build floor


def coarse_grid(lo: int, hi: int, points: int) -> list[int]:
    """``points`` limits from lo to hi, evenly spaced on a log scale: edges sit at all sizes."""
    ratio = (hi / lo) ** (1 / (points - 1))
    return sorted({min(hi, round(lo * ratio**i)) for i in range(points)})


def _is_open(samples: dict[int, Sample], gap: tuple[int, int], resolution: int) -> bool:
    lo, hi = gap
    return hi - lo > resolution and samples[lo].signature.key() != samples[hi].signature.key()


def _open_gaps(samples: dict[int, Sample], resolution: int) -> list[tuple[int, int]]:
    ordered = sorted(samples)
    return [g for g in zip(ordered, ordered[1:]) if _is_open(samples, g, resolution)]


def explore(probe: Probe, grid: list[int], resolution: int, budget: int) -> tuple[dict[int, Sample], bool]:
    """Samples of the grid, bisected down to ``resolution`` at each change of signature.

    Returns the samples and whether the search finished inside the ``budget`` of runs.
    """
    samples = {kib: probe(kib) for kib in grid[:budget]}
    gaps = _open_gaps(samples, resolution)
    while gaps:
        if len(samples) >= budget:
            return samples, False
        # Widest (relative) gap first: when the budget runs out, every edge is known
        # roughly, rather than one noisy region known exactly and the rest not at all.
        lo, hi = gaps.pop(max(range(len(gaps)), key=lambda i: gaps[i][1] / gaps[i][0]))
        mid = (lo + hi) // 2
        samples[mid] = probe(mid)
        gaps += [g for g in ((lo, mid), (mid, hi)) if _is_open(samples, g, resolution)]
    return samples, len(grid) <= budget


def _span_text(found: Range) -> str:
    lo, hi = format_size(found.lo_kib), format_size(found.hi_kib)
    return lo if lo == hi else f"{lo} – {hi}"


def _row(found: Range, reported: bool, recurs: bool) -> list[object]:
    sig = found.signature
    # The last line is shown too: a traceback's first line says nothing about its cause.
    last = sig.last_stderr_line if sig.last_stderr_line != sig.first_stderr_line else ""
    row: list[object] = [
        _span_text(found),
        sig.rc_label,
        "E" if sig.stdout_empty else "N",
        "E" if sig.stderr_empty else "N",
        sig.oom_kills,
    ]
    if reported:
        row.append(sig.report)
    return [
        *row,
        report.clip(sig.first_stderr_line, 90),
        report.clip(last, 60),
        sig.survivors,
        found.runs,
        "mixed" if recurs else "",
    ]


def table(sweep: Sweep) -> str:
    found = sweep.ranges
    reported = any(r.signature.report for r in found)
    recurring = mixed(found)
    rows = [_row(r, reported, i in recurring) for i, r in enumerate(found)]
    headers = [
        "limit",
        "rc",
        "stdout",
        "stderr",
        "OOM kills",
        *(["sdkboot said"] if reported else []),
        "first stderr line",
        "last stderr line",
        "left alive",
        "runs",
        "band",
    ]
    notes = []
    if recurring:
        notes.append(
            "mixed: a signature that recurs across other ranges; there the kernel, not"
            " the limit, decides (a check at such a limit must declare a set)"
        )
    if not sweep.complete:
        notes.append("run budget reached: edges not fully bisected")
    return report.markdown_table(headers, rows) + "".join(f"\n\n({n})" for n in notes)


def to_json(sweep: Sweep) -> dict[str, Any]:
    found = sweep.ranges
    recurring = mixed(found)
    return {
        "scenario": sweep.scenario,
        "mode": sweep.mode,
        "complete": sweep.complete,
        "ranges": [
            {
                "lo_kib": r.lo_kib,
                "hi_kib": r.hi_kib,
                "runs": r.runs,
                "mixed": i in recurring,
                **signature_json(r.signature),
            }
            for i, r in enumerate(found)
        ],
        "samples": [s.to_json() for _, s in sorted(sweep.samples.items())],
    }


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="map failure signatures across memory limits",
        description="With --tree (sdkboot and hook only) and no --lo, the sweep starts at the "
        "smallest limit at which a bare `python -c pass` starts, measured first.",
    )
    parser.add_argument(
        "scenario",
        nargs="+",
        choices=sorted(scenarios.SCENARIOS),
        metavar="SCENARIO",
        help=f"one or more of: {', '.join(scenarios.SCENARIOS)}",
    )
    options.add_limit_arguments(parser)
    options.add_mode_arguments(parser)
    options.add_context_arguments(parser)
    parser.add_argument("--points", type=int, default=12, help="coarse grid size (default 12)")
    parser.add_argument("--max-runs", type=int, default=60, help="run budget per scenario, grid included (default 60)")
    parser.add_argument("--out", type=Path, help="write the samples and ranges as JSON")
    parser.add_argument("--plot", type=Path, help="write a strip chart (PNG; needs matplotlib)")
    parser.set_defaults(handler=_main)


def _check(args: argparse.Namespace) -> None:
    if args.points < 2:
        raise UsageError("--points must be at least 2")
    if args.max_runs < args.points:
        raise UsageError("--max-runs must be at least --points")


@dataclass(frozen=True)
class BuildFloor:
    """The highest strategy floor for one limit kind in the floors file."""

    kib: int
    strategy: str
    source: str


def build_floor(kind: str, path: Path = FLOORS) -> BuildFloor | None:
    """The highest floor of any strategy for ``kind`` in the floors file; None without one.

    Above it, every strategy's build can fit.
    """
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    found = []
    for workload in _dict(_dict(document).get("workloads")).values():
        for strategy, floors in _dict(_dict(workload).get("strategies")).items():
            mib = _dict(floors).get(FLOOR_KEYS[kind])
            if isinstance(mib, (int, float)) and not isinstance(mib, bool):
                found.append((round(mib * 1024), strategy))
    if not found:
        return None
    kib, strategy = max(found)
    where = path.resolve()
    return BuildFloor(kib, strategy, str(where.relative_to(ROOT) if where.is_relative_to(ROOT) else where))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tree_hi(kind: limits.Kind, found: BuildFloor | None) -> int:
    """A tree sweep's default top: the kind's, raised to HEADROOM past the build's floor."""
    return kind.hi_kib if found is None else max(kind.hi_kib, math.ceil(found.kib * HEADROOM))


def span_line(span: options.Span, start: floor.Floor | None, found: BuildFloor | None) -> str:
    """Where a tree sweep starts and ends, and why, in one line; a warning when it stops short."""
    origin = "--lo"
    if start is not None and start.floor_kib == span.lo_kib:
        origin = "the bare start floor" if start.below is not None else "bare starts even here"
    line = f"span: {format_size(span.lo_kib)} ({origin}) – {format_size(span.hi_kib)}"
    if found is None:
        return line + "; no floors file: the build's floor is unknown"
    line += f"; the build's floor: {format_size(found.kib)} ({found.strategy}, {found.source})"
    if span.hi_kib <= found.kib:
        line += "; WARNING: --hi is at or below it, no build can fit"
    return line


def _start(args: argparse.Namespace, ctx: scenarios.Context, kind: limits.Kind) -> floor.Floor | None:
    """The bare interpreter's start floor, measured in this run when the sweep starts there."""
    if not args.tree or args.lo is not None:
        return None
    progress = report.Progress()
    try:
        found = floor.start_floor(ctx, kind, progress)
    finally:
        progress.done()
    print(floor.summary(found, f"bare `python -c pass` · {kind.name}") + "\n", flush=True)
    return found


def _main(args: argparse.Namespace) -> int:
    options.span(args)  # bad --lo/--hi fail now, before any run
    mode = options.mode(args, args.scenario)
    _check(args)
    limits_kind = limits.KINDS[args.limit]
    limits_kind.check()  # fail now, not after the first scenario's setup
    chart = args.plot if args.plot and plot.usable(args.plot) else None
    with tempfile.TemporaryDirectory(prefix="repro-sweep-") as scratch:
        needs = any(scenarios.SCENARIOS[n].needs_wheelhouse for n in args.scenario)
        ctx = options.context(args, Path(scratch), needs)
        start = _start(args, ctx, limits_kind)
        found = build_floor(args.limit) if args.tree else None
        span = options.span(
            args, start.floor_kib if start else None, tree_hi(limits_kind, found) if args.tree else None
        )
        if args.tree:
            print(span_line(span, start, found) + "\n", flush=True)
        python = f"{ctx.python} (Python {scenarios.python_version(ctx.python)})"
        sweeps = [_sweep_one(scenarios.SCENARIOS[n], ctx, span, args, python, mode) for n in args.scenario]
    if args.out:
        document = _document(sweeps, span, python, mode, start, found)
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    if chart:
        plot.strip_chart(sweeps, f"{span.kind.name} limit · {mode} · {python}", chart)
    return 0


def _sweep_one(
    scenario: scenarios.Scenario,
    ctx: scenarios.Context,
    span: options.Span,
    args: argparse.Namespace,
    python: str,
    mode: str,
) -> Sweep:
    progress = report.Progress()
    grid = coarse_grid(span.lo_kib, span.hi_kib, args.points)
    try:
        samples, complete = explore(
            probe_for(scenario, ctx, span.kind, mode, progress), grid, span.resolution_kib, args.max_runs
        )
    finally:
        progress.done()
    sweep = Sweep(scenario.name, samples, complete, mode)
    # Printed as each scenario ends: a long multi-scenario sweep shows results early.
    title = f"### {sweep.scenario} · {span.kind.name} · {mode} · {python}"
    print(f"{title}\n\n{table(sweep)}\n", flush=True)
    return sweep


def _document(
    sweeps: list[Sweep],
    span: options.Span,
    python: str,
    mode: str,
    start: floor.Floor | None,
    found: BuildFloor | None,
) -> dict[str, Any]:
    return {
        "limit": span.kind.name,
        "mode": mode,
        "python": python,
        "lo_kib": span.lo_kib,
        "hi_kib": span.hi_kib,
        "resolution_kib": span.resolution_kib,
        "bare_start_floor": floor.to_json(start) if start else None,
        "build_floor": dataclasses.asdict(found) if found else None,
        "host_cgroup_limit_kib": cgroups.own_limit_kib(),
        "sweeps": [to_json(s) for s in sweeps],
    }
