"""``sdkboot hook``: the Claude Code SessionStart async command-hook protocol.

stdout carries exactly two JSON lines: ``{"async": true, "asyncTimeout": N}`` first,
then ``{"metrics": {...}}`` (plus a one-time ``systemMessage``) when done. Nothing
else may reach stdout: the host parses each line as JSON. Both go through ``entry``,
which prints the first before this module loads and a last-resort second line if this
one cannot run (see entry.py). SIGTERM and SIGINT still get an answer, and exit 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from .. import interrupts
from ..ensure import ensure
from ..entry import announce, answer
from ..handoff import HandOff, exec_verifier
from ..layout import Layout
from ..notices import take
from ..options import add_build, build_spec
from ..result import Result
from ..spec import Spec
from .ensure import describe

HELP = "run ensure as a Claude Code SessionStart async hook: two JSON lines on stdout, nothing else"
EXAMPLE = "sdkboot hook --async-timeout 180000"
DEFAULT_ASYNC_MS = 180_000
# Leave the host time to read our answer before its own async timeout fires.
MARGIN_SECONDS = 10.0


def _milliseconds(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of milliseconds: {text!r}")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    add_build(parser)
    parser.add_argument(
        "--async-timeout",
        type=_milliseconds,
        default=DEFAULT_ASYNC_MS,
        metavar="MS",
        help=f"what to announce as asyncTimeout; the build is cut to fit (default {DEFAULT_ASYNC_MS})",
    )


def _debug(text: str) -> None:
    if os.environ.get("SDKBOOT_DEBUG"):
        print(text, file=sys.stderr)


def _ensure(spec: Spec, budget: float) -> Result:
    """ensure(), or the interrupted result it logged: SIGTERM still gets the host its answer.

    A lean build may end by raising HandOff instead: the caller execs the verifier.
    """
    interrupts.install()  # already done by the lean start (entry.py); here for direct callers
    try:
        return ensure(spec, budget=budget, handoff=True)
    except interrupts.Interrupted as stop:
        if isinstance(stop.result, Result):
            return stop.result
        raise
    finally:
        interrupts.ignore()  # from here on, only the answer is left to give


def reply(layout: Layout, result: Result) -> None:
    """The second and last stdout line: the metrics, plus a one-time notice."""
    _debug(describe(result))
    line: dict[str, Any] = {"metrics": result.metrics()}
    notice = take(layout, result)
    if notice:
        line["systemMessage"] = notice
    answer(json.dumps(line, sort_keys=True))


def run(args: argparse.Namespace) -> int:
    spec = build_spec(args)
    announce(args.async_timeout)
    budget = max(1.0, args.async_timeout / 1000 - MARGIN_SECONDS)
    started = time.monotonic()
    try:
        result = _ensure(spec, budget)
    except HandOff as handoff:  # the verifier, then a fresh sdkboot, print the metrics line
        exec_verifier(handoff, min(spec.step_timeout, budget - (time.monotonic() - started)))
    reply(Layout(spec.root), result)
    return 0
