"""Who uses the env decides when it is healthy and which interpreter builds it.

- In process (``Spec.for_run`` False): this interpreter imports the env through activate(),
  so an env for another X.Y is never healthy, and ``spec.python`` builds it.
- ``sdkboot run`` (``for_run``): the env's own interpreter runs the consumer, so any Python
  >= ``min_python`` may build it: the host when it qualifies, else the discovery's choice,
  then the next one if pip rejects it for Requires-Python.
The health check reads one file and spawns nothing; only a build plan discovers.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import identity, state
from .codes import Outcome
from .layout import Layout
from .result import Result
from .spec import Spec

if TYPE_CHECKING:
    from .discovery import Discovery, Interpreter, Spawn
    from .session import Session

HOST_VERSION = "%d.%d.%d" % sys.version_info[:3]
PROBE_WHAT = "probing an interpreter"


def is_host(python: str) -> bool:
    """Is ``python`` this very interpreter (by resolved path)?"""
    # identity.realpath: remembered per name, so the no-op path pays an lstat, not a path walk.
    return bool(sys.executable) and identity.realpath(python) == identity.realpath(sys.executable)


@dataclass(frozen=True)
class Builder:
    """One interpreter a build may use; ``other`` when it is not the host (``sdk_alt_py``)."""

    python: str
    version: str | None
    other: bool

    @property
    def number(self) -> int | None:
        if self.version is None:
            return None
        major, minor = self.version.split(".")[:2]
        return int(major) * 100 + int(minor)


def discovers(spec: Spec) -> bool:
    """Does this spec let discovery pick the build interpreter? (run mode, none given)"""
    return spec.for_run and is_host(spec.python)


def builder_of(record: state.InstallState) -> str:
    """The interpreter that built ``record`` (its fingerprint names it, by real path)."""
    recorded = record.fingerprint.get("python")
    path = recorded.get("path") if isinstance(recorded, dict) else None
    return path if isinstance(path, str) and path else ""


def _env_too_old(record: state.InstallState, spec: Spec) -> str | None:
    parts = record.python_version.split(".")[:2]
    built = tuple(int(p) for p in parts if p.isdigit())
    if built >= tuple(spec.min_python):
        return None
    return f"env was built with Python {record.python_version}, older than {'.'.join(map(str, spec.min_python))}"


def _discovered_build(spec: Spec, installs: state.Installs) -> state.InstallState | None:
    """The newest build for this spec by whichever interpreter discovery chose, if still the same file."""
    for record in sorted(installs.builds, key=lambda b: b.built_at, reverse=True):
        builder = builder_of(record)
        if builder and record.fingerprint == state.fingerprint(dataclasses.replace(spec, python=builder)):
            return record
    return None


def check_installs(spec: Spec, installs: state.Installs) -> tuple[state.InstallState | None, str | None]:
    """``(build, None)`` when this spec's consumer has a healthy build, else ``(build-or-None, reason)``."""
    if discovers(spec):
        record = _discovered_build(spec, installs)
        if record is not None:
            return record, state.problem(record, spec.root) or _env_too_old(record, spec)
    record, reason = state.check_in(installs, state.fingerprint(spec), spec.root)
    if record is not None and reason is None and not spec.for_run:
        reason = state.foreign(record)
    return record, reason


def check(spec: Spec, layout: Layout) -> tuple[state.InstallState | None, str | None]:
    return check_installs(spec, state.load(layout))


def _spawner(session: Session) -> Spawn:
    from .codes import Phase

    return lambda argv, timeout: session.run(Phase.PRE, argv, PROBE_WHAT, timeout=timeout)


def cache_file(spec: Spec) -> str | None:
    """The probe cache; the state dir is made here (private) so the answers can be kept."""
    from .safefs import make_private_dirs

    layout = Layout(spec.root)
    try:
        make_private_dirs(layout.root)  # every level 0700: the state dir goes on sys.path
    except OSError:
        return None
    return layout.pythons_file


def discover(spec: Spec, session: Session, cache: str | None = None) -> Discovery:
    """Discovery with the probes counted in ``session``; ``cache`` overrides the state dir's file
    (``doctor`` must leave no trace)."""
    from .discovery import discover as run_discovery

    return run_discovery(cache_file=cache or cache_file(spec), spawn=_spawner(session))


def _probe_given(spec: Spec, session: Session, cache: str | None) -> Interpreter:
    from .discovery import probe

    return probe(spec.python, cache_file=cache or cache_file(spec), spawn=_spawner(session))[0]


def too_old(spec: Spec, found: Discovery) -> Result:
    """HOOK_PY_INCOMPATIBLE: this host cannot import the package; name what ``sdkboot run`` would use."""
    from .discovery import alt_py, best_other
    from .invocation import run_line
    from .messages import too_old as message

    best = best_other(found.interpreters, spec.min_python)
    where = f"{best.info.label} at {best.path}" if best is not None and best.info is not None else None
    need = ".".join(map(str, spec.min_python))
    return Result(
        Outcome.HOOK_PY_INCOMPATIBLE,
        alt_py=alt_py(found.interpreters, spec.min_python),
        message=message(sys.version.split()[0], need, spec.import_name, where, run_line(spec)),
    )


def _given(spec: Spec, session: Session, cache: str | None) -> list[Builder] | Result:
    """An explicit --python builds as given; in process it must be this interpreter's X.Y."""
    from .messages import foreign_python

    found = _probe_given(spec, session, cache)
    info = found.info
    if info is not None and not spec.for_run and info.version[:2] != sys.version_info[:2]:
        return Result(
            Outcome.HOOK_PY_INCOMPATIBLE,
            python=spec.python,
            message=foreign_python(spec.python, info.label, HOST_VERSION),
        )
    return [Builder(spec.python, info.label if info else None, other=True)]


def _discovered(spec: Spec, session: Session, cache: str | None) -> list[Builder] | Result:
    from .discovery import ranked

    found = discover(spec, session, cache)
    order = ranked(found.interpreters, spec.min_python)
    if not order:
        order = _last_resort(found, spec)
    if not order:
        return too_old(spec, found)
    return [Builder(i.path, i.info.label if i.info else None, other=not i.is_host) for i in order]


def _last_resort(found: Discovery, spec: Spec) -> list[Interpreter]:
    """Nothing qualifies: still try the best recent enough one, so the real failure is classified
    (and its advice, e.g. what to apt install, reaches the user)."""
    from .discovery import best_other

    host = next(
        (
            i
            for i in found.interpreters
            if i.is_host and i.info is not None and i.info.version[:2] >= tuple(spec.min_python)
        ),
        None,
    )
    other = best_other(found.interpreters, spec.min_python)
    return [host] if host is not None else ([other] if other is not None else [])


def builders(spec: Spec, session: Session, cache: str | None = None) -> list[Builder] | Result:
    """The interpreters a build tries, in order; or the Result that stops it before any build.
    ``doctor`` asks the same question so that it agrees with ``ensure``."""
    if discovers(spec):
        return _discovered(spec, session, cache)
    if is_host(spec.python):
        return [Builder(spec.python, HOST_VERSION, other=False)]
    return _given(spec, session, cache)
