"""The install-state file: one build per fingerprint, side by side, and what is left to delete.

``install-state.json`` holds ``{"layout": N, "builds": [record, ...], "retired": [dir, ...]}``.
Each record says what was built for one fingerprint (host interpreter, build interpreter,
requirements, import name) and what its health check stats. Two requirement sets or two
interpreters sharing a state dir each find their own record, so neither rebuilds the other's.
``retired`` lists build dirs to delete once nothing uses them: superseded builds, and the stage
of the build under way (so a build killed mid-way leaves garbage that the next run removes).

The health check reads this one small file and stats a few paths. It spawns no subprocess and
imports nothing, which is what makes the no-op path cheap. Only the build-lock holder writes.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from . import identity, ownership, seal
from .codes import Strategy
from .layout import Layout
from .safefs import STATE_CAP, read_json, write_json_atomic
from .spec import Spec

# Bump when the on-disk layout changes: every older state then reads as holding no build.
LAYOUT_VERSION = 2
Fingerprint = dict[str, Any]
# The labels of sdkboot.codes.Strategy (the registry's keys); a state naming another is not ours.
STRATEGIES = tuple(code.label for code in Strategy if code is not Strategy.NONE)
ABSENT = "absent"


def normalize_requirements(requirements: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({" ".join(req.lower().split()) for req in requirements}))


def fingerprint(spec: Spec) -> Fingerprint:
    """What a build is for: interpreters by identity (not by spelling), requirements, import name."""
    return {
        "layout": LAYOUT_VERSION,
        "host": identity.host(),
        "python": identity.interpreter(spec.python),
        "requirements": list(normalize_requirements(spec.requirements)),
        "import_name": spec.import_name,
    }


@dataclass(frozen=True)
class InstallState:
    """One published build."""

    strategy: str
    env: str
    site: str
    python_version: str
    paths: tuple[str, ...]
    fingerprint: Fingerprint
    built_at: float
    # seal.stamp() of the site dir at publish: unchanged means no distribution was removed.
    site_stamp: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["paths"] = list(self.paths)
        data["site_stamp"] = list(self.site_stamp)
        return data

    @classmethod
    def from_json(cls, data: Any) -> InstallState:
        """Raise ValueError for anything that is not a record this version wrote."""
        if not isinstance(data, dict):
            raise ValueError("a build record is not an object")
        for name in ("paths", "site_stamp"):
            if not isinstance(data.get(name, []), list) or "paths" not in data:
                raise ValueError(f"missing or unknown field: {name} is not a list")
        try:
            state = cls(**{**data, "paths": tuple(data["paths"]), "site_stamp": tuple(data.get("site_stamp", ()))})
        except (TypeError, KeyError) as exc:
            raise ValueError(f"missing or unknown field: {exc}") from None
        if not _well_formed(state):
            raise ValueError("malformed fields")
        return state


def _is_path(value: object) -> bool:
    """An absolute path with no NUL byte: ``os.stat`` raises ValueError on a NUL."""
    return isinstance(value, str) and "\0" not in value and os.path.isabs(value)


def _is_time(value: object) -> bool:
    """Seconds since the epoch: finite, and not a 400-digit int (float() of one overflows)."""
    if isinstance(value, float):
        return math.isfinite(value) and value >= 0
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12


def _well_formed(state: InstallState) -> bool:
    return (
        state.strategy in STRATEGIES
        and all(_is_path(p) for p in (state.env, state.site, *state.paths))
        and isinstance(state.python_version, str)
        and isinstance(state.fingerprint, dict)
        and _is_time(state.built_at)
        and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**64 for n in state.site_stamp)
    )


def new_state(
    strategy: str,
    env: str,
    site: str,
    version: str,
    paths: Sequence[str],
    fp: Fingerprint,
    site_stamp: Sequence[int] = (),
) -> InstallState:
    return InstallState(strategy, env, site, version, tuple(paths), fp, time.time(), tuple(site_stamp))


@dataclass(frozen=True)
class Installs:
    """Everything the install-state file holds."""

    builds: tuple[InstallState, ...] = ()
    retired: tuple[str, ...] = ()
    # Why the file held nothing usable ("absent", "corrupt: ..."); None when it was read.
    reason: str | None = field(default=None, compare=False)

    def find(self, fp: Fingerprint) -> InstallState | None:
        return next((build for build in self.builds if build.fingerprint == fp), None)

    def to_json(self) -> dict[str, Any]:
        return {"layout": LAYOUT_VERSION, "builds": [b.to_json() for b in self.builds], "retired": list(self.retired)}


def _parse(data: dict[str, Any]) -> Installs:
    if data.get("layout") != LAYOUT_VERSION:
        return Installs(reason=f"install-state is from another sdkboot layout ({data.get('layout', 1)!r})")
    builds, retired = data.get("builds"), data.get("retired", [])
    if not isinstance(builds, list) or not isinstance(retired, list) or not all(_is_path(r) for r in retired):
        raise ValueError("builds or retired is not a list")
    return Installs(tuple(InstallState.from_json(b) for b in builds), tuple(retired))


def load(layout: Layout) -> Installs:
    """Every build the state dir holds; an absent or corrupt file holds none (with the reason)."""
    # Fast number parsing: _well_formed checks the range of every number a record holds.
    data, reason = read_json(layout.state_file, STATE_CAP, strict_numbers=False)
    if data is None:
        return Installs(reason=f"install-state {reason}")
    try:
        return _parse(data)
    except Exception as exc:  # any bad content is a corrupt state, never a crash
        return Installs(reason=f"install-state corrupt: {exc}")


def missing(paths: Sequence[str]) -> str | None:
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


def foreign(state: InstallState) -> str | None:
    """Why THIS interpreter cannot import the env (built for another X.Y), or None."""
    mine = "%d.%d" % sys.version_info[:2]
    built = ".".join(state.python_version.split(".")[:2])
    return None if built == mine else f"env was built for Python {built}, this is {mine}"


def problem(record: InstallState, root: str) -> str | None:
    """Why ``record`` is not usable now (a listed path or a distribution gone), or None. The same
    rule as ``activate()``: a site dir it would refuse is never healthy here."""
    return (
        missing(record.paths)
        or seal.check(record.env, record.site, record.site_stamp)
        or ownership.site_problem(record.site, root)
    )


def check(layout: Layout, current: Fingerprint) -> tuple[InstallState | None, str | None]:
    """``(record, None)`` when this fingerprint's build is healthy; else ``(record-or-None, reason)``."""
    return check_in(load(layout), current, layout.root)


