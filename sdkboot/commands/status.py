"""``sdkboot status``: what is built, is it healthy, is it cooling down or building now."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from typing import Any

from .. import consumer, cooldown, inuse, lock, ownership, state
from ..layout import Layout
from ..options import add_build, add_json, build_spec
from ..spec import Spec
from ..table import emit_json, human_bytes, pairs

HELP = "show what is built, whether it is healthy, any cooldown, and any build running now"
EXAMPLE = "sdkboot status --json"


def configure(parser: argparse.ArgumentParser) -> None:
    add_build(parser)
    parser.add_argument(
        "--deep", action="store_true", help="also run the sealed import probe in a child (slow: it imports the package)"
    )
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


def _age(built_at: float, now: float) -> float | None:
    try:
        age = round(now - built_at, 1)
    except (OverflowError, TypeError, ValueError):
        return None
    return age if math.isfinite(age) else None


def _built(record: state.InstallState | None, layout: Layout, now: float) -> dict[str, Any]:
    if record is None:
        return {"built": False}
    # Only sdkboot's own build dirs are measured: a state naming /usr must not walk the disk.
    size = tree_size(record.env) if _inside(record.env, layout.builds) else None
    return {
        "built": True,
        "strategy": record.strategy,
        "env": record.env,
        "site": record.site,
        "python": record.python_version,
        "requirements": record.fingerprint.get("requirements"),
        "built_at": record.built_at,
        "age_seconds": _age(record.built_at, now),
        "size_bytes": size,
    }


def _cooldown(
    spec: Spec, layout: Layout, fp: state.Fingerprint, now: float, boot: cooldown.BootTime | None
) -> dict[str, Any]:
    record = cooldown.read(layout) or {}
    left = cooldown.remaining(layout, now, spec.cooldown_seconds, fp, boot)
    return {"active": left > 0, "remaining_seconds": round(left), "rc": record.get("rc"), "phase": record.get("phase")}


def _summary(record: state.InstallState, mine: bool) -> dict[str, Any]:
    host = record.fingerprint.get("host")
    return {
        "env": record.env,
        "strategy": record.strategy,
        "python": record.python_version,
        "host": host.get("path") if isinstance(host, dict) else None,
        "requirements": record.fingerprint.get("requirements"),
        "built_at": record.built_at,
        "last_used": inuse.last_used(record.env),
        "this": mine,
    }


def probe_argv(record: state.InstallState, spec: Spec) -> list[str]:
    """The sealed verification import, the way the build ran it (``-I``; ``-S`` for a flat dir)."""
    from ..strategies.all_strategies import STRATEGIES
    from ..strategies.base import REPORT, venv_python
    from ..strategies.target import PRELUDE

    code = REPORT.format(name=spec.import_name)
    if not STRATEGIES[record.strategy].flat:
        return [venv_python(record.env), "-I", "-c", code]
    builder = (record.fingerprint.get("python") or {}).get("path") or spec.python
    return [builder, "-I", "-S", "-c", PRELUDE.format(stage=record.site) + code]


def deep_probe(record: state.InstallState | None, spec: Spec) -> dict[str, Any]:
    """Import the package in a child, sealed from the host's paths: what the no-op check cannot see."""
    if record is None:
        return {"ok": False, "detail": "nothing built to probe"}
    from .. import runner
    from ..session import succeeded

    done = runner.run(probe_argv(record, spec), timeout=spec.step_timeout)
    if succeeded(done):
        return {"ok": True, "detail": f"import {spec.import_name} works ({done.seconds:.2f} s)"}
    lines = (done.err or done.out).decode(errors="replace").strip().splitlines()
    return {"ok": False, "detail": (lines[-1] if lines else f"exit {done.rc}")[-300:]}


def collect(spec: Spec, now: float, boot: cooldown.BootTime | None = None, deep: bool = False) -> dict[str, Any]:
    """What status shows at wall time ``now`` (and boot time ``boot``, which measures a cooldown)."""
    layout = Layout(spec.root)
    installs = state.load(layout)
    record, reason = consumer.check_installs(spec, installs)  # in process, an env for another X.Y is not healthy
    builder = consumer.builder_of(record) if record is not None and consumer.discovers(spec) else ""
    fp = state.fingerprint(dataclasses.replace(spec, python=builder) if builder else spec)
    reason = ownership.dir_problem(spec.root) or reason  # what ensure and activate refuse
    holder = lock.holder(layout.lock_file)
    info = {
        "state_dir": spec.root,
        **_built(record, layout, now),
        "healthy": reason is None,
        "reason": reason,
        "cooldown": _cooldown(spec, layout, fp, now, boot),
        "building": {"running": holder is not None, "pid": holder},
        "builds": [_summary(b, b is record) for b in installs.builds],
        "retired": list(installs.retired),
    }
    if deep:
        info["probe"] = deep_probe(record, spec)
        if record is not None and not info["probe"]["ok"] and info["healthy"]:
            info.update(healthy=False, reason=f"the import probe failed: {info['probe']['detail']}")
    return info


def _lines(info: dict[str, Any]) -> str:
    items = [("state dir", info["state_dir"])]
    if info["built"]:
        size, age = info["size_bytes"], info["age_seconds"]
        items += [
            ("strategy", info["strategy"]),
            ("env", info["env"]),
            ("size", human_bytes(size) if size is not None else "not measured (outside the state dir)"),
            ("python", info["python"]),
            ("requirements", " ".join(map(str, info["requirements"] or []))),
            ("age", f"{age / 3600:.1f} h" if age is not None else "unknown (bad build time)"),
        ]
    items.append(("healthy", "yes" if info["healthy"] else f"no ({info['reason']})"))
    cool = info["cooldown"]
    items.append(("cooldown", f"{cool['remaining_seconds']} s left (rc {cool['rc']})" if cool["active"] else "none"))
    busy = info["building"]
    items.append(("building now", f"yes (pid {busy['pid']})" if busy["running"] else "no"))
    others = [b for b in info["builds"] if not b["this"]]
    if others:
        items.append(
            (
                "other builds",
                f"{len(others)}, for "
                + "; ".join(f"{' '.join(b['requirements'] or [])} on {b['host']}" for b in others),
            )
        )
    if "probe" in info:
        items.append(("import probe", ("ok: " if info["probe"]["ok"] else "FAILED: ") + info["probe"]["detail"]))
    return pairs(items)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when healthy, 1 when not (so scripts can branch on it)."""
    info = collect(build_spec(args, must_write=False), time.time(), cooldown.boot_time(), deep=args.deep)
    if args.json:
        emit_json(info)
    else:
        print(_lines(info))
    return 0 if info["healthy"] else 1
