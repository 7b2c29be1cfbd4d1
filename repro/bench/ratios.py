"""The ratio rows: each goal of the lean build as a number from one run, and whether it is met.

A ratio is only ever taken between numbers of the same run: on a shared machine an absolute
wall time says little, its ratio to a baseline measured beside it says a lot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

Doc = dict[str, Any]
Getter = Callable[[Doc, str], "float | None"]


def cgroup_floor(doc: Doc, way: str) -> float | None:
    return _get(doc, way, "cgroup_floor", "floor_kib")


def as_floor(doc: Doc, way: str) -> float | None:
    return _get(doc, way, "as_floor", "floor_kib")


def wall(doc: Doc, way: str) -> float | None:
    return _get(doc, way, "wall_median_s")


def cpu(doc: Doc, way: str) -> float | None:
    return _get(doc, way, "cpu_median_s")


def _get(doc: Doc, way: str, *keys: str) -> float | None:
    value: Any = doc.get("ways", {}).get(way)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Goal:
    what: str  # e.g. "cgroup floor"
    of: Getter
    way: str
    baseline: str
    most: float | None  # the goal: the ratio must not exceed this (None: reported only)


LEAN = "sdkboot-lean"
GOALS = (
    Goal("cgroup floor", cgroup_floor, LEAN, "import", 1.1),
    Goal("cgroup floor", cgroup_floor, LEAN, "naive", 0.65),
    Goal("cgroup floor", cgroup_floor, LEAN, "uv", 1.0),
    Goal("cgroup floor", cgroup_floor, LEAN, "pip-target", 1.0),
    Goal("RLIMIT_AS floor", as_floor, LEAN, "import", 1.0),
    Goal("RLIMIT_AS floor", as_floor, LEAN, "naive", None),
    Goal("cold wall", wall, LEAN, "naive", 0.5),
    Goal("cold wall", wall, LEAN, "uv", 1.2),
    # The work behind the wall time: what the machine's other load cannot move.
    Goal("cold CPU", cpu, LEAN, "naive", None),
    Goal("cold CPU", cpu, LEAN, "uv", None),
    Goal("cgroup floor", cgroup_floor, "sdkboot-venv", "naive", None),
)


def rows(doc: Doc) -> list[dict[str, Any]]:
    found = []
    for goal in GOALS:
        mine, theirs = goal.of(doc, goal.way), goal.of(doc, goal.baseline)
        if mine is None or not theirs:
            continue
        value = round(mine / theirs, 2)
        met = None if goal.most is None else value <= goal.most
        found.append(
            {
                "what": goal.what,
                "way": goal.way,
                "baseline": goal.baseline,
                "ratio": value,
                "goal": goal.most,
                "met": met,
            }
        )
    found += _session_rows(doc)
    return found


def _session_rows(doc: Doc) -> list[dict[str, Any]]:
    session = doc.get("session") or {}
    noop, probe = session.get("ensure_noop"), session.get("subprocess_import_probe")
    if not noop or not probe or not probe.get("median_ms"):
        return []
    value = round(noop["median_ms"] / probe["median_ms"], 5)
    return [
        {
            "what": "no-op median",
            "way": "ensure()",
            "baseline": "subprocess import probe",
            "ratio": value,
            "goal": None,
            "met": None,
        }
    ]


def line(row: dict[str, Any]) -> str:
    goal = "" if row["goal"] is None else f"  (goal <= {row['goal']}: {'met' if row['met'] else 'MISSED'})"
    return f"{row['way']} {row['what']} / {row['baseline']} = {row['ratio']}{goal}"
