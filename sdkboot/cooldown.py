"""The cooldown record: after a signal kill, do not retry inside the window.

A build that was memory-killed will almost surely be killed again; retrying on every
session only burns the user's memory and CPU.
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, Optional

from .fsutil import read_json, write_json_atomic
from .layout import Layout
from .state import Fingerprint


def arm(layout: Layout, now: float, rc: Optional[int], phase: str, fp: Fingerprint) -> None:
    write_json_atomic(layout.cooldown_file, {"time": now, "rc": rc, "phase": phase, "fingerprint": fp})


def _stamp(record: Dict[str, Any]) -> Optional[float]:
    stamp = record.get("time")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp):
        return None  # corrupt (json reads NaN and Infinity too): ignored
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
