"""Cold builds and floors of each way: interleaved wall times, peaks, and bisected floors.

A "cold" run builds into a fresh work dir (the wheelhouse stays in the page cache, as it
would on a machine that downloaded it). Timed runs go round-robin over the ways, so load
from other users of the machine spreads over all of them and the ratios stay fair. Each
timed run sits in a cgroup with a limit far above need, only to read its peak.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro import Unsupported, cgroups, floor, limits, scenarios
from repro.bench.ways import Context, Way
from repro.limits import Run
from repro.signature import Sample

# Far above any way's need: the cgroup is there to be read, not to limit.
_ROOMY_KIB = 16 * 1024 * 1024


@dataclass
class Timed:
    """One way's timed runs."""

    walls: list[float] = field(default_factory=list)
    maxrss_kib: list[int] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    cgroup_peak_kib: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": len(self.walls) + len(self.failures),
            "wall_s": self.walls,
            "wall_median_s": round(statistics.median(self.walls), 3) if self.walls else None,
            "cpu_s": self.cpu_s,
            "cpu_median_s": round(statistics.median(self.cpu_s), 3) if self.cpu_s else None,
            "maxrss_kib": max(self.maxrss_kib, default=None),
            "cgroup_peak_kib": max(self.cgroup_peak_kib, default=None),
            "failures": self.failures,
        }


def run_way(way: Way, ctx: Context, limit: limits.Limit) -> Run:
    """One run in a fresh work dir under ``limit``, the dir removed after; ``rc`` 1 if ``way.ok`` says no."""
    work = Path(tempfile.mkdtemp(prefix=f"{way.name}-", dir=ctx.scratch))
    try:
        argv, extra = way.command(ctx, work)
        run = limits.run(argv, limit, timeout=ctx.timeout, env=scenarios.run_env(extra), cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if run.rc == 0 and not way.ok(run):
        return dataclasses.replace(run, rc=1, stderr=run.stderr + "\n(bench: exited 0 without a build)")
    return run


def roomy() -> limits.Limit:
    """A cgroup to read peaks from, or no limit where cgroups cannot be made."""
    try:
        cgroups.detect()
    except Unsupported:
        return limits.NO_LIMIT
    return limits.Cgroup(_ROOMY_KIB)


def _why(run: Run) -> str:
    tail = (run.stderr.strip().splitlines() or [run.error or ""])[-1]
    return f"rc {run.rc}{' (timeout)' if run.timed_out else ''}: {tail[:160]}"


def time_ways(ways: Sequence[Way], ctx: Context, repeats: int, tick: Callable[[str], None]) -> dict[str, Timed]:
    """``repeats`` cold runs of each way, round-robin."""
    limit, timed = roomy(), {way.name: Timed() for way in ways}
    for round_ in range(repeats):
        for way in ways:
            tick(f"cold run {round_ + 1}/{repeats}: {way.name}")
            run, got = run_way(way, ctx, limit), timed[way.name]
            if run.rc != 0 or run.timed_out:
                got.failures.append(_why(run))
                continue
            got.walls.append(round(run.wall_s, 3))
            got.maxrss_kib += [run.maxrss_kib] if run.maxrss_kib else []
            got.cpu_s += [run.cpu_s] if run.cpu_s is not None else []
            got.cgroup_peak_kib += [run.peak_kib] if run.peak_kib and limit.kind == "cgroup" else []
    return timed


@dataclass(frozen=True)
class Range:
    lo_kib: int
    hi_kib: int
    resolution_kib: int


def floor_of(way: Way, ctx: Context, kind: str, span: Range, tick: Callable[[str], None]) -> floor.Floor:
    """Bisect ``way``'s floor under ``kind`` (``cgroup`` or ``as``), confirmed twice."""
    make = limits.KINDS[kind].make

    def probe(kib: int) -> Sample:
        tick(f"{way.name} {kind} floor: trying {limits.format_size(kib)}")
        return Sample.of(kib, run_way(way, ctx, make(kib)))

    return floor.find_floor(probe, span.lo_kib, span.hi_kib, span.resolution_kib, confirmations=2)


def floor_json(found: floor.Floor) -> dict[str, Any]:
    below = found.below
    return {
        "floor_kib": found.floor_kib,
        "confirmed": found.confirmed,
        "runs": len(found.samples),
        "below": {"kib": below.kib, "signature": below.signature.short()} if below else None,
    }
