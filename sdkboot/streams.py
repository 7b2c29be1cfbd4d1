"""The standard streams as a shell may hand them over: closed, or a pipe whose reader went away.

Nothing here raises: a message about a broken stream must not itself become a traceback.
"""

from __future__ import annotations

import os
import sys

# 128 + SIGPIPE: what a shell reports for a writer whose reader left (``yes | head -1``).
EXIT_BROKEN_PIPE = 141


def reserve_closed() -> frozenset[int]:
    """Put /dev/null on each closed fd 0-2 and return which were closed.

    Otherwise the next file sdkboot opens (the lock, the event log) would become fd 1,
    and whatever is printed would land in it.
    """
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for fd in closed:  # ascending, so os.open returns exactly this fd
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    if sys.stderr is None:
        # print(file=None) falls back to stdout: an error line would corrupt the hook's protocol.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (stderr for the rest of the process)
    return frozenset(closed)


def stdout_closed(closed: frozenset[int]) -> bool:
    return sys.stdout is None or 1 in closed


def stdin_usable() -> bool:
    return sys.stdin is not None and not sys.stdin.closed


def flush_stdout() -> None:
    """Flush now, so a reader that left is noticed here and not at interpreter exit."""
    if sys.stdout is not None:
        sys.stdout.flush()


def discard_stdout() -> None:
    """After EPIPE: point fd 1 at /dev/null so the interpreter's own final flush cannot fail again."""
    try:
        if sys.stdout is None or sys.stdout.fileno() != 1:
            return
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        pass


def say(line: str) -> None:
    """One line on stderr, or nothing when stderr is gone too (``2>&1 | head``)."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
