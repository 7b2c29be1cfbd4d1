"""The ownership rule, in one place.

A dir on ``sys.path`` is code the host runs, and sdkboot deletes inside its state dir: so the
state dir and each parent must be owned by this user (or root) and not group- or
world-writable, or another user could swap an entry under us. The walk up stops at the
user's home, or at a root-owned sticky dir such as ``/tmp`` (there nobody else can rename or
delete our entries). Below the state dir, up to the site dir, no entry may be a symlink.
"""
from __future__ import annotations

import os
import stat
from typing import Optional, Tuple

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
_MAX_LINK_HOPS = 8


def entry_problem(path: str, st: os.stat_result) -> Optional[str]:
    """Why one entry is not trusted, or None: owned by this user or root, not writable by others."""
    if hasattr(os, "getuid") and st.st_uid not in (os.getuid(), 0):
        return f"{path} is owned by uid {st.st_uid}, not by this user"
    if st.st_mode & _WRITABLE_BY_OTHERS:
        return f"{path} is group- or world-writable ({stat.filemode(st.st_mode)})"
    return None


def _stops_the_walk(st: os.stat_result) -> bool:
    """A root-owned sticky dir (``/tmp``): others may add entries, never replace ours."""
    return st.st_uid == 0 and bool(st.st_mode & stat.S_ISVTX) and stat.S_ISDIR(st.st_mode)


def _walk(path: str, home: str, hops: int) -> Optional[str]:
    first = True  # the state dir itself is never a public sticky dir, only its parents may be
    while True:
        try:
            st: Optional[os.stat_result] = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None  # not created yet: its parent decides (creating it will say why not)
        except OSError as exc:
            return f"cannot check {path}: {exc.strerror}"
        if st is not None:
            if stat.S_ISLNK(st.st_mode):
                # The target's chain must be safe; the link's own dir (checked next) guards the link.
                if hops >= _MAX_LINK_HOPS:
                    return f"{path}: too many symlinks"
                reason = _walk(os.path.realpath(path), home, hops + 1)
                if reason:
                    return reason
            elif _stops_the_walk(st) and not first:
                return None
            else:
                reason = entry_problem(path, st)
                if reason or path == home:
                    return reason
            first = False
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def dir_problem(path: str) -> Optional[str]:
    """Why the state dir ``path`` may not be used, naming the dir at fault; None when it may."""
    if not hasattr(os, "getuid"):
        return None  # Windows: per-user profile ACLs, not POSIX modes
    return _walk(os.path.abspath(path), os.path.abspath(os.path.expanduser("~")), 0)


def _inside(path: str, root: str) -> bool:
    return path.startswith(root.rstrip(os.sep) + os.sep)


def tree_problem(path: str, root: str) -> Optional[str]:
    """``path`` and each dir between it and ``root``: inside ``root``, no symlink, trusted entries."""
    path, root = os.path.normpath(path), os.path.normpath(root)
    if not _inside(path, root):
        # A build may report the real path of a state dir reached through a link (macOS /var).
        real_root = os.path.realpath(root)
        if not _inside(path, real_root):
            return f"{path} is outside the state dir {root}"
        root = real_root
    while path != root:
        try:
            st = os.lstat(path)
        except OSError as exc:
            return f"cannot check {path}: {exc.strerror}"
        if stat.S_ISLNK(st.st_mode):
            return f"{path} is a symlink inside the state dir (refused)"
        reason = entry_problem(path, st)
        if reason:
            return reason
        path = os.path.dirname(path)
    return None


def startup_files(site_dir: str) -> Tuple[str, ...]:
    """The ``.pth`` files in ``site_dir``: ``site.addsitedir`` runs them."""
    try:
        return tuple(os.path.join(site_dir, n) for n in sorted(os.listdir(site_dir)) if n.endswith(".pth"))
    except OSError:
        return ()


def path_problem(path: str) -> Optional[str]:
    """``entry_problem`` of what ``path`` points to (for a file that will run or a dir that
    goes on sys.path)."""
    try:
        return entry_problem(path, os.stat(path))
    except OSError as exc:
        return f"cannot stat {path}: {exc.strerror}"


def private_dir(path: str) -> None:
    """Make sure sdkboot's own dir ``path`` exists and only this user can write it.

    A dir of ours that became group-writable (``chmod -R g+w``) is made private again: every
    build inside it would otherwise be refused by ``activate()``.
    """
    from .safefs import make_private_dirs

    make_private_dirs(path)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise PermissionError(13, "a symlink where sdkboot keeps its builds (refused)", path)
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise PermissionError(13, f"owned by uid {st.st_uid}, not by this user (refused)", path)
    if st.st_mode & _WRITABLE_BY_OTHERS:
        os.chmod(path, 0o700)
