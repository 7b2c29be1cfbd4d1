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

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
_MAX_LINK_HOPS = 8
# These run on every no-op ensure(): one lstat per dir and as little else as possible.
_S_IFMT, _S_IFDIR, _S_IFLNK, _STICKY = 0o170000, stat.S_IFDIR, stat.S_IFLNK, stat.S_ISVTX


def _me() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _parent(path: str) -> str:
    if os.sep != "/":
        return os.path.dirname(path)
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"


def _normal(path: str) -> str:
    """``os.path.normpath``, skipped for the usual already-normal absolute path."""
    if os.sep == "/" and path.startswith("/") and "//" not in path and "/." not in path and not path.endswith("/"):
        return path
    return os.path.normpath(path)


def entry_problem(path: str, st: os.stat_result, me: int | None = None) -> str | None:
    """Why one entry is not trusted, or None: owned by this user or root, not writable by others."""
    me = _me() if me is None else me
    if me is not None and st.st_uid != me and st.st_uid != 0:
        return f"{path} is owned by uid {st.st_uid}, not by this user"
    if st.st_mode & _WRITABLE_BY_OTHERS:
        return f"{path} is group- or world-writable ({stat.filemode(st.st_mode)})"
    return None


def _walk(path: str, home: str, me: int, hops: int) -> str | None:
    return _walk_from(path, home, me, hops)[0]


def _walk_from(path: str, home: str, me: int, hops: int) -> tuple[str | None, os.stat_result | None]:
    """The walk up, and the first dir's own lstat (None when absent or a link)."""
    first: os.stat_result | None = None
    start = True  # the state dir itself is never a public sticky dir, only its parents may be
    while True:
        try:
            st: os.stat_result | None = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None  # not created yet: its parent decides (creating it will say why not)
        except OSError as exc:
            return f"cannot check {path}: {exc.strerror}", first
        if st is not None:
            kind = st.st_mode & _S_IFMT
            if start and kind == _S_IFDIR:
                first = st
            if kind == _S_IFLNK:
                # The target's chain must be safe; the link's own dir (checked next) guards the link.
                if hops >= _MAX_LINK_HOPS:
                    return f"{path}: too many symlinks", first
                reason = _walk(os.path.realpath(path), home, me, hops + 1)
                if reason:
                    return reason, first
            elif not start and st.st_uid == 0 and st.st_mode & _STICKY and kind == _S_IFDIR:
                return None, first  # a root-owned sticky dir (/tmp): others may add entries, never replace ours
            elif (st.st_uid != me and st.st_uid != 0) or st.st_mode & _WRITABLE_BY_OTHERS:
                return entry_problem(path, st, me), first
            elif path == home:
                return None, first
        start = False
        parent = _parent(path)
        if parent == path:
            return None, first
        path = parent


def _up(path: str) -> tuple[str | None, os.stat_result | None]:
    me = _me()
    if me is None:
        return None, None  # Windows: per-user profile ACLs, not POSIX modes
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return _walk_from(_normal(os.path.abspath(path) if not path.startswith("/") else path), _normal(home), me, 0)


def dir_problem(path: str) -> str | None:
    """Why the state dir ``path`` may not be used, naming the dir at fault; None when it may."""
    return _up(path)[0]


def site_problem(site_dir: str, root: str) -> str | None:
    """The whole rule for a dir that goes on sys.path: the state dir and its parents, then each
    dir from ``site_dir`` up to the state dir. A state dir that nobody else may even enter (no
    group or other x bit, as sdkboot makes it) shields everything below it: only the lexical
    check is left then, and the no-op path saves one lstat per level."""
    reason, st = _up(root)
    if reason:
        return reason
    if st is not None and not st.st_mode & 0o011 and _inside(_normal(site_dir), _normal(root)):
        return None
    return tree_problem(site_dir, root)


def _inside(path: str, root: str) -> bool:
    return path.startswith(root.rstrip(os.sep) + os.sep)


def tree_problem(path: str, root: str) -> str | None:
    """``path`` and each dir between it and ``root``: inside ``root``, no symlink, trusted entries."""
    path, root = _normal(path), _normal(root)
    if not _inside(path, root):
        # A build may report the real path of a state dir reached through a link (macOS /var).
        real_root = os.path.realpath(root)
        if not _inside(path, real_root):
            return f"{path} is outside the state dir {root}"
        root = real_root
    me = _me()
    while path != root:
        try:
            st = os.lstat(path)
        except OSError as exc:
            return f"cannot check {path}: {exc.strerror}"
        if st.st_mode & _S_IFMT == _S_IFLNK:
            return f"{path} is a symlink inside the state dir (refused)"
        if (me is not None and st.st_uid != me and st.st_uid != 0) or st.st_mode & _WRITABLE_BY_OTHERS:
            return entry_problem(path, st, me)
        path = _parent(path)
    return None


def startup_files(site_dir: str) -> tuple[str, ...]:
    """The ``.pth`` files in ``site_dir``: ``site.addsitedir`` runs them."""
    try:
        return tuple(os.path.join(site_dir, n) for n in sorted(os.listdir(site_dir)) if n.endswith(".pth"))
    except OSError:
        return ()


def path_problem(path: str) -> str | None:
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
