"""A hang is a failure, not a stuck test run: ``with deadline(5): ...`` raises instead."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any


class Hung(BaseException):
    """The guarded block did not finish in time (say, blocked opening a FIFO).

    A BaseException, like KeyboardInterrupt: ensure() turns every Exception into a result.
    """


def _expire(signum: int, frame: Any) -> None:
    raise Hung("did not finish before the deadline")


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (POSIX: a blocked open() returns EINTR, then raises)."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
