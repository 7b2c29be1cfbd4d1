"""``sdkboot report``: aggregate the event log (current plus rotated) for people or machines."""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import events
from ..layout import Layout
from ..options import add_json, add_location, location_spec
from ..table import emit_json, table

HELP = "summarize the event log: outcomes, err kinds, signal-kill rcs, p50/p95 durations"
EXAMPLE = "sdkboot report --json"


def configure(parser: argparse.ArgumentParser) -> None:
    add_location(parser)
    add_json(parser)


@dataclass
class Summary:
    events: int = 0
    corrupt: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    err_kinds: Counter[str] = field(default_factory=Counter)
    signal_rcs: Counter[str] = field(default_factory=Counter)
    durations: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, record: dict[str, Any]) -> None:
        self.events += 1
        outcome = str(record.get("outcome"))
        self.outcomes[outcome] += 1
        err = record.get("err_kind")
        if err:
            # other:<tail> strings are unbounded; count them as one kind
            self.err_kinds["other" if str(err).startswith("other:") else str(err)] += 1
        if str(err).startswith("signal_killed") and _is_int(record.get("rc")):
            self.signal_rcs[str(record["rc"])] += 1
        duration: Any = record.get("duration_ms")
        if _finite_number(duration):
            self.durations[outcome].append(int(duration))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite_number(value: Any) -> bool:
    """A usable duration: a number, not a bool, and finite (json reads NaN and Infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _reject_constant(name: str) -> Any:
    # NaN, Infinity and -Infinity are not JSON; sdkboot never writes them, so such a line is corrupt.
    raise ValueError(f"not JSON: {name}")


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile (no interpolation: every value reported was really seen)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(lines: Iterable[str]) -> Summary:
    summary = Summary()
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            record = None
        if isinstance(record, dict):
            summary.add(record)
        else:
            summary.corrupt += 1
    return summary


def to_json(summary: Summary) -> dict[str, Any]:
    timing = {
        o: {"count": len(v), "p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95)}
        for o, v in sorted(summary.durations.items())
    }
    return {
        "events": summary.events,
        "corrupt_lines": summary.corrupt,
        "outcomes": dict(summary.outcomes),
        "err_kinds": dict(summary.err_kinds),
        "signal_kill_rcs": dict(summary.signal_rcs),
        "durations": timing,
    }


def render(data: dict[str, Any]) -> str:
    rows = [
        (o, n, data["durations"].get(o, {}).get("p50_ms", "-"), data["durations"].get(o, {}).get("p95_ms", "-"))
        for o, n in sorted(data["outcomes"].items(), key=lambda kv: -kv[1])
    ]
    parts = [
        f"{data['events']} events, {data['corrupt_lines']} corrupt lines skipped",
        table(("outcome", "count", "p50 ms", "p95 ms"), rows),
    ]
    if data["err_kinds"]:
        parts.append(table(("err kind", "count"), sorted(data["err_kinds"].items(), key=lambda kv: -kv[1])))
    if data["signal_kill_rcs"]:
        parts.append(table(("signal-kill rc", "count"), sorted(data["signal_kill_rcs"].items())))
    return "\n\n".join(parts)


def run(args: argparse.Namespace) -> int:
    data = to_json(summarize(events.read_lines(Layout(location_spec(args).root).events_file)))
    if args.json:
        emit_json(data)
    else:
        print(render(data))
    return 0
