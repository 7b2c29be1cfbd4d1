"""Progress: what a long step is doing, shown as one updating line on a terminal."""
from __future__ import annotations

import re
import sys
import time
from typing import Callable, Optional, TextIO

# (phase label, detail) -> None. The detail is "" when nothing finer is known.
ProgressSink = Callable[[str, str], None]

_PIP_LINE = re.compile(r"^(collecting|processing|downloading|using cached)\s+(\S+)", re.IGNORECASE)
_PIP_INSTALLING = re.compile(r"^installing collected packages:\s*(.+)$", re.IGNORECASE)


def pip_detail(line: bytes) -> Optional[str]:
    """The package a pip output line is about, when the line says so."""
    text = line.decode("utf-8", errors="replace").strip()
    match = _PIP_LINE.match(text)
    if match:
        name = match.group(2).rsplit("/", 1)[-1]
        return f"{match.group(1).lower()} {name}"
    installing = _PIP_INSTALLING.match(text)
    return f"installing {installing.group(1)}" if installing else None


class TerminalProgress:
    """Redraws ``sdkboot: <phase> <elapsed>s <detail>`` in place about twice a second.

    It has no thread of its own (under RLIMIT_AS one may not start): the runner's select loop
    calls ``tick()`` while a step runs. The first draw waits one interval, so quick steps never
    flash a line.
    """

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 0.5) -> None:
        self.stream = stream
        self.interval = interval
        self._phase, self._detail, self._since = "", "", time.monotonic()
        self._due: Optional[float] = None
        self._width = 0

    def __call__(self, phase: str, detail: str) -> None:
        if phase != self._phase:
            self._phase, self._since = phase, time.monotonic()
        self._detail = detail
        if self._due is None:
            self._due = time.monotonic() + self.interval

    def tick(self) -> None:
        """Draw when an interval has passed since the first step began or the last draw."""
        if self._due is not None and time.monotonic() >= self._due:
            self._draw()
            self._due = time.monotonic() + self.interval

    def _draw(self) -> None:
        elapsed = time.monotonic() - self._since
        text = f"sdkboot: {self._phase} {elapsed:5.1f}s {self._detail}"[:100]
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Stop drawing and erase the line, so the final message starts clean."""
        self._due = None
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0
