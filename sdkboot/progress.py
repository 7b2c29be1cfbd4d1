"""Progress: what a long step is doing, shown as one updating line on a terminal."""
from __future__ import annotations

import re
import sys
import threading
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
    """Redraws ``sdkboot: <phase> <elapsed>s <detail>`` in place about twice a second."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 0.5) -> None:
        self.stream = stream
        self.interval = interval
        self._phase, self._detail, self._since = "", "", time.monotonic()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._width = 0

    def __call__(self, phase: str, detail: str) -> None:
        if phase != self._phase:
            self._phase, self._since = phase, time.monotonic()
        self._detail = detail
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def _draw(self) -> None:
        elapsed = time.monotonic() - self._since
        text = f"sdkboot: {self._phase} {elapsed:5.1f}s {self._detail}"[:100]
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Stop redrawing and erase the line, so the final message starts clean."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
