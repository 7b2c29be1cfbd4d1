"""``sdkboot doctor``: diagnose the machine before anything is built."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from .. import consumer, floors, memlimit
from ..codes import Outcome
from ..ensure import noop
from ..layout import Layout
from ..options import add_build, add_json, build_spec
from ..result import Result
from ..safefs import can_write
from ..session import Session
from ..spec import Spec
from ..table import emit_json, human_bytes, pairs
from .pythons import summary

HELP = "diagnose this machine: interpreter, memory limits, disk, proxies, and a verdict per strategy"
EXAMPLE = "sdkboot doctor --python /usr/bin/python3"

NEEDED_DISK = 600 * 1024 * 1024
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "PIP_INDEX_URL", "PIP_PROXY")
# user:password@ up to the LAST @ of the authority (passwords may hold @), with or without a scheme.
_CREDENTIALS = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/\s]*@")
OK_OUTCOMES = {o.name for o in (Outcome.NOOP_SYSTEM, Outcome.NOOP_VENV, Outcome.NOOP_TARGET)}


def configure(parser: argparse.ArgumentParser) -> None:
    add_build(parser)
    add_json(parser)


def expected(spec: Spec, session: Session, cache: str) -> tuple[Result | None, str | None]:
    """What ``ensure`` would do, decided the way it decides: ``(result, None)`` when it would stop
    (a no-op, or HOOK_PY_INCOMPATIBLE) or ``(None, python)`` with the interpreter it would build with."""
    if not spec.for_run and sys.version_info[:2] < tuple(spec.min_python):
        return consumer.too_old(spec, consumer.discover(spec, session, cache)), None
    settled = noop(spec)
    if settled is not None:
        return settled, None
    plan = consumer.builders(spec, session, cache)
    return (plan, None) if isinstance(plan, Result) else (None, plan[0].python)


def interpreter(python: str, cache: str) -> dict[str, Any]:
    """Facts from the build interpreter itself (it may not be this one), by discovery's probe."""
    from ..discovery import probe

    found, _ = probe(python, cache_file=cache)
    if found.info is None:
        return {"executable": python, "error": found.error or "not probed"}
    return {**found.info.to_json(), "executable": python}


@contextlib.contextmanager
def _probe_cache(spec: Spec) -> Iterator[str]:
    """The state dir's probe cache when it exists; else a throwaway one (doctor creates nothing)."""
    layout = Layout(spec.root)
    if os.path.isdir(layout.root):
        yield layout.pythons_file
        return
    with tempfile.TemporaryDirectory(prefix="sdkboot-doctor-") as scratch:
        yield os.path.join(scratch, os.path.basename(layout.pythons_file))


def _existing(path: str) -> str:
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def disk(spec: Spec) -> dict[str, Any]:
    where = _existing(spec.root)
    return {
        "state_dir": spec.root,
        "checked": where,
        "free_bytes": shutil.disk_usage(where).free,
        "writable": can_write(where),
    }


def proxies() -> dict[str, str]:
    found = {}
    for name in PROXY_VARS:
        value = os.environ.get(name) or os.environ.get(name.lower())
        if value:
            found[name] = _CREDENTIALS.sub(r"\1***@", value)
    return found


def _limit_problems(floor: floors.Floor | None, limits: list[memlimit.Limit]) -> list[str]:
    if floor is None:
        return []  # never measured for this requirement set: no evidence either way
    problems = []
    for limit in limits:
        mib = floor.rlimit_as_mib if limit.source == "RLIMIT_AS" else floor.cgroup_mib
        if mib is not None and limit.limit < mib * 1024 * 1024:
            problems.append(f"{limit.source} is {human_bytes(limit.limit)}, below the measured {mib:g} MiB floor")
    return problems


