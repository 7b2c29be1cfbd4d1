"""Every file access under the state dir goes through here.

The state dir sits on a machine nobody here controls, so each of its entries may have been
replaced by a symlink, a FIFO, a device, a directory, a hard link or a huge file. So:

- opens never follow a final symlink (``O_NOFOLLOW``) and never block (``O_NONBLOCK``), and
  what they get must be a regular file (a FIFO or ``/dev/zero`` is refused, not read);
- every read has a size cap;
- every parse is total: any exception means "treated as absent, with a reason";
- writes go to a fresh file that replaces the old one atomically;
- deletes check with ``lstat`` first, never follow a link, and stay inside a state dir that
  carries sdkboot's marker.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
import time
from typing import Any

from .layout import MARKER_FILE, OWN_NAMES

# Caps on what is ever read. The real install-state of the SDK closure is about 1 KB.
SMALL_CAP = 64 * 1024
STATE_CAP = 256 * 1024
LOG_CAP = 4 * 1024 * 1024
# JSON integers beyond 20 digits (2**64) are no value sdkboot ever writes: nanosecond stamps and
# inodes are 64-bit; 10**400 would overflow a float.
_MAX_INT_DIGITS = 20

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_SAFE = _NOFOLLOW | _NONBLOCK | _CLOEXEC | _BINARY

MARKER = MARKER_FILE
MARKER_TEXT = b"sdkboot state dir: everything here is managed by sdkboot\n"
# Besides layout.OWN_NAMES: staging files of atomic writes, and entries set aside.
_OWN_PATTERN = re.compile(r"^(\.tmp-.*\.json|.*\.set-aside-[0-9a-f]+)$")
# A staging file of an atomic write: ``.tmp-<pid>-<random>.json`` (older versions: no pid).
_TEMP = re.compile(r"^\.tmp-(?:(\d+)-)?[A-Za-z0-9_]+\.json$")
# A temp file older than this is abandoned even if its pid is alive again (pid reuse).
TEMP_MAX_AGE = 600.0


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symlink"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def describe(exc: OSError) -> str:
    """One line for an OSError from an open here: a refused symlink says so."""
    if exc.errno in (errno.ELOOP, errno.EMLINK):
        return "is a symlink (refused)"
    return exc.strerror or str(exc)


def _owned_by_me(st: os.stat_result) -> bool:
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def open_regular(path: str, flags: int, mode: int = 0o600, for_writing: bool = False) -> int:
    """Open ``path`` without following a link or blocking; refuse anything but a regular file.

    A file opened to be modified in place (the lock, the log) must also be ours and have one
    link: a hard link would make sdkboot truncate or append to some other file of the user's.
    """
    fd = os.open(path, flags | _SAFE, mode)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PermissionError(errno.EACCES, f"{_kind(st.st_mode)}, not a regular file (refused)", path)
        if for_writing and (st.st_nlink > 1 or not _owned_by_me(st)):
            raise PermissionError(errno.EACCES, "hard-linked or not owned by this user (refused)", path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_fd(fd: int, cap: int) -> bytes | None:
    """At most ``cap`` bytes; None when there is more (a growing file is caught too)."""
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = os.read(fd, min(cap + 1 - size, 1 << 20))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return None


def read_bytes(path: str, cap: int) -> tuple[bytes | None, str | None]:
    """``(data, None)``, or ``(None, reason)``: absent, refused, unreadable or over ``cap`` bytes."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return None, "absent"
    except OSError as exc:
        return None, f"unreadable: {describe(exc)}"
    try:
        if os.fstat(fd).st_size > cap:
            return None, f"too large (over {cap} bytes)"
        data = _read_fd(fd, cap)
    except OSError as exc:
        return None, f"unreadable: {describe(exc)}"
    finally:
        os.close(fd)
    return (data, None) if data is not None else (None, f"too large (over {cap} bytes)")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError("number out of range")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number")


def parse_json(raw: bytes, strict_numbers: bool = True) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON object, or ``(None, reason)``. Total: deep nesting, huge numbers, NaN, bad UTF-8,
    even MemoryError are all just "corrupt".

    ``strict_numbers=False`` keeps json's fast number parsing (a per-number hook costs the no-op
    path microseconds): only for a reader that checks the range of every number it uses, as
    the install-state does. NaN and Infinity are refused either way.
    """
    hooks: dict[str, Any] = {"parse_int": _bounded_int, "parse_float": _finite_float} if strict_numbers else {}
    try:
        data = json.loads(raw, parse_constant=_no_constant, **hooks)
    except Exception as exc:  # the point: no input may raise out of here
        return None, f"corrupt: {type(exc).__name__}: {str(exc)[:120]}".splitlines()[0]
    if not isinstance(data, dict):
        return None, "corrupt: not a JSON object"
    return data, None


def read_json(path: str, cap: int = SMALL_CAP, strict_numbers: bool = True) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``(data, None)``, or ``(None, reason)`` when absent, refused, too large or corrupt."""
    raw, reason = read_bytes(path, cap)
    if raw is None:
        return None, reason
    return parse_json(raw, strict_numbers)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def set_aside(path: str) -> str:
    """Rename what is in the way (say, a directory where a file must go): nothing is lost."""
    aside = f"{path}.set-aside-{time.time_ns():x}"
    os.replace(path, aside)
    return aside


def _replace(tmp: str, path: str) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EACCES):
            raise
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise
        set_aside(path)
        os.replace(tmp, path)


