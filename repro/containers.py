"""``python -m repro containers``: sdkboot in fresh Debian 12 containers, offline, under limits.

The scenarios are data (repro.container_scenarios), driven by repro.container_engine and
judged and reported by repro.container_report; this module is the command line.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from repro import dockerutil, repeat, report
from repro.container_engine import Context, context, run_scenario
from repro.container_report import ScenarioRun, run_json, summary, table_rows
from repro.container_scenarios import SCENARIOS, select
from repro.container_steps import Scenario, Step


def cmd_containers(args: argparse.Namespace) -> int:
    scenarios = select(args.scenarios)
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name:20} {scenario.image:16} {scenario.summary}")
        return 0
    ctx = context(scenarios, args.wheelhouse)
    try:
        if args.repeat is not None:
            return repeat_scenarios(ctx, scenarios, args.repeat, args.json)
        runs = []
        for scenario in scenarios:
            runs.append(run_scenario(ctx, scenario))
            if not args.json:
                print(f"{scenario.name}: {'ok' if runs[-1].passed else 'MISMATCH'}", flush=True)
    finally:
        dockerutil.sweep(ctx.client, dockerutil.run_id())
    print_report(runs, args.json)
    return 0 if all(run.passed for run in runs) else 1


def tally_scenarios(
    ctx: Context, scenarios: Sequence[Scenario], times: int, progress: report.Progress
) -> repeat.Tallies:
    """Every scenario ``times`` times over, counted per step; the load is sampled per round."""
    tallies = repeat.Tallies(repeat=times)

    def one_round(round_: int) -> None:
        for scenario in scenarios:

            def show(step: Step, name: str = scenario.name) -> None:
                progress.update(repeat.progress_text("containers", round_, times, (name, step.label), tallies))

            run = run_scenario(ctx, scenario, show)
            before = 0  # a step depends on the one before it: its overlap counts too
            for step in run.steps:
                tallies.add(
                    scenario.name,
                    step.step.label,
                    step.step.mode,
                    step.verdict,
                    step.seconds,
                    overlapped=bool(step.result.others or before),
                )
                before = step.result.others

    return repeat.run_rounds(tallies, one_round)


def repeat_scenarios(ctx: Context, scenarios: Sequence[Scenario], times: int, as_json: bool) -> int:
    progress = report.Progress()
    try:
        tallies = tally_scenarios(ctx, scenarios, times, progress)
    finally:
        progress.done()
    if as_json:
        print(json.dumps(repeat.to_json(tallies), indent=2))
    else:
        print(repeat.table(tallies))
        print(repeat.summary(tallies))
    return tallies.exit_code


def print_report(runs: Sequence[ScenarioRun], as_json: bool) -> None:
    if as_json:
        print(json.dumps([run_json(run) for run in runs], indent=2))
        return
    print(report.aligned_table(table_rows(runs)))
    print(summary(runs))


def register(subparsers: Any) -> None:
    """``containers [SCENARIO...]``: run, print expected/observed/verdict, exit 1 on mismatch."""
    names = ", ".join(scenario.name for scenario in SCENARIOS)
    parser = subparsers.add_parser(
        "containers",
        help="run the Docker scenarios (exit 1 on any mismatch)",
        description=f"Scenarios: {names}. Each step is exact or declares the set of outcomes "
        "the kernel may give; --repeat N counts which came.",
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="default: all")
    parser.add_argument("--json", action="store_true", help="machine-readable results")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--wheelhouse", default=None, help="default: repro's wheelhouse")
    repeat.add_argument(parser)
    parser.set_defaults(handler=cmd_containers)