def verdict(
    strategy: str,
    interp: dict[str, Any],
    limits: list[memlimit.Limit],
    space: dict[str, Any],
    floor: floors.Floor | None = None,
) -> list[str]:
    """Why ``strategy`` is likely to fail here; empty when it is likely to work."""
    from ..strategies.all_strategies import STRATEGIES

    needs = STRATEGIES[strategy].modules  # its floors come from sdkboot.floors
    problems = [f"the interpreter has no {module} module" for module in needs if not interp.get(module)]
    problems += _limit_problems(floor, limits)
    if not space["writable"]:
        problems.append(f"{space['checked']} is not writable")
    if space["free_bytes"] < NEEDED_DISK:
        problems.append(f"only {human_bytes(space['free_bytes'])} free (the SDK needs about 600 MiB)")
    return problems


def _ensure_would(settled: Result | None, python: str | None) -> dict[str, Any]:
    if settled is None:
        return {"outcome": None, "build_with": python, "message": f"build with {python}"}
    return {"outcome": settled.outcome.name, "build_with": None, "message": settled.message}


def collect(spec: Spec) -> dict[str, Any]:
    from ..discovery import discover

    with _probe_cache(spec) as cache:
        settled, python = expected(spec, Session(spec), cache)
        interp = interpreter(python or spec.python, cache)
        found = summary(discover(cache_file=cache), spec.min_python)
    limits, space = memlimit.all_limits(), disk(spec)
    measured = floors.for_requirements(spec.requirements)  # the file the preflight reads too
    # ensure would stop before any strategy runs: say so, the reason is under "ensure would".
    stop = [f"ensure stops before building ({settled.outcome.name})"] if settled and not settled.ok else []
    return {
        "interpreter": interp,
        "ensure_would": _ensure_would(settled, python),
        "memory_limits": [{"source": x.source, "bytes": x.limit} for x in limits],
        "disk": space,
        "proxies": proxies(),
        "verdicts": {s: stop + verdict(s, interp, limits, space, measured.get(s)) for s in _labels()},
        "pythons": found,
    }


def _labels() -> list[str]:
    from ..strategies.all_strategies import STRATEGIES

    return list(STRATEGIES)


def _verdict_line(problems: list[str]) -> str:
    return "likely to work" if not problems else "unlikely: " + "; ".join(problems)


def _lines(info: dict[str, Any]) -> str:
    interp, space = info["interpreter"], info["disk"]
    limits = ", ".join(f"{x['source']} = {human_bytes(x['bytes'])}" for x in info["memory_limits"]) or "none"
    name = f"{interp.get('implementation', '?')} {interp.get('version', '?')}"
    found, would = info["pythons"], info["ensure_would"]
    chosen = f"`sdkboot run` would build with {found['chosen']}" if found["chosen"] else found["problem"]
    items = [
        ("interpreter", f"{interp.get('executable')} ({name})" + (f": {interp['error']}" if "error" in interp else "")),
        ("modules", ", ".join(f"{m} {'yes' if interp.get(m) else 'NO'}" for m in ("venv", "ensurepip", "pip"))),
        ("memory limits", limits),
        (
            "state dir",
            f"{space['state_dir']} ({'writable' if space['writable'] else 'NOT writable'},"
            f" {human_bytes(space['free_bytes'])} free)",
        ),
        ("proxies", ", ".join(f"{k}={v}" for k, v in info["proxies"].items()) or "none"),
        ("pythons", f"{len(found['candidates'])} found (`sdkboot pythons` lists them); {chosen}"),
        ("ensure would", (f"{would['outcome'].lower()}: " if would["outcome"] else "") + would["message"]),
    ]
    items += [(f"strategy {name}", _verdict_line(problems)) for name, problems in info["verdicts"].items()]
    return pairs(items)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when ensure would succeed (a no-op, or a strategy likely to work), 1 otherwise."""
    info = collect(build_spec(args, must_write=False))
    if args.json:
        emit_json(info)
    else:
        print(_lines(info))
    noop = info["ensure_would"]["outcome"] in OK_OUTCOMES
    return 0 if noop or any(not problems for problems in info["verdicts"].values()) else 1
