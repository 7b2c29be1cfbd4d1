"""``sdkboot clean``: remove the built envs, install-state, cooldown and staging dirs.

It deletes nothing outside the state dir: a symlink that points out of it makes the
whole clean refuse, and links inside it are removed as links, never followed. It refuses a
dir that is not sdkboot's (no marker, foreign entries) or that breaks the ownership rule. It
never deletes a build that a live process has activated (see ``sdkboot.inuse``): that one is
kept and said so. ``--unused`` removes only what the retention rules would (``sdkboot.retention``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Sequence

from .. import inuse, ownership, safefs
from ..layout import Layout
from ..lock import BuildLock, holder
from ..options import UsageError, add_json, add_location, location_spec
from ..result import EXIT_SKIPPED
from ..streams import stdin_usable
from ..table import emit_json

HELP = "remove the built env(s), install-state, cooldown and leftover staging dirs"
EXAMPLE = "sdkboot clean --unused --older-than 7 --yes"
DEFAULT_UNUSED_DAYS = 7.0


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0 <= value < 1e6:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"must be zero or more days: {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    add_location(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask; required when stdin is not a terminal")
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    parser.add_argument(
        "--unused",
        action="store_true",
        help="remove only builds that no live process uses and that were last used more than"
        " --older-than days ago, the least recently used beyond the 3 kept, and leftovers",
    )
    parser.add_argument(
        "--older-than",
        type=_days,
        default=DEFAULT_UNUSED_DAYS,
        metavar="DAYS",
        help="with --unused: the age of last use that counts as unused"
        f" (default {DEFAULT_UNUSED_DAYS:g}; 0: every build nobody holds now)",
    )
    add_json(parser)


def targets(layout: Layout) -> list[str]:
    """What clean removes, install-state first so no consumer picks up a half-removed env."""
    builds = [os.path.join(layout.builds, n) for n in sorted(_listdir(layout.builds))]
    candidates = [
        layout.state_file,
        layout.cooldown_file,
        *builds,
        layout.builds,
        *safefs.stale_temps(layout.root, time.time()),
    ]
    return [path for path in candidates if os.path.lexists(path)]


def _listdir(path: str) -> list[str]:
    try:
        return [] if os.path.islink(path) else os.listdir(path)
    except OSError:
        return []


def escaping(paths: list[str], root: str) -> str | None:
    """The first path that is a symlink resolving outside ``root``."""
    real_root = os.path.realpath(root)
    for path in paths:
        if os.path.islink(path) and os.path.commonpath([os.path.realpath(path), real_root]) != real_root:
            return path
    return None


def _confirmed(args: argparse.Namespace, paths: list[str]) -> bool:
    if args.yes or args.dry_run:
        return True
    if not stdin_usable() or not sys.stdin.isatty():
        raise UsageError("sdkboot clean: stdin is not a terminal; pass --yes to remove without asking")
    try:
        answer = input(f"remove {len(paths)} item(s) under {os.path.dirname(paths[0])}? [y/N] ")
    except EOFError:
        print()  # end the prompt's line, so the message starts on its own
        raise UsageError(
            "sdkboot clean: no answer (end of input), nothing removed; `sdkboot clean --yes` removes without asking"
        ) from None
    return answer.strip().lower() in ("y", "yes")


def _report(args: argparse.Namespace, paths: list[str], removed: bool, in_use: Sequence[str] = ()) -> None:
    if args.json:
        emit_json({"paths": paths, "removed": removed, "dry_run": args.dry_run, "in_use": list(in_use)})
        return
    verb = "would remove" if args.dry_run else ("removed" if removed else "kept")
    lines = [f"{verb} {path}" for path in paths]
    lines += [f"kept {path} (a live process uses it)" for path in in_use]
    print("\n".join(lines) or "nothing to clean")


def _remove_locked(layout: Layout, paths: list[str]) -> list[str] | None:
    """Remove under the build lock; the builds kept because they are in use, None when a build runs."""
    lock = BuildLock(layout.lock_file)
    if not lock.acquire():
        return None
    in_use: list[str] = []
    with lock, contextlib.ExitStack() as claims:
        safefs.claim(layout.root)  # a state dir from before the marker: ours, as refusal() found
        for path in paths:
            real_dir = os.path.isdir(path) and not os.path.islink(path)
            if os.path.dirname(path) == layout.builds and real_dir and not claims.enter_context(inuse.claimed(path)):
                in_use.append(path)
        for path in paths:
            if path in in_use or (path == layout.builds and in_use):
                continue
            safefs.remove(path, layout.root)  # lstat first; links go as links, never followed
    return in_use


def _busy(layout: Layout) -> int:
    print(f"sdkboot clean: a build is running now (pid {holder(layout.lock_file)}); try again later", file=sys.stderr)
    return EXIT_SKIPPED


def _unused(args: argparse.Namespace, layout: Layout) -> int:
    """Only what the retention rules remove, with the given age of last use."""
    from ..retention import sweep

    lock = BuildLock(layout.lock_file)
    try:
        if not lock.acquire():
            return _busy(layout)
    except FileNotFoundError:
        _report(args, [], False)  # no state dir: nothing was ever built
        return 0
    with lock:
        refused = refusal(layout.root)
        if refused:
            raise UsageError(f"sdkboot clean: refusing: {refused}")
        if not args.dry_run:
            plan = sweep(layout, max_age=args.older_than * 86400, dry_run=True)
            if plan.removed and not _confirmed(args, plan.removed):
                _report(args, [], False, plan.in_use)
                return 0
        done = sweep(layout, max_age=args.older_than * 86400, dry_run=args.dry_run)
    _report(args, done.removed, bool(done.removed) and not args.dry_run, done.in_use)
    return 0


def refusal(root: str) -> str | None:
    """Why clean must not touch ``root``: the ownership rule, or a dir that is not sdkboot's."""
    return ownership.dir_problem(root) or safefs.foreign(root)


def run(args: argparse.Namespace) -> int:
    layout = Layout(location_spec(args).root)
    if args.unused:
        return _unused(args, layout)
    paths = targets(layout)
    refused = refusal(layout.root) if paths else None
    if refused:
        raise UsageError(f"sdkboot clean: refusing: {refused}")
    outside = escaping(paths, layout.root)
    if outside:
        raise UsageError(f"sdkboot clean: refusing: {outside} is a symlink pointing outside the state dir")
    removed = bool(paths) and _confirmed(args, paths) and not args.dry_run
    in_use: list[str] | None = []
    if removed:
        in_use = _remove_locked(layout, paths)
        if in_use is None:
            return _busy(layout)
    _report(
        args,
        [p for p in paths if p not in (in_use or ()) and not (p == layout.builds and in_use)],
        removed,
        in_use or (),
    )
    return 0