def check_in(installs: Installs, current: Fingerprint, root: str) -> tuple[InstallState | None, str | None]:
    record = installs.find(current)
    if record is None:
        return None, installs.reason or _no_build(installs, current)
    return record, problem(record, root)


def _no_build(installs: Installs, current: Fingerprint) -> str:
    """Say what the builds that are here were made for instead."""
    differ = sorted(
        {
            key
            for b in installs.builds
            for key in set(b.fingerprint) | set(current)
            if b.fingerprint.get(key) != current.get(key)
        }
    )
    elsewhere = f" (the {len(installs.builds)} here differ in: {', '.join(differ)})" if differ else ""
    return f"no build yet for this interpreter and requirement set{elsewhere}"


def _same_place(old: Fingerprint, new: Fingerprint) -> bool:
    """The same interpreters (by path), requirements and import name: only the binaries changed."""

    def paths(fp: Fingerprint) -> tuple[Any, ...]:
        host, python = fp.get("host") or {}, fp.get("python") or {}
        return (fp.get("layout"), host.get("path"), python.get("path"), fp.get("requirements"), fp.get("import_name"))

    return isinstance(old.get("host"), dict) and paths(old) == paths(new)


def superseded(installs: Installs, fp: Fingerprint) -> list[InstallState]:
    """The builds a new build for ``fp`` replaces: its own, and any for a binary since replaced.

    An interpreter upgraded in place keeps its path and gets a new file identity: no new
    process can run the old binary, so its build would only wait to age out.
    """
    return [b for b in installs.builds if b.fingerprint == fp or _same_place(b.fingerprint, fp)]


def replaced_why(old: InstallState, fp: Fingerprint, root: str) -> str:
    if old.fingerprint == fp:
        return problem(old, root) or "rebuilt on request"
    role = "host" if old.fingerprint.get("host") != fp["host"] else "python"
    return f"the interpreter at {fp[role]['path']} was replaced (upgraded?)"


def save(layout: Layout, installs: Installs) -> None:
    """Atomically: readers see the old file or the new one, never half of one."""
    write_json_atomic(layout.state_file, installs.to_json())


def retire(layout: Layout, *dirs: str) -> Installs:
    """Add ``dirs`` to what is deleted once unused (the stage, before a build starts)."""
    current = load(layout)
    updated = Installs(current.builds, tuple(dict.fromkeys(current.retired + dirs)))
    save(layout, updated)
    return updated


def publish(layout: Layout, record: InstallState) -> list[InstallState]:
    """Add ``record``; what it supersedes moves to ``retired``. The superseded records are returned.

    Written LAST and atomically: a record's presence means its build is complete.
    """
    current = load(layout)
    old = superseded(current, record.fingerprint)
    builds = (*tuple(b for b in current.builds if b not in old), record)
    retired = tuple(r for r in dict.fromkeys(current.retired + tuple(b.env for b in old)) if r != record.env)
    save(layout, Installs(builds, retired))
    return old
