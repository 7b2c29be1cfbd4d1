"""Progress: pip line parsing, the redrawn terminal line, and a real TTY versus a pipe."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sdkboot.progress import TerminalProgress, pip_detail
from tests.conftest import PROBE_DIST, PROBE_MODULE
from tests.fake_envs import MIN_PYTHON, VENV_ORDER, child_env
from tests.interpreters import write_wrapper


@pytest.mark.parametrize(
    "line, detail",
    [
        (b"Collecting foo>=1\n", "collecting foo>=1"),
        (b"Processing /w/foo-1.0-py3-none-any.whl\n", "processing foo-1.0-py3-none-any.whl"),
        (b"Installing collected packages: a, b\n", "installing a, b"),
        (b"Collecting claude-agent-sdk\n", "collecting claude-agent-sdk"),
        (
            b"  Downloading https://example.invalid/packages/ab/cd/foo-1.0-py3-none-any.whl (12 kB)\n",
            "downloading foo-1.0-py3-none-any.whl",
        ),
        (b"  Using cached foo-1.0-py3-none-any.whl (3.1 kB)\n", "using cached foo-1.0-py3-none-any.whl"),
        (b"Processing ./wheels/bar-2.0.tar.gz\r\n", "processing bar-2.0.tar.gz"),
        (b"COLLECTING Foo\n", "collecting Foo"),
        (b"Installing collected packages: sdkboot-probe\n", "installing sdkboot-probe"),
    ],
)
def test_pip_detail_names_the_package(line: bytes, detail: str) -> None:
    assert pip_detail(line) == detail


@pytest.mark.parametrize(
    "line",
    [
        b"Successfully installed a-1.0 b-2.0\n",
        b"Requirement already satisfied: pip in ./lib/python3.11/site-packages (23.2)\n",
        b"Looking in links: /w\n",
        b"  Preparing metadata (pyproject.toml) ... done\n",
        b"Collecting\n",
        b"\n",
        b"",
        b"\xff\xfe\x00 not utf-8\n",
    ],
)
def test_pip_detail_ignores_other_lines(line: bytes) -> None:
    assert pip_detail(line) is None


# --- TerminalProgress into a StringIO ----------------------------------------------------------

DRAWN = re.compile(r"\rsdkboot: (\S+) +(\d+\.\d)s (.*)")


def idle() -> tuple[TerminalProgress, io.StringIO]:
    """A progress that never draws by itself during the test: draws happen when we call them."""
    stream = io.StringIO()
    return TerminalProgress(stream, interval=3600), stream


def test_draws_phase_elapsed_and_detail() -> None:
    progress, stream = idle()
    progress("pip", "collecting foo")
    progress._draw()
    match = DRAWN.fullmatch(stream.getvalue())
    assert match and match.group(1) == "pip" and match.group(3) == "collecting foo"
    assert float(match.group(2)) < 60
    progress.close()


def test_a_shorter_line_blanks_the_rest_of_the_previous_one() -> None:
    progress, stream = idle()
    progress("pip", "collecting a-rather-long-distribution-name>=1.0")
    progress._draw()
    first = stream.getvalue()
    progress("pip", "x")
    progress._draw()
    second = stream.getvalue()[len(first) :]
    assert second.startswith("\rsdkboot: pip") and second.rstrip(" ").endswith(" x")
    assert len(second) == len(first), "padded to the previous width, so no stale characters remain"
    progress.close()


def segments(text: str) -> list[str]:
    """What each redraw put on the line (between carriage returns)."""
    return [chunk for chunk in text.split("\r") if chunk]


@pytest.mark.parametrize("columns", [80, 60, 30, 12])
def test_every_redraw_fits_the_terminal_and_never_reaches_its_last_column(
    monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    progress, stream = idle()
    for detail in ("collecting " + "a-long-distribution-name" * 5, "x", "installing " + "b, " * 60, ""):
        progress("pip", detail)
        progress._draw()
    progress.close()
    assert segments(stream.getvalue()), "it drew"
    assert all(len(chunk) <= columns - 1 for chunk in segments(stream.getvalue())), segments(stream.getvalue())


def test_a_cut_line_says_so_and_keeps_phase_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    progress, stream = idle()
    progress("pip", "collecting " + "z" * 100)
    progress._draw()
    [drawn] = segments(stream.getvalue())
    assert len(drawn) == 39 and drawn.endswith("...") and DRAWN.match("\r" + drawn)


def test_a_terminal_made_narrower_gets_no_padding_past_its_new_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    progress, stream = idle()
    progress("pip", "collecting " + "w" * 80)
    progress._draw()
    monkeypatch.setenv("COLUMNS", "40")
    progress("pip", "x")
    progress._draw()
    progress.close()
    assert all(len(chunk) <= 39 for chunk in segments(stream.getvalue())[1:])


def test_control_characters_and_wide_characters() -> None:
    from sdkboot.progress import cells, fit

    assert fit("a\x1b[31mb\tc", 20) == "a?[31mb?c", "pip's output cannot move the cursor or recolour"
    assert cells("包a") == 3
    assert cells(fit("包" * 10, 9)) <= 9


def test_the_width_comes_from_the_streams_own_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import struct
    import termios

    from sdkboot.progress import terminal_columns

    monkeypatch.delenv("COLUMNS", raising=False)
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 57, 0, 0))
        with open(slave, "w", closefd=False) as tty:
            assert terminal_columns(tty) == 57
        assert terminal_columns(io.StringIO()) == 80, "no terminal: the usual default"
    finally:
        os.close(slave)
        os.close(master)


def test_a_new_phase_restarts_the_clock() -> None:
    progress, stream = idle()
    progress("venv", "")
    time.sleep(0.3)
    progress("venv", "still")
    progress._draw()
    venv = DRAWN.fullmatch(stream.getvalue())
    progress("pip", "")
    progress._draw()
    pip = DRAWN.fullmatch("\r" + stream.getvalue().split("\r")[-1])
    assert venv and pip
    assert float(venv.group(2)) >= 0.3, "same phase: the clock keeps running"
    assert float(pip.group(2)) < 0.3, "new phase: the clock restarts"
    progress.close()


def test_ticks_draw_once_an_interval_has_passed_and_close_erases() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream, interval=0.05)
    progress.tick()
    assert stream.getvalue() == "", "no step yet: nothing to draw"
    progress("pip", "collecting foo")
    progress.tick()
    assert stream.getvalue() == "", "the first draw waits one interval: quick steps never flash"
    time.sleep(0.06)
    progress.tick()
    assert DRAWN.fullmatch(stream.getvalue())
    progress.tick()
    assert stream.getvalue().count("\r") == 1, "at most one draw per interval"
    progress.close()
    text = stream.getvalue()
    width = max(len(chunk) for chunk in text.split("\r"))
    assert text.endswith("\r" + " " * width + "\r")
    time.sleep(0.06)
    progress.tick()
    assert stream.getvalue() == text, "nothing is drawn after close()"


def test_progress_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_threads(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_threads)
    stream = io.StringIO()
    progress = TerminalProgress(stream, interval=0)
    progress("venv", "")
    progress.tick()
    progress.close()
    assert "sdkboot: venv" in stream.getvalue()


def test_close_without_any_step_writes_nothing() -> None:
    stream = io.StringIO()
    TerminalProgress(stream, interval=0.01).close()
    assert stream.getvalue() == ""


# --- a real TTY ---------------------------------------------------------------------------------

needs_pty = pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "openpty"), reason="needs a POSIX pty")

# The venv step takes a while, then fails: long enough for progress to draw, and no pip at all.
SLOW_VENV = 'if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then sleep 1.5; echo "Error: nope" >&2; exit 1; fi\n'


def run_with_pty_stderr(argv: list[str], timeout: float = 240, columns: int = 0) -> tuple[int, bytes, bytes]:
    """Run ``argv`` with stderr on a pseudo-terminal (``columns`` wide, when given; $COLUMNS unset);
    return (rc, stdout, what the terminal got)."""
    master, slave = os.openpty()
    received: list[bytes] = []
    env = child_env()
    if columns:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        env.pop("COLUMNS", None)

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO on Linux once the last writer closed the slave side
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env)
    finally:
        os.close(slave)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        reader.join(10)
        os.close(master)
    return proc.returncode, out, b"".join(received)


def ensure_argv(state: Path, wheels: Path, *extra: str, python: Path | None = None) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "sdkboot",
        "ensure",
        *MIN_PYTHON,
        *VENV_ORDER,
        "--state-dir",
        str(state),
        "--import-name",
        PROBE_MODULE,
        "--no-index",
        "--find-links",
        str(wheels),
        *extra,
        PROBE_DIST,
    ]
    return argv + (["--python", str(python)] if python else [])


@needs_pty
def test_a_slow_step_draws_progress_on_a_terminal(tmp_path: Path) -> None:
    slow = write_wrapper(tmp_path / "py-slow", SLOW_VENV)
    rc, out, terminal = run_with_pty_stderr(ensure_argv(tmp_path / "state", tmp_path, python=slow))
    assert rc == 1 and out == b""
    assert b"\rsdkboot: venv " in terminal
    # The line is erased before the final message, which starts on a clean line.
    assert re.search(rb"\r +\rsdkboot: build_failed in phase venv", terminal), terminal


def screen(output: bytes, columns: int) -> list[str]:
    """The rows a terminal ``columns`` wide shows for ``output``: a row that fills up wraps to the next,
    ``\r`` goes back to the start of the current row, ``\n`` starts a new one."""
    rows, row, col = [[" "] * columns], 0, 0
    for char in output.decode("utf-8", errors="replace"):
        if char == "\r":
            col = 0
        elif char == "\n":
            row, col = row + 1, 0
        else:
            if col == columns:
                row, col = row + 1, 0
            while len(rows) <= row:
                rows.append([" "] * columns)
            rows[row][col] = char
            col += 1
        while len(rows) <= row:
            rows.append([" "] * columns)
    return ["".join(r).rstrip() for r in rows if "".join(r).strip()]


# venv "succeeds" at once, leaving an env whose pip names a long distribution, then fails slowly.
LONG_NAME = "a-distribution-whose-name-is-long-enough-to-wrap-an-eighty-column-terminal>=1.0"
SLOW_PIP = f"""if [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  printf '#!/bin/sh\\necho "Collecting {LONG_NAME}"\\nsleep 1.5\\necho "ERROR: nope" >&2\\nexit 1\\n' > "$3/bin/python"
  chmod +x "$3/bin/python"
  exit 0
fi
"""


@needs_pty
@pytest.mark.parametrize("columns", [30, 60, 80])
def test_a_narrow_terminal_is_left_with_no_stale_progress_rows(tmp_path: Path, columns: int) -> None:
    """On 80 columns one build left 32 stale lines, and on 60 columns 49: every redraw wrapped."""
    slow = write_wrapper(tmp_path / "py-slow", SLOW_PIP)
    rc, _, terminal = run_with_pty_stderr(ensure_argv(tmp_path / "state", tmp_path, python=slow), columns=columns)
    assert rc == 1 and b"\rsdkboot: pip " in terminal and b"s collec" in terminal
    rows = screen(terminal, columns)
    assert not any(r.startswith("sdkboot: pip") or "distribution-whose" in r for r in rows), rows
    assert rows[0].startswith("sdkboot: build_failed"), rows


@needs_pty
def test_json_mode_never_draws_even_on_a_terminal(tmp_path: Path) -> None:
    slow = write_wrapper(tmp_path / "py-slow", SLOW_VENV)
    rc, out, terminal = run_with_pty_stderr(ensure_argv(tmp_path / "state", tmp_path, "--json", python=slow))
    assert rc == 1 and b'"outcome": "BUILD_FAILED"' in out
    assert terminal == b""


@pytest.mark.skipif(sys.platform == "win32", reason="wrapper interpreters are POSIX sh scripts")
def test_a_pipe_never_gets_progress(tmp_path: Path) -> None:
    slow = write_wrapper(tmp_path / "py-slow", SLOW_VENV)
    done = subprocess.run(
        ensure_argv(tmp_path / "state", tmp_path, python=slow), capture_output=True, env=child_env(), timeout=120
    )
    assert done.returncode == 1
    assert b"\r" not in done.stderr
    assert done.stderr.decode().count("\n") == 1 and done.stderr.startswith(b"sdkboot: build_failed")


@pytest.mark.e2e
@needs_pty
def test_a_real_build_shows_progress_on_a_terminal(tmp_path: Path, probe_wheelhouse: Path) -> None:
    rc, out, terminal = run_with_pty_stderr(ensure_argv(tmp_path / "state", probe_wheelhouse))
    assert rc == 0, (out, terminal)
    assert out.decode().startswith(f"sdkboot: built: {PROBE_MODULE} is importable from the new venv ")
    assert b"\rsdkboot: " in terminal
    assert re.search(rb"\r +\r$", terminal), "the progress line is erased at the end"
