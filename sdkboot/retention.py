"""Which builds are kept, and removing the rest. Runs only under the build lock.

Builds live side by side, one per fingerprint. A sweep removes:

- the ``retired`` dirs: builds superseded by a rebuild, and stages of builds that died;
- dirs under ``builds/`` that no record names (an older layout, a lost install-state);
- beyond ``KEEP_BUILDS`` builds, the least recently used ones, and any build unused for
  longer than ``MAX_UNUSED_SECONDS`` (``sdkboot clean --unused --older-than`` picks another age).

A build that a live process holds (see ``inuse``) is never removed: it is skipped and tried
again at the next sweep. Records leave the install-state before their dirs are deleted, and
each dir is deleted while its use-lock is held exclusively, so nobody starts using it meanwhile.
Deletes are confined to direct children of ``builds/`` that are real dirs, never links.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import inuse, safefs, state
from .layout import Layout

KEEP_BUILDS = 3
MAX_UNUSED_SECONDS = 30 * 86400.0


@dataclass
class Sweep:
    """What one sweep did: paths removed, and paths kept because a live process uses them."""

    removed: list[str] = field(default_factory=list)
    in_use: list[str] = field(default_factory=list)


def _ours(layout: Layout, path: str) -> bool:
    """A real dir directly under a real ``builds/``: the only thing a sweep may delete."""
    if os.path.dirname(path) != layout.builds or os.path.islink(layout.builds):
        return False
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _listed(layout: Layout) -> list[str]:
    if os.path.islink(layout.builds):
        return []
    try:
        return [os.path.join(layout.builds, name) for name in sorted(os.listdir(layout.builds))]
    except OSError:
        return []


def dropped(
    builds: Sequence[state.InstallState],
    now: float,
    keep: str | None,
    keep_count: int = KEEP_BUILDS,
    max_age: float = MAX_UNUSED_SECONDS,
) -> list[state.InstallState]:
    """The records past the bound (least recently used first to go) or unused for too long."""
    ranked = sorted(builds, key=lambda b: (b.env == keep, inuse.last_used(b.env)), reverse=True)
    kept = 0
    out = []
    for build in ranked:
        if build.env != keep and (kept >= keep_count or now - inuse.last_used(build.env) >= max_age):
            out.append(build)
        else:
            kept += 1
    return out


def sweep(
    layout: Layout,
    keep: str | None = None,
    now: float | None = None,
    max_age: float = MAX_UNUSED_SECONDS,
    keep_count: int = KEEP_BUILDS,
    listing: bool = True,
    dry_run: bool = False,
) -> Sweep:
    """Remove what is no longer kept (see the module doc). ``keep`` is never removed.

    ``listing=False`` skips the scan of ``builds/`` for unnamed dirs (the no-op path's cheap
    sweep of ``retired`` alone). ``dry_run`` reports what would go and changes nothing.
    """
    now = time.time() if now is None else now
    installs = state.load(layout)
    named = {b.env for b in installs.builds}
    old = dropped(installs.builds, now, keep, keep_count, max_age)
    garbage = list(installs.retired)
    if listing:
        garbage += [p for p in _listed(layout) if p not in named and p not in garbage]
    result = Sweep()
    with contextlib.ExitStack() as stack:
        free: set[str] = set()
        for path in [b.env for b in old] + garbage:
            if path == keep or path in free:
                continue
            if stack.enter_context(inuse.claimed(path)):
                free.add(path)
            else:
                result.in_use.append(path)
        if not dry_run:
            _forget(layout, installs, free)
        for path in [b.env for b in old] + garbage:
            if path in free and path not in result.removed:
                if _ours(layout, path) and not dry_run:
                    safefs.remove_quietly(path, layout.root)  # confined to the marked state dir, never via a link
                result.removed.append(path)
        if not dry_run:
            _settle(layout, result.removed)
    if listing and not dry_run:
        safefs.sweep_temps(layout.root, now)  # staging files of state writes killed mid-way
    return result


def _forget(layout: Layout, installs: state.Installs, free: set[str]) -> None:
    """Before deleting: the records about to go leave ``builds`` and are listed as ``retired``.

    A kill between this write and the deletes then leaves them retired, not unnamed, and the
    next run's sweep of ``retired`` (even a no-op's) finishes them.
    """
    builds: tuple[state.InstallState, ...] = tuple(b for b in installs.builds if b.env not in free)
    retired = tuple(dict.fromkeys(installs.retired + tuple(sorted(free))))
    if builds != installs.builds or retired != installs.retired:
        state.save(layout, state.Installs(builds, retired))


def _settle(layout: Layout, removed: Sequence[str]) -> None:
    """After deleting: what is gone leaves ``retired`` (a path that is still there stays listed)."""
    gone = {path for path in removed if not os.path.lexists(path)}
    if not gone:
        return
    installs = state.load(layout)
    retired = tuple(r for r in installs.retired if r not in gone)
    if retired != installs.retired:
        state.save(layout, state.Installs(installs.builds, retired))