def temp_name(path: str) -> str:
    """``.tmp-<pid>-<random>.json`` beside ``path``: the pid lets a later sweep find orphans."""
    return os.path.join(os.path.dirname(path) or ".", f".tmp-{os.getpid()}-{os.urandom(6).hex()}.json")


def write_json_atomic(path: str, data: dict[str, Any]) -> None:
    """Stage beside ``path``, fsync, then ``os.replace``: readers see the old file or the new one.

    The replace swaps the directory entry, so a symlink or hard link at ``path`` is replaced,
    never written through.
    """
    payload = json.dumps(data, sort_keys=True, allow_nan=False).encode("utf-8")
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE, 0o600)
    try:
        try:
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        _replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def can_write(directory: str) -> bool:
    """Really try: ``os.access`` says yes to root even on a read-only file system."""
    probe = os.path.join(directory, f".tmp-{os.getpid()}-probe{os.urandom(4).hex()}.json")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE, 0o600))
    except OSError:
        return False
    unlink_quietly(probe)
    return True


# -- what belongs to sdkboot, and deleting it --------------------------------------------------


def is_own(root: str) -> bool:
    """True for a dir that carries sdkboot's marker."""
    data, _ = read_bytes(os.path.join(root, MARKER), SMALL_CAP)
    return data == MARKER_TEXT


def _foreign_entries(root: str) -> list[str]:
    return sorted(n for n in os.listdir(root) if n not in OWN_NAMES and not _OWN_PATTERN.match(n))


def foreign(root: str) -> str | None:
    """Why ``root`` is not sdkboot's state dir, or None when it is (or may become it).

    A dir with the marker is sdkboot's; so is an absent or empty one, or one holding only the
    names sdkboot creates (a state dir from before the marker existed).
    """
    if is_own(root):
        return None
    try:
        if not stat.S_ISDIR(os.stat(root).st_mode):
            return f"{root} is not a directory"
        others = _foreign_entries(root)
    except OSError:
        return None  # nothing there (or nothing listable): creating it will say why not
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        return f"{root} is not an sdkboot state dir (no {MARKER} marker; it holds {shown})"
    return None


def claim(root: str) -> None:
    """Mark ``root`` as sdkboot's (it must already pass ``foreign``)."""
    if not is_own(root):
        write_bytes_atomic(os.path.join(root, MARKER), MARKER_TEXT)


def write_bytes_atomic(path: str, data: bytes) -> None:
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE, 0o600)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        _replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise


def make_private_dirs(path: str) -> None:
    """``mkdir -p`` where EVERY created level is 0700 (``os.makedirs`` gives parents the umask's mode)."""
    missing: list[str] = []
    current = os.path.abspath(path)
    while not os.path.lexists(current):  # an existing non-dir: mkdir below says ENOTDIR
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            if not os.path.isdir(directory):
                raise


def _inside(path: str, root: str) -> bool:
    path, root = os.path.normpath(path), os.path.normpath(root)
    return path != root and path.startswith(root.rstrip(os.sep) + os.sep)


def _real_dirs_between(root: str, path: str) -> str | None:
    """Every dir below ``root`` down to ``path``'s parent must be a real dir, not a link.

    ``root`` itself may be reached through a link: the ownership rule vouches for its path.
    """
    parent = os.path.dirname(os.path.normpath(path))
    chain: list[str] = []
    while _inside(parent, root):
        chain.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(chain):
        mode = os.lstat(directory).st_mode
        if not stat.S_ISDIR(mode):
            return f"{directory} is {_kind(mode)}"
    return None


def remove(path: str, root: str) -> None:
    """Delete ``path`` (a file, a link as a link, or a whole tree) inside the marked dir ``root``.

    Refuses (PermissionError) outside ``root``, in an unmarked dir, or below a symlinked dir:
    ``rm`` through ``builds -> ~/projects`` is exactly what must never happen.
    """
    if not _inside(path, root) or not is_own(root):
        raise PermissionError(errno.EACCES, "outside sdkboot's own state dir (refused)", path)
    reason = _real_dirs_between(root, path)
    if reason:
        raise PermissionError(errno.EACCES, f"{reason} (refused)", path)
    mode = os.lstat(path).st_mode
    if stat.S_ISDIR(mode):
        # Imported here: on 3.9 shutil loads bz2, and bz2 loads threading, on the no-op path.
        import shutil

        shutil.rmtree(path)  # the fd-based rmtree: it unlinks links inside, never follows them
    else:
        os.unlink(path)


def remove_quietly(path: str, root: str) -> bool:
    try:
        remove(path, root)
        return True
    except OSError:
        return False


def _abandoned(match: re.Match[str], st: os.stat_result, now: float) -> bool:
    if now - st.st_mtime > TEMP_MAX_AGE:
        return True
    pid = int(match.group(1)) if match.group(1) else 0
    if not pid or pid == os.getpid() or sys.platform == "win32":
        return False  # (os.kill on Windows would terminate the process: age decides there)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def stale_temps(root: str, now: float) -> list[str]:
    """Staging files of atomic writes whose writer died (a kill mid-write leaves them)."""
    found = []
    try:
        names = os.listdir(root)
    except OSError:
        return []
    for name in names:
        match = _TEMP.match(name)
        if not match:
            continue
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and _abandoned(match, st, now):
            found.append(path)
    return found


def sweep_temps(root: str, now: float) -> None:
    for path in stale_temps(root, now):
        remove_quietly(path, root)
