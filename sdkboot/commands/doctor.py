"""``sdkboot doctor``: diagnose the machine before anything is built."""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from typing import Any, Dict, List

from .. import memlimit, runner
from ..fsutil import can_write
from ..options import add_build, add_json, build_spec
from ..session import succeeded
from ..spec import Spec
from ..table import emit_json, human_bytes, pairs

HELP = "diagnose this machine: interpreter, memory limits, disk, proxies, and a verdict per strategy"
EXAMPLE = "sdkboot doctor --python /usr/bin/python3"

# Measured floors for the claude-agent-sdk closure (cgroup / RLIMIT_AS), and its installed size.
FLOORS_MIB = {"venv": (85, 81), "target": (57, 81)}
NEEDED_DISK = 600 * 1024 * 1024
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "PIP_INDEX_URL", "PIP_PROXY")
# user:password@ up to the LAST @ of the authority (passwords may hold @), with or without a scheme.
_CREDENTIALS = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/\s]*@")
_PROBE = (
    "import importlib.util as u, json, platform, sys\n"
    "has = lambda m: u.find_spec(m) is not None\n"
    "print(json.dumps({'executable': sys.executable, 'version': platform.python_version(),"
    " 'implementation': platform.python_implementation(), 'build': ' '.join(platform.python_build()),"
    " 'venv': has('venv'), 'ensurepip': has('ensurepip'), 'pip': has('pip')}))\n"
)


def configure(parser: argparse.ArgumentParser) -> None:
    add_build(parser)
    add_json(parser)


def interpreter(spec: Spec) -> Dict[str, Any]:
    """Facts from the build interpreter itself (it may not be this one)."""
    done = runner.run([spec.python, "-c", _PROBE], timeout=spec.step_timeout)
    if not succeeded(done):
        return {"executable": spec.python, "error": (done.err or done.out).decode(errors="replace").strip()[-200:]
                or f"exit {done.rc}"}
    return dict(json.loads(done.out.decode()))


def _existing(path: str) -> str:
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def disk(spec: Spec) -> Dict[str, Any]:
    where = _existing(spec.root)
    return {"state_dir": spec.root, "checked": where, "free_bytes": shutil.disk_usage(where).free,
            "writable": can_write(where)}


def proxies() -> Dict[str, str]:
    found = {}
    for name in PROXY_VARS:
        value = os.environ.get(name) or os.environ.get(name.lower())
        if value:
            found[name] = _CREDENTIALS.sub(r"\1***@", value)
    return found


def _limit_problems(strategy: str, limits: List[memlimit.Limit]) -> List[str]:
    cgroup_floor, as_floor = FLOORS_MIB[strategy]
    problems = []
    for limit in limits:
        floor = as_floor if limit.source == "RLIMIT_AS" else cgroup_floor
        if limit.limit < floor * 1024 * 1024:
            problems.append(f"{limit.source} is {human_bytes(limit.limit)}, below the measured {floor} MiB floor")
    return problems


def verdict(strategy: str, interp: Dict[str, Any], limits: List[memlimit.Limit], space: Dict[str, Any]) -> List[str]:
    """Why ``strategy`` is likely to fail here; empty when it is likely to work."""
    needs = ("venv", "ensurepip") if strategy == "venv" else ("pip",)
    problems = [f"the interpreter has no {module} module" for module in needs if not interp.get(module)]
    problems += _limit_problems(strategy, limits)
    if not space["writable"]:
        problems.append(f"{space['checked']} is not writable")
    if space["free_bytes"] < NEEDED_DISK:
        problems.append(f"only {human_bytes(space['free_bytes'])} free (the SDK needs about 600 MiB)")
    return problems


def collect(spec: Spec) -> Dict[str, Any]:
    interp, limits, space = interpreter(spec), memlimit.all_limits(), disk(spec)
    return {
        "interpreter": interp,
        "memory_limits": [{"source": x.source, "bytes": x.limit} for x in limits],
        "disk": space, "proxies": proxies(),
        "verdicts": {s: verdict(s, interp, limits, space) for s in FLOORS_MIB},
    }


def _verdict_line(problems: List[str]) -> str:
    return "likely to work" if not problems else "unlikely: " + "; ".join(problems)


def _lines(info: Dict[str, Any]) -> str:
    interp, space = info["interpreter"], info["disk"]
    limits = ", ".join(f"{x['source']} = {human_bytes(x['bytes'])}" for x in info["memory_limits"]) or "none"
    name = f"{interp.get('implementation', '?')} {interp.get('version', '?')}"
    items = [("interpreter", f"{interp.get('executable')} ({name})"),
             ("build", interp.get("build", interp.get("error", "?"))),
             ("modules", ", ".join(f"{m} {'yes' if interp.get(m) else 'NO'}" for m in ("venv", "ensurepip", "pip"))),
             ("memory limits", limits),
             ("state dir", f"{space['state_dir']} ({'writable' if space['writable'] else 'NOT writable'},"
                           f" {human_bytes(space['free_bytes'])} free)"),
             ("proxies", ", ".join(f"{k}={v}" for k, v in info["proxies"].items()) or "none")]
    items += [(f"strategy {name}", _verdict_line(problems)) for name, problems in info["verdicts"].items()]
    return pairs(items)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when at least one strategy is likely to work, 1 otherwise."""
    info = collect(build_spec(args, must_write=False))
    if args.json:
        emit_json(info)
    else:
        print(_lines(info))
    return 0 if any(not problems for problems in info["verdicts"].values()) else 1


