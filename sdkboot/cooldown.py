"""The cooldown record: after a signal kill or a memory failure, do not retry inside the window.

A build that was memory-killed will almost surely be killed again; retrying on every
session only burns the user's memory and CPU.

The window is measured by the boot clock (seconds since boot, suspend included, with the boot
id), which nobody sets: a wall clock that jumps back cannot stretch it, and jumps cannot renew
it. A record from an earlier boot is at least the current uptime old. Where there is no boot
clock (not Linux, or a caller's own wall clock), the wall clock decides and a stamp in the
future restarts once at ``now``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from typing import Any

from .layout import Layout
from .safefs import open_regular, read_bytes, read_json, write_json_atomic
from .state import Fingerprint

# (boot id, seconds since that boot): see boot_time().
BootTime = tuple[str, float]
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


def boot_time() -> BootTime | None:
    """This boot's id and the seconds since it began (CLOCK_BOOTTIME); None off Linux."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is None:
        return None
    data, _ = read_bytes(BOOT_ID_FILE, 64)
    ident = data.decode("ascii", errors="replace").strip() if data else ""
    if not ident:
        return None
    try:
        return ident, time.clock_gettime(clock)
    except OSError:
        return None


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


def _overwrite(path: str, record: dict[str, Any]) -> bool:
    """Write ``record`` into the existing file's own blocks (trailing spaces are valid JSON)."""
    try:
        fd = open_regular(path, os.O_WRONLY, for_writing=True)
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


def arm(layout: Layout, now: float, rc: int | None, phase: str, fp: Fingerprint, boot: BootTime | None = None) -> None:
    """Start the window. On a full disk the record goes into the reserved file in place."""
    record: dict[str, Any] = {"time": now, "rc": rc, "phase": phase, "fingerprint": fp}
    if boot is not None:
        record["boot"] = {"id": boot[0], "seconds": boot[1]}
    try:
        write_json_atomic(layout.cooldown_file, record)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not _overwrite(layout.cooldown_file, record):
            raise


def _number(value: object) -> float | None:
    """A finite number, or None for anything else (NaN, Infinity, a string, a 400-digit int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and abs(value) >= 10**15:
        return None  # math.isfinite() and float() would overflow on it
    return float(value) if math.isfinite(value) else None


def _stamp(record: dict[str, Any]) -> float | None:
    return _number(record.get("time"))


def _recorded_boot(record: dict[str, Any]) -> BootTime | None:
    boot = record.get("boot")
    if not isinstance(boot, dict) or not isinstance(boot.get("id"), str):
        return None
    seconds = _number(boot.get("seconds"))
    return None if seconds is None else (boot["id"], seconds)


def _boot_age(record: dict[str, Any], stamp: float, now: float, boot: BootTime | None) -> float | None:
    """Seconds since the kill by the boot clock; None when either side has no boot clock."""
    then = _recorded_boot(record)
    if boot is None or then is None:
        return None
    if then[0] == boot[0]:
        elapsed = boot[1] - then[1]
        return elapsed if elapsed >= 0 else math.inf  # a reference from the future: no such record
    return max(now - stamp, boot[1])  # an earlier boot: at least this boot's uptime ago


def _rebase(layout: Layout, record: dict[str, Any], now: float) -> None:
    """A stamp in the future (the clock went back) restarts at ``now``: it blocks one window, not more."""
    try:
        write_json_atomic(layout.cooldown_file, {**record, "time": now})
    except OSError:
        pass


def remaining(layout: Layout, now: float, window: float, fp: Fingerprint, boot: BootTime | None = None) -> float:
    """Seconds left in an active cooldown for this fingerprint; 0.0 when none applies."""
    record, _ = read_json(layout.cooldown_file)
    if record is None or record.get("fingerprint") != fp:
        return 0.0  # absent, corrupt, or made for another interpreter/requirement set
    stamp = _stamp(record)
    if stamp is None:
        return 0.0
    age = _boot_age(record, stamp, now, boot)
    if age is None:  # the wall clock alone
        if stamp > now:
            _rebase(layout, record, now)
            stamp = now
        age = now - stamp
    return max(0.0, min(window, window - age))


def read(layout: Layout) -> dict[str, Any] | None:
    return read_json(layout.cooldown_file)[0]


def clear(layout: Layout) -> None:
    """A successful build ends any cooldown."""
    try:
        os.unlink(layout.cooldown_file)
    except OSError:
        pass
