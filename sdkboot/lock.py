"""A build lock the kernel releases when its holder dies.

An O_EXCL sentinel file outlives a SIGKILLed builder and blocks every later session;
an advisory OS lock (flock / msvcrt.locking) cannot: it goes with the process.
"""

from __future__ import annotations

import os
import sys

from .safefs import open_regular, read_bytes

PROC_LOCKS = "/proc/locks"

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
        self._fd: int | None = None

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
        try:
            _write_pid(fd)
        except BaseException:
            # e.g. a full disk: give the lock back, or every later build sees it held until we exit
            _unlock(fd)
            os.close(fd)
            raise
        self._fd = fd
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

    def detach(self) -> int:
        """Give up ownership without unlocking: the descriptor (and the lock) goes to an exec'd heir."""
        fd, self._fd = self._fd, None
        return -1 if fd is None else fd

    def __enter__(self) -> BuildLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _write_pid(fd: int) -> None:
    # The file is never deleted (that would race); only its content changes.
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, str(os.getpid()).encode())


def _kernel_holders(st: os.stat_result) -> set[int] | None:
    """PIDs holding a flock on the file ``st`` describes, from ``/proc/locks``; None off Linux."""
    data, _ = read_bytes(PROC_LOCKS, 4 * 1024 * 1024)
    if data is None:
        return None
    inode, found, exact = str(st.st_ino), set(), set()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{inode}"
    for line in data.decode("ascii", errors="replace").splitlines():
        fields = line.split()  # "1: FLOCK ADVISORY WRITE <pid> <maj:min:inode> 0 EOF"; "->" marks a waiter
        if len(fields) < 6 or fields[1] != "FLOCK" or not fields[4].isdigit():
            continue
        if fields[5].rsplit(":", 1)[-1] == inode:
            found.add(int(fields[4]))
            if fields[5] == device:
                exact.add(int(fields[4]))
    return exact or found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


def holder(path: str) -> int | None:
    """PID of the process building right now, or None when nobody holds the lock.

    It never takes the lock itself (a status run must not make a concurrent build see the lock
    held): the kernel's lock table says who holds it on Linux; elsewhere the recorded PID, if alive.
    """
    try:
        fd = open_regular(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        text = os.read(fd, 32).strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    recorded = int(text) if text.isdigit() else 0
    held = _kernel_holders(st) if sys.platform.startswith("linux") else None
    if held is not None:
        return (recorded if recorded in held else min(held)) if held else None
    if not text:
        return None
    return recorded if recorded and _alive(recorded) else (None if recorded else 0)
