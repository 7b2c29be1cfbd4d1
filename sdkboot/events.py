"""The local event log: one JSON line per ``ensure()``, holding the strings that
metrics cannot carry. Writing it must never change an outcome."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .safefs import LOG_CAP, open_regular, read_bytes

MAX_BYTES = 1_000_000
TAIL_BYTES = 2048


def rotated(path: str) -> str:
    return path + ".1"


def _open(path: str) -> int:
    # Never through a link, into a FIFO or onto a hard link of some other file.
    return open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, for_writing=True)


def _lock(fd: int) -> None:
    if sys.platform != "win32":
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)  # held only for one rename


def _rotated_if_full(path: str, fd: int) -> int:
    """The fd to append to. A full log is rotated by exactly one of the sessions that found it
    full: each locks the full file itself, and renames only if that file is still at ``path``
    (a session that decided on a stale look would replace the history with the new small file)."""
    full = os.fstat(fd)
    if full.st_size < MAX_BYTES:
        return fd
    try:
        _lock(fd)
        current = os.lstat(path)
        if (current.st_ino, current.st_dev) == (full.st_ino, full.st_dev):
            os.replace(path, rotated(path))  # keep exactly one old file
    except OSError:
        pass
    finally:
        os.close(fd)  # and with it the lock
    return _open(path)


def append(path: str, record: dict[str, Any]) -> bool:
    """Append ``record``; False (never an exception) when the log cannot be written."""
    try:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        fd = _rotated_if_full(path, _open(path))
        try:
            os.write(fd, line)  # one write on O_APPEND: concurrent sessions do not interleave
        finally:
            os.close(fd)
        return True
    except (OSError, ValueError, TypeError):
        return False


def tail(data: bytes) -> str:
    """The last 2 KB of a stream, decoded leniently."""
    return data[-TAIL_BYTES:].decode("utf-8", errors="replace")


def read_lines(path: str) -> list[str]:
    """Every line of the log and its rotated predecessor, oldest first."""
    lines: list[str] = []
    for name in (rotated(path), path):
        data, _ = read_bytes(name, LOG_CAP)
        if data is not None:
            lines.extend(data.decode("utf-8", errors="replace").splitlines())
    return lines
