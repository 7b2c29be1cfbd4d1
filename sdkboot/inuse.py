"""Live-use locks: a build that a live process imports from is never deleted.

``activate()`` takes a shared ``flock`` on the build's use-lock file and keeps the descriptor
for the life of the process. The descriptor is inheritable, so the lock survives ``exec``
(a launcher that execs the real program keeps it), and the kernel drops it when the last
holder exits, however it dies. Pruning takes the lock exclusively, without waiting, and
deletes only while it holds it: a build whose lock it cannot take is in use and stays.

The file's mtime is the build's last use: ``activate()`` and every no-op ``ensure()`` touch it,
and pruning by age reads it.

Windows has no shared ``flock``: there, nothing is held and nothing counts as in use.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

USE_FILE = ".sdkboot-use.lock"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# env -> the descriptor holding its shared lock, for the life of this process.
_HELD: dict[str, int] = {}


def use_file(env: str) -> str:
    return os.path.join(env, USE_FILE)


def create(env: str) -> None:
    """Made at publish, before the seal stamp: activate() never creates it (that would race a delete)."""
    fd = os.open(use_file(env), os.O_WRONLY | os.O_CREAT | _NOFOLLOW, 0o600)
    os.close(fd)


def touch(env: str) -> None:
    """Mark the build as used now; a read-only state dir just keeps the old mark."""
    try:
        os.utime(use_file(env))
    except OSError:
        pass


def last_used(env: str) -> float:
    """When the build was last used (its publish time if it never was); 0.0 when unknown."""
    for path in (use_file(env), env):
        try:
            return os.lstat(path).st_mtime
        except OSError:
            continue
    return 0.0


def held(env: str) -> bool:
    return env in _HELD


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only

    def hold(env: str) -> str | None:
        return None

    @contextlib.contextmanager
    def claimed(env: str) -> Iterator[bool]:
        yield True

else:
    import fcntl

    def _open(env: str) -> int:
        return os.open(use_file(env), os.O_RDONLY | _NOFOLLOW)

    def _still_linked(fd: int, env: str) -> bool:
        """The locked file is still the one at its path (a pruner may have deleted it meanwhile)."""
        try:
            return os.fstat(fd).st_ino == os.lstat(use_file(env)).st_ino
        except OSError:
            return False

    def hold(env: str) -> str | None:
        """Take and keep a shared lock on ``env``; None once held, else why it could not be."""
        if env in _HELD:
            return None
        try:
            fd = _open(env)
        except OSError as exc:
            return f"the build at {env} has no use-lock ({exc.strerror}): it is being removed or was not finished"
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return f"the build at {env} is being removed"
        except OSError:
            os.close(fd)  # no locks here (some network file systems): use it unprotected
            return None
        if not _still_linked(fd, env):
            os.close(fd)
            return f"the build at {env} was just removed"
        os.set_inheritable(fd, True)
        _HELD[env] = fd
        touch(env)
        return None

    def _exclusive(env: str) -> tuple[bool, int | None]:
        try:
            fd = _open(env)
        except (FileNotFoundError, NotADirectoryError):
            return True, None  # no use-lock file, no user: activate() only opens it, never creates it
        except OSError:
            return False, None  # cannot tell: keep it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False, None
        return True, fd

    @contextlib.contextmanager
    def claimed(env: str) -> Iterator[bool]:
        """Yield True while holding ``env`` exclusively (nothing uses it), False when it is in use."""
        free, fd = _exclusive(env)
        try:
            yield free
        finally:
            if fd is not None:
                os.close(fd)


def release_all() -> None:
    """Drop every lock this process holds (tests; a host that unloads every env)."""
    while _HELD:
        _, fd = _HELD.popitem()
        try:
            os.close(fd)
        except OSError:
            pass
