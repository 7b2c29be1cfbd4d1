"""``sdkboot status``: what is built, is it healthy, is it cooling down or building now."""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from typing import Any, Dict, Optional

from .. import consumer, cooldown, lock, ownership, state
from ..layout import Layout
from ..options import add_build, add_json, build_spec
from ..spec import Spec
from ..table import emit_json, human_bytes, pairs

HELP = "show what is built, whether it is healthy, any cooldown, and any build running now"
EXAMPLE = "sdkboot status --json"


def configure(parser: argparse.ArgumentParser) -> None:
    add_build(parser)
    add_json(parser)


def tree_size(path: str) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def _inside(path: str, directory: str) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(directory) + os.sep)


def _age(built_at: float, now: float) -> Optional[float]:
    try:
        age = round(now - built_at, 1)
    except (OverflowError, TypeError, ValueError):
        return None
    return age if math.isfinite(age) else None


def _built(record: Optional[state.InstallState], layout: Layout, now: float) -> Dict[str, Any]:
    if record is None:
        return {"built": False}
    # Only sdkboot's own build dirs are measured: a state naming /usr must not walk the disk.
    size = tree_size(record.env) if _inside(record.env, layout.builds) else None
    return {
        "built": True, "strategy": record.strategy, "env": record.env, "site": record.site,
        "python": record.python_version, "requirements": record.fingerprint.get("requirements"),
        "built_at": record.built_at, "age_seconds": _age(record.built_at, now), "size_bytes": size,
    }


def _cooldown(spec: Spec, layout: Layout, fp: state.Fingerprint, now: float,
              boot: Optional[cooldown.BootTime]) -> Dict[str, Any]:
    record = cooldown.read(layout) or {}
    left = cooldown.remaining(layout, now, spec.cooldown_seconds, fp, boot)
    return {"active": left > 0, "remaining_seconds": round(left), "rc": record.get("rc"), "phase": record.get("phase")}


def collect(spec: Spec, now: float, boot: Optional[cooldown.BootTime] = None) -> Dict[str, Any]:
    """What status shows at wall time ``now`` (and boot time ``boot``, which measures a cooldown)."""
    layout = Layout(spec.root)
    record, reason = consumer.check(spec, layout)  # in process, an env for another X.Y is not healthy
    builder = consumer.builder_of(record) if record is not None and consumer.discovers(spec) else ""
    fp = state.fingerprint(dataclasses.replace(spec, python=builder) if builder else spec)
    reason = ownership.dir_problem(spec.root) or reason  # what ensure and activate refuse
    holder = lock.holder(layout.lock_file)
    return {
        "state_dir": spec.root, **_built(record, layout, now), "healthy": reason is None, "reason": reason,
        "cooldown": _cooldown(spec, layout, fp, now, boot),
        "building": {"running": holder is not None, "pid": holder},
    }


def _lines(info: Dict[str, Any]) -> str:
    items = [("state dir", info["state_dir"])]
    if info["built"]:
        size, age = info["size_bytes"], info["age_seconds"]
        items += [("strategy", info["strategy"]), ("env", info["env"]),
                  ("size", human_bytes(size) if size is not None else "not measured (outside the state dir)"),
                  ("python", info["python"]), ("requirements", " ".join(map(str, info["requirements"] or []))),
                  ("age", f"{age / 3600:.1f} h" if age is not None else "unknown (bad build time)")]
    items.append(("healthy", "yes" if info["healthy"] else f"no ({info['reason']})"))
    cool = info["cooldown"]
    items.append(("cooldown", f"{cool['remaining_seconds']} s left (rc {cool['rc']})" if cool["active"] else "none"))
    busy = info["building"]
    items.append(("building now", f"yes (pid {busy['pid']})" if busy["running"] else "no"))
    return pairs(items)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when healthy, 1 when not (so scripts can branch on it)."""
    info = collect(build_spec(args, must_write=False), time.time(), cooldown.boot_time())
    if args.json:
        emit_json(info)
    else:
        print(_lines(info))
    return 0 if info["healthy"] else 1
