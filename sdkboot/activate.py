"""``activate()``: put a built env on ``sys.path`` inside the host process.

It never imports the package and never spawns anything. It refuses any dir that
another user could write: a dir on ``sys.path`` is code that the host executes.
"""
from __future__ import annotations

import os
import site
import stat
import sys
from dataclasses import dataclass
from typing import Optional, Tuple

from . import state
from .layout import Layout
from .spec import Spec


@dataclass(frozen=True)
class Activation:
    """Which path was put on ``sys.path`` (``path``), or why nothing was (``reason``)."""

    path: Optional[str]
    reason: str
    added: Tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.path is not None


def _unsafe(path: str) -> Optional[str]:
    """Why ``path`` may not go on sys.path, or None: owned by us, not group/world-writable."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot stat {path}: {exc.strerror}"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"{path} is owned by uid {st.st_uid}, not by this user"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is group- or world-writable ({stat.filemode(st.st_mode)})"
    return None


def _chain(path: str, root: str) -> Tuple[str, ...]:
    """``path`` and each parent up to and including ``root``."""
    chain = [path]
    while path != root and os.path.dirname(path) != path:
        path = os.path.dirname(path)
        chain.append(path)
    return tuple(chain)


def _pth_files(site_dir: str) -> Tuple[str, ...]:
    try:
        return tuple(os.path.join(site_dir, n) for n in os.listdir(site_dir) if n.endswith(".pth"))
    except OSError:
        return ()


def unsafe_reason(site_dir: str, root: str) -> Optional[str]:
    """Check the dir, its parents up to the state dir, and the .pth files it will run."""
    site_dir, root = os.path.realpath(site_dir), os.path.realpath(root)
    if os.path.commonpath([site_dir, root]) != root:
        return f"{site_dir} is outside the state dir {root}"
    for path in _chain(site_dir, root) + _pth_files(site_dir):
        reason = _unsafe(path)
        if reason:
            return reason
    return None


def _usable(record: state.InstallState) -> Optional[str]:
    """A state is usable by THIS interpreter only if built for the same X.Y."""
    reason = state.foreign(record)
    if reason:
        return reason
    if record.fingerprint.get("layout") != state.LAYOUT_VERSION:
        return "install-state is from another sdkboot layout version"
    return state.missing(record.paths)


def _add_front(site_dir: str) -> Tuple[str, ...]:
    """``site.addsitedir`` (so .pth files run), then move what it added to the front."""
    before = len(sys.path)
    site.addsitedir(site_dir)
    added = tuple(sys.path[before:])
    sys.path[:] = list(added) + sys.path[:before]
    return added


def _add_checked(site_dir: str) -> Tuple[Tuple[str, ...], Optional[str]]:
    """Add ``site_dir``; undo it all if a dir that a .pth file named is unsafe."""
    saved = list(sys.path)
    added = _add_front(site_dir)
    reason = next(filter(None, (_unsafe(path) for path in added if path != site_dir)), None)
    if reason:
        sys.path[:] = saved
    return added, reason


def activate(spec: Optional[Spec] = None) -> Activation:
    """Idempotent: a second call finds the dir on sys.path and adds nothing. Never raises:
    the host imports the package next, and must get a reason rather than a crash."""
    spec = spec or Spec()
    saved = list(sys.path)
    try:
        return _activate(spec)
    except Exception as exc:  # noqa: BLE001 - the contract: a refusal with a reason
        sys.path[:] = saved
        return Activation(None, f"refused: {type(exc).__name__}: {exc}")


def _activate(spec: Spec) -> Activation:
    record, reason = state.load(Layout(spec.root))
    if record is None:
        return Activation(None, f"nothing built: {reason}")
    reason = _usable(record) or unsafe_reason(record.site, spec.root)
    if reason:
        return Activation(None, reason)
    if record.site in sys.path:
        return Activation(record.site, "already on sys.path")
    added, reason = _add_checked(record.site)
    if reason:
        return Activation(None, f"refused a dir named by a .pth file: {reason}")
    return Activation(record.site, f"added {record.strategy} env", added)
