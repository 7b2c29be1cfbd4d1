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
from typing import List, Optional, Tuple

import pytest

from tests.conftest import PROBE_DIST, PROBE_MODULE
from tests.fake_envs import MIN_PYTHON, VENV_ORDER, child_env
from tests.interpreters import write_wrapper
from sdkboot.progress import TerminalProgress, pip_detail


@pytest.mark.parametrize("line, detail", [
    (b"Collecting foo>=1\n", "collecting foo>=1"),
    (b"Processing /w/foo-1.0-py3-none-any.whl\n", "processing foo-1.0-py3-none-any.whl"),
    (b"Installing collected packages: a, b\n", "installing a, b"),
    (b"Collecting claude-agent-sdk\n", "collecting claude-agent-sdk"),
    (b"  Downloading https://example.invalid/packages/ab/cd/foo-1.0-py3-none-any.whl (12 kB)\n",
     "downloading foo-1.0-py3-none-any.whl"),
    (b"  Using cached foo-1.0-py3-none-any.whl (3.1 kB)\n", "using cached foo-1.0-py3-none-any.whl"),
    (b"Processing ./wheels/bar-2.0.tar.gz\r\n", "processing bar-2.0.tar.gz"),
    (b"COLLECTING Foo\n", "collecting Foo"),
    (b"Installing collected packages: sdkboot-probe\n", "installing sdkboot-probe"),
])
def test_pip_detail_names_the_package(line: bytes, detail: str) -> None:
    assert pip_detail(line) == detail


@pytest.mark.parametrize("line", [
    b"Successfully installed a-1.0 b-2.0\n",
    b"Requirement already satisfied: pip in ./lib/python3.11/site-packages (23.2)\n",
    b"Looking in links: /w\n",
    b"  Preparing metadata (pyproject.toml) ... done\n",
    b"Collecting\n",
    b"\n",
    b"",
    b"\xff\xfe\x00 not utf-8\n",
])
def test_pip_detail_ignores_other_lines(line: bytes) -> None:
    assert pip_detail(line) is None


# --- TerminalProgress into a StringIO ----------------------------------------------------------

DRAWN = re.compile(r"\rsdkboot: (\S+) +(\d+\.\d)s (.*)")


def idle() -> Tuple[TerminalProgress, io.StringIO]:
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
    second = stream.getvalue()[len(first):]
    assert second.startswith("\rsdkboot: pip") and second.rstrip(" ").endswith(" x")
    assert len(second) == len(first), "padded to the previous width, so no stale characters remain"
    progress.close()


def test_the_line_is_cut_at_100_characters() -> None:
    progress, stream = idle()
    progress("pip", "y" * 500)
    progress._draw()
    assert len(stream.getvalue()) == 1 + 100
    progress.close()


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


def run_with_pty_stderr(argv: List[str], timeout: float = 240) -> Tuple[int, bytes, bytes]:
    """Run ``argv`` with stderr on a pseudo-terminal; return (rc, stdout, what the terminal got)."""
    master, slave = os.openpty()
    received: List[bytes] = []

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
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                env=child_env())
    finally:
        os.close(slave)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        reader.join(10)
        os.close(master)
    return proc.returncode, out, b"".join(received)


def ensure_argv(state: Path, wheels: Path, *extra: str, python: Optional[Path] = None) -> List[str]:
    argv = [sys.executable, "-m", "sdkboot", "ensure", *MIN_PYTHON, *VENV_ORDER, "--state-dir", str(state),
            "--import-name", PROBE_MODULE, "--no-index", "--find-links", str(wheels), *extra, PROBE_DIST]
    return argv + (["--python", str(python)] if python else [])


@needs_pty
def test_a_slow_step_draws_progress_on_a_terminal(tmp_path: Path) -> None:
    slow = write_wrapper(tmp_path / "py-slow", SLOW_VENV)
    rc, out, terminal = run_with_pty_stderr(ensure_argv(tmp_path / "state", tmp_path, python=slow))
    assert rc == 1 and out == b""
    assert b"\rsdkboot: venv " in terminal
    # The line is erased before the final message, which starts on a clean line.
    assert re.search(rb"\r +\rsdkboot: build_failed in phase venv", terminal), terminal


@needs_pty
def test_json_mode_never_draws_even_on_a_terminal(tmp_path: Path) -> None:
    slow = write_wrapper(tmp_path / "py-slow", SLOW_VENV)
    rc, out, terminal = run_with_pty_stderr(ensure_argv(tmp_path / "state", tmp_path, "--json", python=slow))
    assert rc == 1 and b'"outcome": "BUILD_FAILED"' in out
    assert terminal == b""


@pytest.mark.skipif(sys.platform == "win32", reason="wrapper interpreters are POSIX sh scripts")
def test_a_pipe_never_gets_progress(tmp_path: Path) -> None:
    slow = write_wrapper(tmp_path / "py-slow", SLOW_VENV)
    done = subprocess.run(ensure_argv(tmp_path / "state", tmp_path, python=slow), capture_output=True,
                          env=child_env(), timeout=120)
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

