"""Rendering for people: Markdown tables (measurements), aligned tables (terminal listings),
and the one-line progress display for terminals every repro command uses."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from typing import TextIO

from sdkboot.progress import terminal_columns


def _cell(value: object) -> str:
    # A pipe would end the cell early; a newline would end the row.
    return str(value).replace("|", "\\|").replace("\n", " ")


def clip(text: str, width: int) -> str:
    """Shorten from the middle: messages differ at the end as often as at the start."""
    if len(text) <= width:
        return text
    half = (width - 3) // 2
    return f"{text[:half]} … {text[len(text) - half :]}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def aligned_table(rows: Sequence[Sequence[str]]) -> str:
    """Plain columns for a terminal, the first row the header: what the Docker commands print."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def fit(text: str, columns: int | None = None) -> str:
    """``text`` cut to one terminal line (less one column, so the cursor never wraps)."""
    width = (columns or shutil.get_terminal_size().columns) - 1
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class Progress:
    """Rewrites one status line in place; silent unless the stream is a terminal.

    The line is cut to the terminal's width, read at each update (the window may be resized):
    a line that wraps can no longer be rewritten in place.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.width = 0

    def update(self, text: str) -> None:
        if self.enabled:
            # The width of the terminal this stream writes to: stdout may be a pipe meanwhile.
            line = fit(text, terminal_columns(self.stream))
            self.stream.write("\r" + line.ljust(self.width))
            self.stream.flush()
            self.width = len(line)

    def done(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
