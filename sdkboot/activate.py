"""``activate()``: put a built env on ``sys.path`` inside the host process.

It never imports the package and never spawns anything. It refuses any dir that
another user could write: a dir on ``sys.path`` is code that the host executes.
"""

from __future__ import annotations

import site
import sys
from dataclasses import dataclass

from . import inuse, ownership, seal, state
from .layout import Layout
from .spec import Spec


@dataclass(frozen=True)
class Activation:
    """Which path was put on ``sys.path`` (``path``), or why nothing was (``reason``)."""

    path: str | None
    reason: str
    added: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.path is not None


def unsafe_reason(site_dir: str, root: str) -> str | None:
    """The ownership rule (the state dir and its parents; the site dir and each dir up to
    the state dir), then the ``.pth`` files ``site.addsitedir`` will run."""
    return ownership.site_problem(site_dir, root) or next(
        filter(None, map(ownership.path_problem, ownership.startup_files(site_dir))), None
    )


def _usable(record: state.InstallState, root: str) -> str | None:
    """A build is usable by THIS interpreter only if built for the same X.Y, and intact."""
    reason = state.foreign(record)
    if reason:
        return reason
    if record.fingerprint.get("layout") != state.LAYOUT_VERSION:
        return "install-state is from another sdkboot layout version"
    return state.missing(record.paths) or seal.check(record.env, record.site, record.site_stamp)


def _same_abi(record: state.InstallState, fp: state.Fingerprint) -> bool:
    host = record.fingerprint.get("host")
    return isinstance(host, dict) and host.get("abi") == fp["host"]["abi"]


def choose(installs: state.Installs, fp: state.Fingerprint, root: str) -> tuple[state.InstallState | None, str]:
    """This spec's own build; else the newest intact one this interpreter can import.

    A consumer often does not know the hook's pins, nor which of the user's Pythons ran it, so
    another requirement set's or another interpreter's build will do when its ABI is this one's.
    Without any, the reason is the newest candidate's (built for another Python, damaged...).
    """
    exact = installs.find(fp)
    if exact is not None:
        return exact, ""
    ours = sorted(
        (b for b in installs.builds if b.fingerprint.get("import_name") == fp["import_name"]),
        key=lambda b: b.built_at,
        reverse=True,
    )
    for build in ours:
        if _same_abi(build, fp) and _usable(build, root) is None:
            return build, " (built for " + " ".join(build.fingerprint.get("requirements") or []) + ")"
    if ours:
        return ours[0], ""  # unusable: activate() reports why
    return None, f"nothing built: {installs.reason or 'no build for this interpreter'}"


def _add_front(site_dir: str) -> tuple[str, ...]:
    """``site.addsitedir`` (so .pth files run), then move what it added to the front."""
    before = len(sys.path)
    site.addsitedir(site_dir)
    added = tuple(sys.path[before:])
    sys.path[:] = list(added) + sys.path[:before]
    return added


def _add_checked(site_dir: str) -> tuple[tuple[str, ...], str | None]:
    """Add ``site_dir``; undo it all if a dir that a .pth file named is unsafe."""
    saved = list(sys.path)
    added = _add_front(site_dir)
    reason = next(filter(None, (ownership.path_problem(path) for path in added if path != site_dir)), None)
    if reason:
        sys.path[:] = saved
    return added, reason


def _held(spec: Spec, fp: state.Fingerprint) -> tuple[state.InstallState | None, str]:
    """Choose a build and hold its use-lock; once more if a sweep removed it meanwhile."""
    reason = ""
    for _ in range(2):
        record, note = choose(state.load(Layout(spec.root)), fp, spec.root)
        if record is None:
            return None, note
        reason = _usable(record, spec.root) or unsafe_reason(record.site, spec.root) or ""
        if reason:
            return None, reason
        reason = inuse.hold(record.env) or ""
        if not reason:
            return record, note
    return None, reason


def activate(spec: Spec | None = None) -> Activation:
    """Idempotent: a second call finds the dir on sys.path and adds nothing. Never raises:
    the host imports the package next, and must get a reason rather than a crash.

    The chosen build's use-lock is held for the life of the process, so no sweep deletes it.
    """
    spec = spec or Spec()
    saved = list(sys.path)
    try:
        return _activate(spec)
    except Exception as exc:  # the contract: a refusal with a reason
        sys.path[:] = saved
        return Activation(None, f"refused: {type(exc).__name__}: {exc}")


def _activate(spec: Spec) -> Activation:
    record, note = _held(spec, state.fingerprint(spec))
    if record is None:
        return Activation(None, note)
    if record.site in sys.path:
        return Activation(record.site, "already on sys.path")
    added, reason = _add_checked(record.site)
    if reason:
        return Activation(None, f"refused a dir named by a .pth file: {reason}")
    return Activation(record.site, f"added {record.strategy} env{note}", added)
