"""The flake check: run every row N times and count, per row, which signature came how often.

Shared by ``containers --repeat`` and ``validate --repeat``. A row is a container step or a
validate check; its signature is the observed value of every key it checks (see
repro.verdict). The rule it enforces: a row asserted exactly must show one signature in
every run; a row that shows more than one must declare the set (and each signature must fall
in it). Nothing is retried: each run counts.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from repro import report
from repro.verdict import Expect, Verdict, describe_expect


@dataclass
class Tally:
    """One row's runs: how often each signature came, and the verdict it got."""

    group: str  # the scenario (containers) or "" (validate)
    row: str
    mode: str
    expect: Expect
    runs: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    labels: dict[str, str] = field(default_factory=dict)  # signature -> verdict label
    # The slowest run per signature: a row that nears its time limit under load is a flake too.
    slowest: dict[str, float] = field(default_factory=dict)
    # Runs per signature during which something outside the row ran that can change it (for
    # containers: another container, which moves the interpreter's device number).
    overlapped: Counter[str] = field(default_factory=Counter)

    def add(self, verdict: Verdict, seconds: float = 0.0, overlapped: bool = False) -> None:
        self.runs += 1
        self.overlapped[verdict.signature] += overlapped
        self.counts[verdict.signature] += 1
        self.labels[verdict.signature] = verdict.label
        self.slowest[verdict.signature] = max(seconds, self.slowest.get(verdict.signature, 0.0))

    @property
    def mismatches(self) -> int:
        return sum(n for sig, n in self.counts.items() if self.labels[sig] == "MISMATCH")

    def problem(self) -> str | None:
        """Why this row breaks the rule, or None."""
        if self.mismatches:
            return f"{self.mismatches}/{self.runs} runs outside what the row expects"
        if self.expect.exact and len(self.counts) > 1:
            return f"asserted exactly but {len(self.counts)} signatures came: declare the set"
        return None


@dataclass
class Tallies:
    rows: dict[tuple[str, str], Tally] = field(default_factory=dict)
    repeat: int = 0
    load: list[str] = field(default_factory=list)  # load averages, sampled during the run
    rounds: int = 0  # rounds finished (see run_rounds)
    stopped: bool = False  # interrupted: fewer than ``repeat`` rounds finished
    seconds: float = 0.0  # wall time of all rounds
    overlap_tracked: bool = False  # the rows say how often another run overlapped them

    def add(
        self, group: str, row: str, mode: str, verdict: Verdict, seconds: float = 0.0, overlapped: bool | None = None
    ) -> None:
        key = (group, row)
        if key not in self.rows:
            self.rows[key] = Tally(group, row, mode, verdict.expect)
        if overlapped is not None:
            self.overlap_tracked = True
        self.rows[key].add(verdict, seconds, bool(overlapped))

    def problems(self) -> list[str]:
        found = []
        for tally in self.rows.values():
            problem = tally.problem()
            if problem:
                found.append(f"{'/'.join(filter(None, (tally.group, tally.row)))}: {problem}")
        return found

    @property
    def exit_code(self) -> int:
        return 1 if self.problems() else 130 if self.stopped else 0


def run_rounds(tallies: Tallies, one_round: Callable[[int], None]) -> Tallies:
    """``one_round(n)`` for n = 1..repeat, the load sampled before each. Ctrl-C or SIGTERM ends
    the run early and keeps what was counted: a long flake check still reports its rounds."""
    started = time.monotonic()
    try:
        for round_ in range(1, tallies.repeat + 1):
            tallies.load.append(load_average())
            one_round(round_)
            tallies.rounds = round_
    except KeyboardInterrupt:
        tallies.stopped = True
    finally:
        tallies.seconds = time.monotonic() - started
    return tallies


def table(tallies: Tallies) -> str:
    """A Markdown table, one line per (row, signature)."""
    grouped = any(t.group for t in tallies.rows.values())
    overlap = tallies.overlap_tracked
    headers = [
        *(["scenario"] if grouped else []),
        "step" if grouped else "check",
        "mode",
        "form",
        "signature",
        "runs",
        *(["other containers up"] if overlap else []),
        "slowest",
        "verdict",
    ]
    lines = []
    for tally in tallies.rows.values():
        for index, (sig, count) in enumerate(tally.counts.most_common()):
            first = index == 0
            head = [tally.group] if grouped else []
            cells = [*head, tally.row, tally.mode, tally.expect.form] if first else [""] * (len(head) + 3)
            up = [f"{tally.overlapped[sig]}/{count}"] if overlap else []
            lines.append([*cells, sig, f"{count}/{tally.runs}", *up, f"{tally.slowest[sig]:.1f} s", tally.labels[sig]])
    return report.markdown_table(headers, lines)


def summary(tallies: Tallies) -> str:
    rows = list(tallies.rows.values())
    exact = sum(t.expect.exact for t in rows)
    runs = f"{tallies.rounds} of {tallies.repeat} rounds (interrupted)" if tallies.stopped else f"{tallies.repeat} runs"
    head = (
        f"{len(rows)} rows × {runs}: {exact} exact, {len(rows) - exact} declared sets, {tallies.seconds / 60:.1f} min"
    )
    if tallies.load:
        head += f"; load average (1 min) during the run: {', '.join(tallies.load)}"
    problems = tallies.problems()
    return "\n".join([head, *(f"FLAKY {p}" for p in problems)] if problems else [head, "no flake"])


def to_json(tallies: Tallies) -> dict[str, Any]:
    return {
        "repeat": tallies.repeat,
        "rounds": tallies.rounds,
        "seconds": round(tallies.seconds, 1),
        "load_average_1min": tallies.load,
        "problems": tallies.problems(),
        "rows": [
            {
                "group": t.group,
                "row": t.row,
                "mode": t.mode,
                "form": t.expect.form,
                "why": t.expect.why,
                "expected": describe_expect(t.expect),
                "runs": t.runs,
                "signatures": [
                    {
                        "signature": sig,
                        "count": n,
                        "verdict": t.labels[sig],
                        "slowest_s": round(t.slowest[sig], 2),
                        "overlapped": t.overlapped[sig],
                    }
                    for sig, n in t.counts.most_common()
                ],
            }
            for t in tallies.rows.values()
        ],
    }


def load_average() -> str:
    try:
        with open("/proc/loadavg") as handle:
            return handle.read().split()[0]
    except OSError:
        return "?"


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repeat",
        type=_count,
        default=None,
        metavar="N",
        help="the flake check: run everything N times and print, per row, how "
        "often each signature came (exit 1 if an exact row varied or any "
        "run fell outside its row's expectation)",
    )


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of runs, 1 or more: {text!r}")
    return int(text)


def progress_text(command: str, run: int, repeat: int, where: Sequence[str], tallies: Tallies) -> str:
    flaky = len(tallies.problems())
    tail = f" · {flaky} flaky so far" if flaky else ""
    return f"{command} --repeat {repeat}: run {run}/{repeat} · {' · '.join(where)}{tail}"
