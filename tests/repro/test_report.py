"""Table rendering and the terminal-only progress line."""

from __future__ import annotations

import io

import pytest

from repro.report import Progress, aligned_table, clip, markdown_table


def test_markdown_table_escapes_pipes_and_newlines() -> None:
    text = markdown_table(["a", "b"], [["x|y", "1\n2"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 2 |"]


def test_aligned_table_pads_columns_and_trims_line_ends() -> None:
    text = aligned_table([["NAME", "STATUS"], ["debian12-venv", "ok"], ["x", ""]])
    assert text.splitlines() == ["NAME           STATUS", "debian12-venv  ok", "x"]


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


def test_progress_fits_the_width_of_its_own_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "20")
    stream = FakeTerminal()
    Progress(stream).update("debian12-pip: 12.0s  retrieving 40: libc6 2.36-9")
    written = stream.getvalue()
    assert written.startswith("\r") and len(written) - 1 == 19 and written.endswith("…")
