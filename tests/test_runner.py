"""The subprocess runner: capture, timeouts that kill the whole group, spawn errors."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import List, Optional

import pytest

from sdkboot import runner
from sdkboot.runner import SPAWN_FAILED_RC, Completed, run

posix_only = pytest.mark.skipif(sys.platform == "win32",
                                reason="POSIX signals and process groups (os.killpg)")


def py(code: str) -> List[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet is as good as gone."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open(f"/proc/{pid}/stat", "r") as handle:
            data = handle.read()
    except OSError:
        return True
    return data.rsplit(")", 1)[-1].split()[0] == "Z"


def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _zombie(pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def reap_leftover(pid: Optional[int]) -> None:
    """Kill a grandchild this test started if the code under test failed to."""
    if pid is not None and not gone(pid, within=0):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_captures_both_streams_as_bytes_and_rc() -> None:
    done = run(py("""
        import sys
        sys.stdout.buffer.write(b"out\\xff\\n")
        sys.stderr.buffer.write(b"err\\x00\\n")
        sys.exit(3)
    """))
    assert isinstance(done, Completed)
    assert done.rc == 3
    assert done.out == b"out\xff\n"
    assert done.err == b"err\x00\n"
    assert not done.timed_out and done.error is None
    assert done.seconds > 0


def test_success_has_rc_zero_and_empty_streams() -> None:
    done = run(py("pass"))
    assert (done.rc, done.out, done.err, done.timed_out, done.error) == (0, b"", b"", False, None)


def test_large_output_on_both_streams_does_not_deadlock() -> None:
    done = run(py("""
        import sys
        chunk = b"x" * 1023 + b"\\n"
        for _ in range(2048):
            sys.stdout.buffer.write(chunk)
            sys.stderr.buffer.write(chunk)
    """), timeout=60)
    assert done.rc == 0 and not done.timed_out
    assert len(done.out) == len(done.err) == 2048 * 1024


def test_stdin_is_closed_so_a_prompt_cannot_hang() -> None:
    done = run(py("import sys; print(len(sys.stdin.read()))"), timeout=30)
    assert (done.rc, done.out.strip(), done.timed_out) == (0, b"0", False)


def test_on_line_sees_each_stdout_line_and_not_stderr() -> None:
    seen: List[bytes] = []
    done = run(py("""
        import sys
        print("Collecting claude-agent-sdk", flush=True)
        sys.stderr.write("noise\\n")
        print("Installing collected packages: claude-agent-sdk", flush=True)
    """), on_line=seen.append)
    assert done.rc == 0
    assert seen == [b"Collecting claude-agent-sdk\n",
                    b"Installing collected packages: claude-agent-sdk\n"]


def test_env_is_passed_to_the_child() -> None:
    env = dict(os.environ, SDKBOOT_RUNNER_PROBE="hello")
    done = run(py("import os; print(os.environ['SDKBOOT_RUNNER_PROBE'])"), env=env)
    assert done.out.strip() == b"hello"


@posix_only
def test_child_killed_by_a_signal_has_a_negative_rc() -> None:
    done = run(py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    assert done.rc == -signal.SIGKILL
    assert not done.timed_out and done.error is None


@posix_only
def test_child_runs_in_its_own_process_group() -> None:
    done = run(py("import os; print(os.getpgrp() == os.getpid(), os.getsid(0) == os.getpid())"))
    assert done.out.split() == [b"True", b"True"]


GRANDCHILD_SLEEPER = """
    import subprocess, sys, time
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    print(sleeper.pid, flush=True)
    time.sleep(120)
"""


@posix_only
def test_timeout_kills_the_whole_process_group() -> None:
    # The grandchild holds none of our pipes, so only a group kill on timeout can reach it.
    grandchild: Optional[int] = None
    started = time.monotonic()
    try:
        done = run(py(GRANDCHILD_SLEEPER), timeout=2.0)
        elapsed = time.monotonic() - started
        grandchild = int(done.out.split()[0])
        assert done.timed_out
        assert done.rc == -signal.SIGKILL
        assert done.error is None
        assert elapsed < 30
        assert gone(grandchild), f"grandchild {grandchild} outlived the timed-out step"
    finally:
        reap_leftover(grandchild)


@posix_only
def test_timeout_kills_a_silent_hang() -> None:
    done = run(py("import time; time.sleep(120)"), timeout=0.5)
    assert done.timed_out and done.rc < 0
    assert done.seconds < 30


@posix_only
def test_straggler_holding_our_pipes_is_killed_after_the_grace(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_PIPE_GRACE", 0.5)
    grandchild: Optional[int] = None
    try:
        done = run(py("""
            import subprocess, sys
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            print(sleeper.pid, flush=True)
        """), timeout=60)
        grandchild = int(done.out.split()[0])
        assert done.rc == 0 and not done.timed_out
        assert done.seconds < 30
        assert gone(grandchild), "a grandchild holding stdout outlived the step"
    finally:
        reap_leftover(grandchild)


@posix_only
def test_interrupt_while_waiting_kills_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    printed = threading.Event()
    pids: List[int] = []

    def on_line(line: bytes) -> None:
        pids.append(int(line))
        printed.set()

    real_wait = subprocess.Popen.wait

    def interrupted_wait(self: subprocess.Popen, timeout: Optional[float] = None) -> int:
        if timeout is not None:
            printed.wait(30)
            raise KeyboardInterrupt
        return real_wait(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", interrupted_wait)
    with pytest.raises(KeyboardInterrupt):
        run(py("import os, time; print(os.getpid(), flush=True); time.sleep(120)"),
            timeout=60, on_line=on_line)
    monkeypatch.undo()
    assert pids, "the child never started"
    # Killed and reaped by the runner: the PID no longer exists, not even as a zombie.
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


def test_spawn_failure_is_returned_not_raised(tmp_path) -> None:
    missing = str(tmp_path / "no-such-python")
    done = run([missing, "-m", "venv", str(tmp_path / "env")])
    assert done.rc == SPAWN_FAILED_RC
    assert isinstance(done.error, FileNotFoundError)
    assert done.error.errno == errno.ENOENT
    assert (done.out, done.err, done.timed_out) == (b"", b"", False)


@posix_only
def test_spawning_a_directory_is_returned_as_permission_error(tmp_path) -> None:
    done = run([str(tmp_path)])
    assert isinstance(done.error, PermissionError)
    assert done.rc == SPAWN_FAILED_RC


def test_any_oserror_from_popen_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(subprocess, "Popen", no_memory)
    done = run([sys.executable, "-c", "pass"])
    assert done.error is not None and done.error.errno == errno.ENOMEM
    assert done.rc == SPAWN_FAILED_RC
