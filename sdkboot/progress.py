"""Progress: what a long step is doing, shown as one updating line on a terminal."""

from __future__ import annotations

import os
import re
import sys
import time
import unicodedata
from typing import Callable, TextIO

# (phase label, detail) -> None. The detail is "" when nothing finer is known.
ProgressSink = Callable[[str, str], None]

_PIP_LINE = re.compile(r"^(collecting|processing|downloading|using cached)\s+(\S+)", re.IGNORECASE)
_PIP_INSTALLING = re.compile(r"^installing collected packages:\s*(.+)$", re.IGNORECASE)
# pip's text must not move the cursor or recolour the terminal: controls become "?".
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
FALLBACK_COLUMNS = 80


def pip_detail(line: bytes) -> str | None:
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
        self._due: float | None = None
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
        text = fit(f"sdkboot: {self._phase} {elapsed:5.1f}s {self._detail}", self.columns() - 1)
        # Pad over what the last draw left, but never into the last column: a full row wraps.
        self.stream.write("\r" + text + " " * max(0, min(self._width, self.columns() - 1) - cells(text)))
        self.stream.flush()
        self._width = cells(text)

    def columns(self) -> int:
        """The terminal's width now (it may have been resized): $COLUMNS, else the stream's tty."""
        return terminal_columns(self.stream)

    def close(self) -> None:
        """Stop drawing and erase the line, so the final message starts clean."""
        self._due = None
        if self._width:
            self.stream.write("\r" + " " * min(self._width, self.columns() - 1) + "\r")
            self.stream.flush()
            self._width = 0


def terminal_columns(stream: TextIO) -> int:
    """Columns of the terminal ``stream`` writes to: $COLUMNS when set (as shutil reads it), else the
    size of the stream's own tty (not stdout's: stdout may be a pipe), else 80."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(stream.fileno()).columns or FALLBACK_COLUMNS
    except (OSError, ValueError, AttributeError):  # no fileno, not a tty, or closed
        return FALLBACK_COLUMNS


def _cell(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cells(text: str) -> int:
    """How many terminal columns ``text`` takes (wide CJK characters take two)."""
    return sum(_cell(char) for char in text)


def fit(text: str, limit: int) -> str:
    """``text`` without control characters, cut to ``limit`` columns ("..." marks the cut)."""
    text = _CONTROLS.sub("?", text)
    if cells(text) <= limit:
        return text
    kept, used = [], 0
    for char in text:
        if used + _cell(char) > max(0, limit - 3):
            break
        kept.append(char)
        used += _cell(char)
    return ("".join(kept) + "...")[: max(0, limit)]
