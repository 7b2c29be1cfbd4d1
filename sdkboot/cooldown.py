"""The cooldown record: after a signal kill, do not retry inside the window.

A build that was memory-killed will almost surely be killed again; retrying on every
session only burns the user's memory and CPU.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

from .fsutil import read_json, write_json_atomic
from .layout import Layout
from .state import Fingerprint


def arm(layout: Layout, now: float, rc: Optional[int], phase: str, fp: Fingerprint) -> None:
    write_json_atomic(layout.cooldown_file, {"time": now, "rc": rc, "phase": phase, "fingerprint": fp})


def _age_limited(record: Dict[str, Any], now: float, window: float) -> float:
    stamp = record.get("time")
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        return 0.0  # corrupt: ignored
    # A clock that went backwards (a stamp in the future) blocks at most one window.
    return max(0.0, min(window, stamp + window - now))


def remaining(layout: Layout, now: float, window: float, fp: Fingerprint) -> float:
    """Seconds left in an active cooldown for this fingerprint; 0.0 when none applies."""
    record, _ = read_json(layout.cooldown_file)
    if record is None or record.get("fingerprint") != fp:
        return 0.0  # absent, corrupt, or made for another interpreter/requirement set
    return _age_limited(record, now, window)


def read(layout: Layout) -> Optional[Dict[str, Any]]:
    return read_json(layout.cooldown_file)[0]


def clear(layout: Layout) -> None:
    """A successful build ends any cooldown."""
    try:
        os.unlink(layout.cooldown_file)
    except OSError:
        pass
