"""``sdkboot pythons``: every interpreter found, what it can do, and why it was or was not chosen.

sdkboot's ``py -0p`` or ``uv python list``: the same discovery and choice that ``ensure
--for-run``, ``sdkboot run`` and ``doctor`` use, so what it says is what they do.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..consumer import cache_file
from ..options import add_json, add_location, location_spec, min_python_option
from ..table import emit_json, table

if TYPE_CHECKING:  # discovery is imported when this command runs, not whenever the CLI starts
    from ..discovery import Discovery, Verdict

HELP = "list the Pythons found here, what each can do, and which one `sdkboot run` would build with"
EXAMPLE = "sdkboot pythons --min-python 3.10 --json"


def configure(parser: argparse.ArgumentParser) -> None:
    add_location(parser)
    min_python_option(parser)
    add_json(parser)


def _row(verdict: Verdict) -> dict[str, Any]:
    found = verdict.interpreter
    info = found.info
    return {
        "path": found.path,
        "real_path": found.candidate.real,
        "aliases": list(found.candidate.aliases),
        "found_by": found.candidate.source,
        "cached": found.cached,
        "error": found.error,
        **(info.to_json() if info else {"version": None}),
        "can_build": info.strategy.label if info and info.strategy.value else None,
        "chosen": verdict.chosen,
        "reason": verdict.reason,
    }


def summary(found: Discovery, min_python: Any) -> dict[str, Any]:
    """The JSON shape, shared with ``doctor``."""
    from ..discovery import verdicts

    rows = [_row(v) for v in verdicts(found.interpreters, min_python)]
    chosen = next((r for r in rows if r["chosen"]), None)
    return {
        "min_python": "%d.%d" % tuple(min_python),
        "chosen": chosen["path"] if chosen else None,
        "problem": None if chosen else _problem(rows, min_python),
        "spawned": found.spawned,
        "seconds": round(found.seconds, 3),
        "candidates": rows,
    }


def _problem(rows: list[dict[str, Any]], min_python: Any) -> str:
    from ..messages import nothing_can_build

    recent = [r for r in rows if r["version"] and tuple(map(int, r["version"].split(".")[:2])) >= tuple(min_python)]
    best: dict[str, Any] | None = recent[0] if recent else None
    need = "%d.%d" % tuple(min_python)
    if best is None:
        return nothing_can_build(need, None, None)
    xy = ".".join(best["version"].split(".")[:2])
    return nothing_can_build(need, f"Python {best['version']} at {best['path']}", xy)


def render(data: dict[str, Any]) -> str:
    rows = [
        ("*" if r["chosen"] else "", r["path"], r["version"] or "-", r["can_build"] or "-", r["found_by"], r["reason"])
        for r in data["candidates"]
    ]
    cached = sum(1 for r in data["candidates"] if r["cached"])
    head = (
        f"{len(rows)} candidates ({cached} answered from the cache, {data['spawned']} processes started)"
        f" in {data['seconds'] * 1000:.0f} ms; minimum Python {data['min_python']}"
    )
    tail = f"chosen: {data['chosen']}" if data["chosen"] else f"nothing chosen: {data['problem']}"
    return "\n".join([head, table(("", "python", "version", "builds", "found by", "why"), rows), tail])


def run(args: argparse.Namespace) -> int:
    """Exit 0 when an interpreter can build, 1 when none can."""
    from ..discovery import discover

    spec = location_spec(args)
    data = summary(discover(cache_file=cache_file(spec)), args.min_python)
    if args.json:
        emit_json(data)
    else:
        print(render(data))
    return 0 if data["chosen"] else 1
