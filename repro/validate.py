"""The canonical repros, each checked end to end against the signature it must show.

A check observes a dict of facts and holds its expectation as data (repro.verdict): exact,
where the limit sits away from every measured band edge, or a declared set of outcomes the
kernel may give, with the one that came recorded. Nothing is retried.

Two modes. ``child`` (the default): sdkboot itself runs unlimited, its build interpreter is a
generated wrapper that puts only the build's steps under the limit, so sdkboot survives to
classify the kill. ``tree`` (``--tree``): the ``sdkboot hook`` process itself starts under the
limit (RLIMIT_AS set before exec; placed in the cgroup before exec), as a user's ``ulimit -v``
or session cgroup puts it, and each check also counts the descendants left alive.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repro import Unsupported, UsageError, options, repeat, report, scenarios
from repro.scenarios import CHILD, TREE
from repro.validate_checks import CHECKS, NEEDS, Check
from repro.validate_observe import Observed
from repro.verdict import Verdict, describe_expect, expect_json, judge, verdict_json


@dataclass(frozen=True)
class CheckRun:
    check: Check
    observed: Observed
    verdict: Verdict | None  # None: skipped
    skipped: str | None = None  # the missing capability
    seconds: float = 0.0

    @property
    def status(self) -> str:
        if self.verdict is None:
            return "SKIP"
        return "PASS" if self.verdict.passed else "FAIL"

    @property
    def label(self) -> str:
        """PASS, or PASS with the case that came when the check declares a set."""
        verdict = self.verdict
        if verdict is not None and verdict.case is not None and not verdict.expect.exact:
            return f"PASS ({verdict.case.name})"
        return self.status


def run_check(check: Check, ctx: scenarios.Context) -> CheckRun:
    started = time.monotonic()
    try:
        for need in check.needs:
            NEEDS[need](ctx)
        observed = check.observe(ctx)
    except Unsupported as exc:
        return CheckRun(check, {}, None, skipped=exc.reason)
    except scenarios.ScenarioError as exc:
        observed = {"error": str(exc)}
    return CheckRun(check, observed, judge(check.expect, observed), None, time.monotonic() - started)


def table(runs: list[CheckRun]) -> str:
    rows = [
        [
            r.check.name,
            r.check.mode,
            r.check.expect.form,
            describe_expect(r.check.expect),
            r.skipped or (r.verdict.signature if r.verdict else ""),
            r.label,
        ]
        for r in runs
    ]
    return report.markdown_table(["check", "mode", "form", "expected", "observed", "verdict"], rows)


def to_json(runs: list[CheckRun]) -> list[dict[str, Any]]:
    return [
        {
            "check": r.check.name,
            "summary": r.check.summary,
            "mode": r.check.mode,
            "expect": expect_json(r.check.expect),
            "observed": r.observed,
            "skipped": r.skipped,
            "verdict": r.status,
            "seconds": round(r.seconds, 2),
            **(verdict_json(r.verdict) if r.verdict else {}),
        }
        for r in runs
    ]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check each canonical repro end to end",
        description="Child-only checks by default (sdkboot unlimited, its build steps limited); "
        "--tree runs the whole-tree checks (the hook itself under the limit).",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[c.name for c in CHECKS],
        metavar="CHECK",
        help=f"run just these checks: {', '.join(c.name for c in CHECKS)}",
    )
    parser.add_argument(
        "--tree", action="store_true", help="the whole-tree checks: sdkboot hook itself starts under the limit"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    repeat.add_argument(parser)
    options.add_context_arguments(parser)
    parser.set_defaults(handler=_main)


def exit_code(runs: list[CheckRun]) -> int:
    """1 on any mismatch; 3 when something could not be checked here; else 0."""
    statuses = {r.status for r in runs}
    return 1 if "FAIL" in statuses else 3 if "SKIP" in statuses else 0


def chosen(only: list[str] | None, tree: bool) -> list[Check]:
    """The checks of one mode; --only may name checks of that mode only."""
    mode = TREE if tree else CHILD
    wrong = [c.name for c in CHECKS if only and c.name in only and c.mode != mode]
    if wrong:
        hint = "drop --tree" if tree else "add --tree"
        raise UsageError(f"{', '.join(wrong)}: not a {mode} check ({hint})")
    return [c for c in CHECKS if c.mode == mode and (not only or c.name in only)]


def _main(args: argparse.Namespace) -> int:
    checks = chosen(args.only, args.tree)
    progress = report.Progress()
    with tempfile.TemporaryDirectory(prefix="repro-validate-") as scratch:
        ctx = options.context(args, Path(scratch), needs_wheelhouse=False)
        try:
            if args.repeat is not None:
                tallies = _repeat(checks, ctx, args.repeat, progress)
            else:
                runs = []
                for check in checks:
                    progress.update(f"validate: {check.name}")
                    runs.append(run_check(check, ctx))
        finally:
            progress.done()
    if args.repeat is not None:
        print(
            json.dumps(repeat.to_json(tallies), indent=2)
            if args.json
            else f"{repeat.table(tallies)}\n{repeat.summary(tallies)}"
        )
        return tallies.exit_code
    print(json.dumps(to_json(runs), indent=2) if args.json else table(runs))
    return exit_code(runs)


def _repeat(checks: list[Check], ctx: scenarios.Context, times: int, progress: report.Progress) -> repeat.Tallies:
    tallies = repeat.Tallies(repeat=times)

    def one_round(round_: int) -> None:
        for check in checks:
            progress.update(repeat.progress_text("validate", round_, times, (check.name,), tallies))
            run = run_check(check, ctx)
            if run.verdict is None:  # a missing capability is not a signature
                raise Unsupported(f"{check.name}: {run.skipped}")
            tallies.add("", check.name, check.mode, run.verdict, run.seconds)

    return repeat.run_rounds(tallies, one_round)
