"""SIGINT and SIGTERM, handled alike: stop everything, clean up, say so.

The CLI turns both signals into ``Interrupted`` while it works. It is a BaseException, so no
``except Exception`` swallows it: it unwinds through the runner (which kills every descendant of
the step), the build (which removes its stage) and the lock (which is released), and ``ensure()``
logs an "interrupted" event on its way out. A library host keeps its own signal handling;
``ensure()`` then sees KeyboardInterrupt and logs it the same way.
"""

import signal
import sys

HANDLED = ("SIGINT", "SIGTERM")


class Interrupted(BaseException):
    """A signal asked sdkboot to stop. ``result`` is what ``ensure()`` logged, once it has."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.result: object = None

    @property
    def name(self) -> str:
        return signal_name(self.signum)

    @property
    def exit_code(self) -> int:
        """The shell's convention: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


def signum_of(exc: BaseException) -> int:
    """The signal behind an interruption: KeyboardInterrupt is SIGINT; 0 for anything else
    (a host's SystemExit, say)."""
    if isinstance(exc, Interrupted):
        return exc.signum
    return int(signal.SIGINT) if isinstance(exc, KeyboardInterrupt) else 0


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _raise_once(signum: int, frame: object) -> None:
    # Later signals are ignored: a second Ctrl-C must not cut the cleanup of the first short.
    for name in HANDLED:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    raise Interrupted(signum)


def install() -> None:
    """Raise Interrupted on the first SIGINT or SIGTERM (main thread only; elsewhere a no-op)."""
    if sys.platform == "win32":
        return  # Ctrl-C is KeyboardInterrupt there, and SIGTERM cannot be caught
    try:
        for name in HANDLED:
            signal.signal(getattr(signal, name), _raise_once)
    except ValueError:
        pass  # not the main thread: the caller's own handling stays


def ignore() -> None:
    """From here on the work is done: a late signal must not cut the final answer short."""
    if sys.platform == "win32":
        return
    try:
        for name in HANDLED:
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    except ValueError:
        pass
