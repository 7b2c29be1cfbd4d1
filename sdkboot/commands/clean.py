"""``sdkboot clean``: remove the built envs, install-state, cooldown and staging dirs.

It deletes nothing outside the state dir: a symlink that points out of it makes the
whole clean refuse, and links inside it are removed as links, never followed. It refuses a
dir that is not sdkboot's (no marker, foreign entries) or that breaks the ownership rule.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from .. import ownership, safefs
from ..layout import Layout
from ..lock import BuildLock, holder
from ..options import UsageError, add_json, add_location, location_spec
from ..result import EXIT_SKIPPED
from ..streams import stdin_usable
from ..table import emit_json

HELP = "remove the built env(s), install-state, cooldown and leftover staging dirs"
EXAMPLE = "sdkboot clean --yes"


def configure(parser: argparse.ArgumentParser) -> None:
    add_location(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask; required when stdin is not a terminal")
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    add_json(parser)


def targets(layout: Layout) -> List[str]:
    """What clean removes, install-state first so no consumer picks up a half-removed env."""
    builds = [os.path.join(layout.builds, n) for n in sorted(_listdir(layout.builds))]
    candidates = [layout.state_file, layout.cooldown_file, *builds, layout.builds,
                  *safefs.stale_temps(layout.root, time.time())]
    return [path for path in candidates if os.path.lexists(path)]


def _listdir(path: str) -> List[str]:
    try:
        return [] if os.path.islink(path) else os.listdir(path)
    except OSError:
        return []


def escaping(paths: List[str], root: str) -> Optional[str]:
    """The first path that is a symlink resolving outside ``root``."""
    real_root = os.path.realpath(root)
    for path in paths:
        if os.path.islink(path) and os.path.commonpath([os.path.realpath(path), real_root]) != real_root:
            return path
    return None


def _confirmed(args: argparse.Namespace, paths: List[str]) -> bool:
    if args.yes or args.dry_run:
        return True
    if not stdin_usable() or not sys.stdin.isatty():
        raise UsageError("sdkboot clean: stdin is not a terminal; pass --yes to remove without asking")
    try:
        answer = input(f"remove {len(paths)} item(s) under {os.path.dirname(paths[0])}? [y/N] ")
    except EOFError:
        print()  # end the prompt's line, so the message starts on its own
        raise UsageError("sdkboot clean: no answer (end of input), nothing removed;"
                         " `sdkboot clean --yes` removes without asking") from None
    return answer.strip().lower() in ("y", "yes")


def _report(args: argparse.Namespace, paths: List[str], removed: bool) -> None:
    if args.json:
        emit_json({"paths": paths, "removed": removed, "dry_run": args.dry_run})
        return
    verb = "would remove" if args.dry_run else ("removed" if removed else "kept")
    print("\n".join(f"{verb} {path}" for path in paths) or "nothing to clean")


def _remove_locked(layout: Layout, paths: List[str]) -> bool:
    """Remove under the build lock; False when a build holds it right now."""
    lock = BuildLock(layout.lock_file)
    if not lock.acquire():
        return False
    with lock:
        safefs.claim(layout.root)  # a state dir from before the marker: ours, as refusal() found
        for path in paths:
            safefs.remove(path, layout.root)  # lstat first; links go as links, never followed
    return True


def refusal(root: str) -> Optional[str]:
    """Why clean must not touch ``root``: the ownership rule, or a dir that is not sdkboot's."""
    return ownership.dir_problem(root) or safefs.foreign(root)


def run(args: argparse.Namespace) -> int:
    layout = Layout(location_spec(args).root)
    paths = targets(layout)
    refused = refusal(layout.root) if paths else None
    if refused:
        raise UsageError(f"sdkboot clean: refusing: {refused}")
    outside = escaping(paths, layout.root)
    if outside:
        raise UsageError(f"sdkboot clean: refusing: {outside} is a symlink pointing outside the state dir")
    removed = bool(paths) and _confirmed(args, paths) and not args.dry_run
    if removed and not _remove_locked(layout, paths):
        print(f"sdkboot clean: a build is running now (pid {holder(layout.lock_file)}); try again later",
              file=sys.stderr)
        return EXIT_SKIPPED
    _report(args, paths, removed)
    return 0
