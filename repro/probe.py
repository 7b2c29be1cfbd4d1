"""A probe: one run of a scenario at one limit, as a Sample (what sweeps and floors search)."""

from __future__ import annotations

import itertools
from typing import Callable

from repro import limits, report, scenarios
from repro.limits import format_size
from repro.signature import Sample

Probe = Callable[[int], Sample]


def probe_for(
    scenario: scenarios.Scenario,
    ctx: scenarios.Context,
    kind: limits.Kind,
    mode: str,
    progress: report.Progress,
) -> Probe:
    """A probe that runs the scenario once per limit and shows each run on the progress line."""
    runs = itertools.count(1)

    def probe(kib: int) -> Sample:
        progress.update(f"{scenario.name} · {kind.name} · {mode}: run {next(runs)} at {format_size(kib)}")
        run = scenarios.run_once(scenario, ctx, kind.make(kib), mode)
        said = scenarios.report(scenario, run)
        return Sample.of(kib, run, said.text if said else "", said.holds if said else None)

    return probe
