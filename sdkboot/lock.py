"""A build lock the kernel releases when its holder dies.

An O_EXCL sentinel file outlives a SIGKILLed builder and blocks every later session;
an advisory OS lock (flock / msvcrt.locking) cannot: it goes with the process.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

from .safefs import open_regular

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class BuildLock:
    """Non-blocking exclusive lock on ``path``; records the holder's PID in the file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: Optional[int] = None

    def acquire(self) -> bool:
        # It is truncated and written: never through a link, a FIFO, or another file's hard link.
        fd = open_regular(self.path, os.O_RDWR | os.O_CREAT, for_writing=True)
        try:
            locked = _try_lock(fd)
        except BaseException:
            os.close(fd)  # e.g. ENOLCK on NFS: report it, but do not leak the descriptor
            raise
        if not locked:
            os.close(fd)
            return False
        self._fd = fd
        _write_pid(fd)
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "BuildLock":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _write_pid(fd: int) -> None:
    # The file is never deleted (that would race); only its content changes.
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, str(os.getpid()).encode())


def holder(path: str) -> Optional[int]:
    """PID of the process building right now, or None when nobody holds the lock."""
    if not os.path.lexists(path):
        return None  # nothing ever built here; looking must not create the file
    probe = BuildLock(path)
    try:
        if probe.acquire():
            probe.release()
            return None
        with open(path, "rb") as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else 0
