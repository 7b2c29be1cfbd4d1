"""Table rendering and the terminal-only progress line."""
from __future__ import annotations

import io

from repro.report import Progress, clip, markdown_table


def test_markdown_table_escapes_pipes_and_newlines() -> None:
    text = markdown_table(["a", "b"], [["x|y", "1\n2"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 2 |"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_off_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress.update("run 1")
    progress.done()
    assert stream.getvalue() == ""


def test_progress_rewrites_one_line_and_clears_it() -> None:
    stream = FakeTerminal()
    progress = Progress(stream)
    progress.update("run 10 at 64 MiB")
    progress.update("run 11")
    progress.done()
    assert stream.getvalue() == ("\rrun 10 at 64 MiB" + "\rrun 11          " + "\r" + " " * 6 + "\r")


def test_clip_keeps_both_ends() -> None:
    line = "Error: Command '['/w/env/bin/python3', '-m', 'ensurepip']' died with <Signals.SIGKILL: 9>."
    assert clip(line, 200) == line
    clipped = clip(line, 41)
    assert clipped == "Error: Command '['/ … ignals.SIGKILL: 9>." and len(clipped) == 41
