"""The install-state file: what was built, for which fingerprint, and what must exist.

The health check reads this one small file and stats the paths it lists. It spawns
no subprocess and imports nothing, which is what makes the no-op path cheap.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

from . import ownership
from .codes import Strategy
from .safefs import STATE_CAP, read_json, write_json_atomic
from .layout import Layout
from .spec import Spec

# Bump when the on-disk layout changes: every older state then reads as mismatched.
LAYOUT_VERSION = 1
Fingerprint = Dict[str, Any]
# The labels of sdkboot.codes.Strategy (the registry's keys); a state naming another is not ours.
STRATEGIES = tuple(code.label for code in Strategy if code is not Strategy.NONE)


def _file_id(path: str) -> str:
    """Size and mtime of the real interpreter binary: an upgrade in place changes it."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def normalize_requirements(requirements: Sequence[str]) -> Tuple[str, ...]:
    return tuple(sorted({" ".join(req.lower().split()) for req in requirements}))


def fingerprint(spec: Spec) -> Fingerprint:
    python = os.path.abspath(spec.python)
    return {
        "layout": LAYOUT_VERSION,
        "host": sys.executable,
        "host_version": "%d.%d.%d" % sys.version_info[:3],
        "python": python,
        "python_id": _file_id(python),
        "requirements": list(normalize_requirements(spec.requirements)),
        "import_name": spec.import_name,
    }


@dataclass(frozen=True)
class InstallState:
    strategy: str
    env: str
    site: str
    python_version: str
    paths: Tuple[str, ...]
    fingerprint: Fingerprint
    built_at: float

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["paths"] = list(self.paths)
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "InstallState":
        """Raise ValueError for anything that is not a state this version wrote."""
        if not isinstance(data.get("paths"), list):
            raise ValueError("missing or unknown field: paths is not a list")
        try:
            state = cls(**{**data, "paths": tuple(data["paths"])})
        except (TypeError, KeyError) as exc:
            raise ValueError(f"missing or unknown field: {exc}") from None
        if not _well_formed(state):
            raise ValueError("malformed fields")
        return state


def _is_path(value: object) -> bool:
    """An absolute path with no NUL byte: ``os.stat`` raises ValueError on a NUL."""
    return isinstance(value, str) and "\0" not in value and os.path.isabs(value)


def _is_time(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _well_formed(state: InstallState) -> bool:
    return (
        state.strategy in STRATEGIES and all(_is_path(p) for p in (state.env, state.site, *state.paths))
        and isinstance(state.python_version, str) and isinstance(state.fingerprint, dict)
        and _is_time(state.built_at)
    )


def new_state(strategy: str, env: str, site: str, version: str, paths: Sequence[str], fp: Fingerprint) -> InstallState:
    return InstallState(strategy, env, site, version, tuple(paths), fp, time.time())


def load(layout: Layout) -> Tuple[Optional[InstallState], Optional[str]]:
    """``(state, None)``, or ``(None, reason)`` when absent or corrupt."""
    data, reason = read_json(layout.state_file, STATE_CAP)
    if data is None:
        return None, f"install-state {reason}"
    try:
        return InstallState.from_json(data), None
    except Exception as exc:  # noqa: BLE001 - any bad content is a corrupt state, never a crash
        return None, f"install-state corrupt: {exc}"


def _mismatch(recorded: Fingerprint, current: Fingerprint) -> Optional[str]:
    changed = sorted(key for key in set(recorded) | set(current) if recorded.get(key) != current.get(key))
    return f"fingerprint changed ({', '.join(changed)})" if changed else None


def missing(paths: Sequence[str]) -> Optional[str]:
    """The first recorded path that is gone; a recorded ``.pth`` file (code that runs at
    activation) must also still be this user's and not writable by others."""
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return f"missing {path}"
        if path.endswith(".pth"):
            reason = ownership.entry_problem(path, st)
            if reason:
                return reason
    return None


def foreign(state: InstallState) -> Optional[str]:
    """Why THIS interpreter cannot import the env (built for another X.Y), or None."""
    mine = "%d.%d" % sys.version_info[:2]
    built = ".".join(state.python_version.split(".")[:2])
    return None if built == mine else f"env was built for Python {built}, this is {mine}"


def problem(state: InstallState, current: Fingerprint, root: str) -> Optional[str]:
    """Why ``state`` is not usable now, or None when it is healthy. The same rule as
    ``activate()``: a site dir it would refuse is never healthy here."""
    return (_mismatch(state.fingerprint, current) or missing(state.paths)
            or ownership.tree_problem(state.site, root))


def check(layout: Layout, current: Fingerprint) -> Tuple[Optional[InstallState], Optional[str]]:
    """``(state, None)`` when healthy; otherwise ``(state-or-None, reason)``."""
    state, reason = load(layout)
    if state is None:
        return None, reason
    return state, problem(state, current, layout.root)


def publish(layout: Layout, state: InstallState) -> None:
    """Written LAST and atomically: its presence means the build is complete."""
    write_json_atomic(layout.state_file, state.to_json())
