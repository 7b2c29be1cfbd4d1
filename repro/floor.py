"""Find a scenario's floor: the smallest limit at which it succeeds, confirmed against noise."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro import cgroups, limits, options, report, scenarios
from repro.limits import format_size
from repro.probe import Probe, probe_for
from repro.signature import Sample, Signature

START_HI_KIB = 64 * 1024  # every interpreter here starts well below this
START_MIN_KIB = 256  # a start floor search goes no lower (a cgroup charges only what is touched)


@dataclass
class Search:
    """Every run of one floor search, in order."""

    probe: Probe
    samples: list[Sample] = field(default_factory=list)

    def at(self, kib: int) -> Sample:
        sample = self.probe(kib)
        self.samples.append(sample)
        return sample


@dataclass(frozen=True)
class Floor:
    floor_kib: int | None  # None: no confirmed success up to the top of the range
    below: Sample | None  # the failure closest under the floor; None if lo already succeeds
    confirmed: bool
    samples: list[Sample]


def _bisect(search: Search, ok_kib: int, below: Sample, resolution: int) -> tuple[int, Sample | None]:
    while ok_kib - below.kib > resolution:
        sample = search.at((ok_kib + below.kib) // 2)
        if sample.signature.ok:
            ok_kib = sample.kib
        else:
            below = sample
    return ok_kib, below


def _first_failure(search: Search, kib: int, times: int) -> Sample | None:
    for _ in range(times):
        sample = search.at(kib)
        if not sample.signature.ok:
            return sample
    return None


def find_floor(probe: Probe, lo: int, hi: int, resolution: int, confirmations: int = 2, raises: int = 8) -> Floor:
    """Bisect between a failing lo and a succeeding hi, then confirm the floor ``confirmations``
    more times; each failed confirmation moves the floor up a resolution step (at most
    ``raises`` times), because near the edge a run can fail by chance."""
    search = Search(probe)
    top = search.at(hi)
    if not top.signature.ok:
        return Floor(None, top, False, search.samples)
    bottom = search.at(lo)
    ok_kib, below = (lo, None) if bottom.signature.ok else _bisect(search, hi, bottom, resolution)
    for _ in range(raises):
        failure = _first_failure(search, ok_kib, confirmations)
        if failure is None:
            return Floor(ok_kib, below, True, search.samples)
        below, ok_kib = failure, min(hi, ok_kib + resolution)
    return Floor(ok_kib, below, False, search.samples)


def summary(floor: Floor, title: str) -> str:
    lines = [f"{title}: " + _floor_text(floor)]
    if floor.below is not None:
        sig = floor.below.signature
        below = f"just below, at {format_size(floor.below.kib)}: {sig.short()} {_message(sig)}"
        lines.append(below.rstrip())
    return "\n".join(lines)


def _message(sig: Signature) -> str:
    # Both ends of stderr: a traceback's first line does not say what failed.
    ends = [sig.first_stderr_line, sig.last_stderr_line] if sig.last_stderr_line else []
    return " … ".join(dict.fromkeys(ends)) or sig.error or ""


def _floor_text(floor: Floor) -> str:
    runs = f"{len(floor.samples)} runs"
    if floor.floor_kib is None:
        return f"no success up to the top of the range ({runs})"
    if floor.below is None:
        return f"at or below {format_size(floor.floor_kib)}: lower --lo ({runs})"
    state = "confirmed" if floor.confirmed else "NOT confirmed (noisy)"
    return f"floor {format_size(floor.floor_kib)} ({state}, {runs})"


def to_json(floor: Floor) -> dict[str, Any]:
    return {
        "floor_kib": floor.floor_kib,
        "confirmed": floor.confirmed,
        "below": floor.below.to_json() if floor.below else None,
        "samples": [s.to_json() for s in floor.samples],
    }


def start_floor(ctx: scenarios.Context, kind: limits.Kind, progress: report.Progress) -> Floor:
    """The smallest limit at which bare ``python -c pass`` starts: the bottom of any sweep of
    sdkboot's whole tree, and the yardstick the hook's own floor is held against."""
    return descend_to_floor(probe_for(scenarios.SCENARIOS["bare"], ctx, kind, scenarios.CHILD, progress), kind)


def descend_to_floor(probe: Probe, kind: limits.Kind) -> Floor:
    """find_floor from the kind's bottom, which is lowered while even it succeeds."""
    lo = kind.lo_kib
    found = find_floor(probe, lo, START_HI_KIB, kind.resolution_kib)
    # Starting at the kind's own bottom says only "at or below": halve until a start fails.
    while found.floor_kib is not None and found.below is None and lo > START_MIN_KIB:
        lo = max(START_MIN_KIB, lo // 2)
        found = find_floor(probe, lo, START_HI_KIB, min(kind.resolution_kib, lo // 4))
    return found


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "floor",
        help="binary-search the smallest limit that succeeds",
        description="Success is rc 0, except for the hook scenario: "
        "its contract (async line first, one metrics line, exit 0).",
    )
    parser.add_argument(
        "scenario",
        choices=sorted(scenarios.SCENARIOS),
        metavar="SCENARIO",
        help=f"one of: {', '.join(scenarios.SCENARIOS)}",
    )
    options.add_limit_arguments(parser)
    options.add_mode_arguments(parser)
    options.add_context_arguments(parser)
    parser.add_argument("--confirm", type=int, default=2, help="successes needed at the floor")
    parser.add_argument("--out", type=Path, help="write every run as JSON")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    span = options.span(args)
    mode = options.mode(args, [args.scenario])
    span.kind.check()
    scenario = scenarios.SCENARIOS[args.scenario]
    with tempfile.TemporaryDirectory(prefix="repro-floor-") as scratch:
        ctx = options.context(args, Path(scratch), scenario.needs_wheelhouse)
        progress = report.Progress()
        try:
            floor = find_floor(
                probe_for(scenario, ctx, span.kind, mode, progress),
                span.lo_kib,
                span.hi_kib,
                span.resolution_kib,
                max(1, args.confirm),
            )
        finally:
            progress.done()
    title = f"{scenario.name} · {span.kind.name} · {mode} · {ctx.python}"
    if args.out:  # first: the runs are kept even if printing fails
        document = {
            "title": title,
            "scenario": scenario.name,
            "limit": span.kind.name,
            "mode": mode,
            "host_cgroup_limit_kib": cgroups.own_limit_kib(),
            **to_json(floor),
        }
        args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(summary(floor, title))
    return 0 if floor.floor_kib is not None and floor.confirmed else 1
