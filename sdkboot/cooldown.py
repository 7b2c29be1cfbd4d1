"""The cooldown record: after a signal kill or a memory failure, do not retry inside the window.

A build that was memory-killed will almost surely be killed again; retrying on every
session only burns the user's memory and CPU.
"""
from __future__ import annotations

import errno
import json
import math
import os
from typing import Any, Dict, Optional

from .safefs import read_json, write_json_atomic
from .layout import Layout
from .state import Fingerprint


# Space held for a cooldown record while a build runs (one file system block): see reserve().
RESERVED_BYTES = 4096


def reserve(layout: Layout) -> None:
    """Before a build, claim the space a cooldown record needs, so that a build killed on a disk
    filled meanwhile still cools down (``arm`` then writes in place). It reads as no cooldown."""
    if os.path.lexists(layout.cooldown_file):
        return  # a record is there already: its blocks serve as well
    try:
        write_json_atomic(layout.cooldown_file, {"reserved": True, "padding": " " * RESERVED_BYTES})
    except OSError:
        pass  # already full: nothing to hold


def release(layout: Layout) -> None:
    """After a build that armed nothing: drop the reservation (never a real record)."""
    record = read(layout)
    if record is not None and record.get("reserved") is True:
        clear(layout)


def _overwrite(path: str, record: Dict[str, Any]) -> bool:
    """Write ``record`` into the existing file's own blocks (trailing spaces are valid JSON)."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        data = json.dumps(record, sort_keys=True).encode()
        os.write(fd, data + b" " * max(0, os.fstat(fd).st_size - len(data)))
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def arm(layout: Layout, now: float, rc: Optional[int], phase: str, fp: Fingerprint) -> None:
    """Start the window. On a full disk the record goes into the reserved file in place."""
    record = {"time": now, "rc": rc, "phase": phase, "fingerprint": fp}
    try:
        write_json_atomic(layout.cooldown_file, record)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not _overwrite(layout.cooldown_file, record):
            raise


def _stamp(record: Dict[str, Any]) -> Optional[float]:
    stamp = record.get("time")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp):
        return None  # corrupt (NaN, Infinity, a string): ignored
    return float(stamp)


def _rebase(layout: Layout, record: Dict[str, Any], now: float) -> None:
    """A stamp in the future (the clock went back) restarts at ``now``: it blocks one window, not more."""
    try:
        write_json_atomic(layout.cooldown_file, {**record, "time": now})
    except OSError:
        pass


def remaining(layout: Layout, now: float, window: float, fp: Fingerprint) -> float:
    """Seconds left in an active cooldown for this fingerprint; 0.0 when none applies."""
    record, _ = read_json(layout.cooldown_file)
    if record is None or record.get("fingerprint") != fp:
        return 0.0  # absent, corrupt, or made for another interpreter/requirement set
    stamp = _stamp(record)
    if stamp is None:
        return 0.0
    if stamp > now:
        _rebase(layout, record, now)
        stamp = now
    return max(0.0, min(window, stamp + window - now))


def read(layout: Layout) -> Optional[Dict[str, Any]]:
    return read_json(layout.cooldown_file)[0]


def clear(layout: Layout) -> None:
    """A successful build ends any cooldown."""
    try:
        os.unlink(layout.cooldown_file)
    except OSError:
        pass
