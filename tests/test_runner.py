"""The subprocess runner: capture without threads, timeouts and kills that reach every descendant,
spawn and read errors returned (never raised), and the supervisor that mirrors the step's status."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdkboot import runner
from sdkboot.runner import SPAWN_FAILED_RC, Completed, run
from tests.conftest import REPO, require_capability

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, process groups and the supervisor")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc and subreapers")


def py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _zombie(pid: int) -> bool:
    """A killed process whose parent has not reaped it yet is as good as gone."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
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
        time.sleep(0.02)


def reap_leftover(*pids: int | None) -> None:
    """Kill what this test started if the code under test failed to."""
    for pid in pids:
        if pid is not None and not gone(pid, within=0):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def test_captures_both_streams_as_bytes_and_rc() -> None:
    done = run(
        py("""
        import sys
        sys.stdout.buffer.write(b"out\\xff\\n")
        sys.stderr.buffer.write(b"err\\x00\\n")
        sys.exit(3)
    """)
    )
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
    done = run(
        py("""
        import sys
        chunk = b"x" * 1023 + b"\\n"
        for _ in range(2048):
            sys.stdout.buffer.write(chunk)
            sys.stderr.buffer.write(chunk)
    """),
        timeout=60,
    )
    assert done.rc == 0 and not done.timed_out
    assert len(done.out) == len(done.err) == 2048 * 1024


def test_stdin_is_closed_so_a_prompt_cannot_hang() -> None:
    done = run(py("import sys; print(len(sys.stdin.read()))"), timeout=30)
    assert (done.rc, done.out.strip(), done.timed_out) == (0, b"0", False)


def test_on_line_sees_each_stdout_line_and_not_stderr() -> None:
    seen: list[bytes] = []
    done = run(
        py("""
        import sys
        print("Collecting claude-agent-sdk", flush=True)
        sys.stderr.write("noise\\n")
        sys.stdout.write("Installing collected packages: claude-agent-sdk\\nno newline at the end")
    """),
        on_line=seen.append,
    )
    assert done.rc == 0
    assert seen == [
        b"Collecting claude-agent-sdk\n",
        b"Installing collected packages: claude-agent-sdk\n",
        b"no newline at the end",
    ]


def test_on_line_sees_a_line_as_it_arrives_not_at_the_end() -> None:
    arrived: list[float] = []
    done = run(
        py("import time; print('first', flush=True); time.sleep(1.0)"),
        on_line=lambda line: arrived.append(time.monotonic()),
    )
    assert done.rc == 0 and len(arrived) == 1
    assert time.monotonic() - arrived[0] >= 0.5, "the line reached on_line only when the step ended"


def test_on_tick_runs_while_a_step_is_quiet() -> None:
    ticks: list[float] = []
    done = run(py("import time; time.sleep(1.3)"), on_tick=lambda: ticks.append(time.monotonic()))
    assert done.rc == 0
    assert len(ticks) >= 2, ticks


@posix_only
def test_no_thread_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under RLIMIT_AS a thread cannot start (its stack is reserved up front): the runner needs none."""

    def no_threads(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_threads)
    seen: list[bytes] = []
    done = run(
        py("import sys; print('one'); print('two', file=sys.stderr); print('three')"),
        on_line=seen.append,
        on_tick=lambda: None,
    )
    assert (done.rc, done.error) == (0, None)
    assert done.out == b"one\nthree\n" and done.err == b"two\n"
    assert seen == [b"one\n", b"three\n"]


def test_env_is_passed_to_the_child() -> None:
    env = dict(os.environ, SDKBOOT_RUNNER_PROBE="hello")
    done = run(py("import os; print(os.environ['SDKBOOT_RUNNER_PROBE'])"), env=env)
    assert done.out.strip() == b"hello"


# -- the supervisor mirrors the step's status -------------------------------------------------------


@posix_only
@pytest.mark.parametrize("code, rc", [("0", 0), ("3", 3), ("120", 120), ("255", 255)])
def test_the_exit_code_is_the_steps(code: str, rc: int) -> None:
    assert run(py(f"import sys; sys.exit({code})")).rc == rc


@posix_only
@pytest.mark.parametrize("number", [signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGTERM])
def test_a_signal_death_is_the_steps_signal(number: int) -> None:
    done = run(py(f"import os; os.kill(os.getpid(), {number})"))
    assert done.rc == -number
    assert not done.timed_out and done.error is None


@linux_only
def test_re_raising_a_crash_signal_dumps_no_core(tmp_path: Path) -> None:
    """Cores allowed and written to the cwd: only the supervisor could leave one (the step allows none)."""
    if Path("/proc/sys/kernel/core_pattern").read_text().strip() != "core":
        require_capability("kernel.core_pattern is not 'core': core files would not land in the cwd")
    code = textwrap.dedent(f"""
        import resource, sys
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
        sys.path.insert(0, {str(REPO)!r})
        from sdkboot import runner
        step = "import os, resource; resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); os.abort()"
        print(runner.run([sys.executable, "-c", step]).rc)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path), timeout=60)
    assert done.stdout.strip() == str(-signal.SIGABRT), done.stderr
    assert list(tmp_path.iterdir()) == []


@posix_only
def test_the_step_leads_its_own_process_group_outside_our_session() -> None:
    done = run(py("import os; print(os.getpgrp() == os.getpid(), os.getsid(0), os.getppid())"))
    leader, session, parent = done.out.split()
    assert leader == b"True"
    assert int(session) != os.getsid(0), "the step shares our session: a terminal's signals reach it"
    assert int(parent) != os.getpid(), "the step's parent is the supervisor, not sdkboot"


@linux_only
def test_shared_mode_keeps_the_step_in_the_callers_group() -> None:
    done = runner._supervise(py("import os; print(os.getpgrp())"), 30, None, None, None, own_group=False)
    assert int(done.out) == os.getpgrp()


@linux_only
def test_the_step_is_the_oom_victim_and_gets_sigpipe_back() -> None:
    done = run(["/bin/sh", "-c", "cat /proc/self/oom_score_adj; grep SigIgn /proc/self/status"])
    adj, ignored = done.out.decode().splitlines()
    assert adj == "1000"
    assert not int(ignored.split()[1], 16) & (1 << (signal.SIGPIPE - 1)), "SIGPIPE stayed ignored"


# -- nothing outlives the step ----------------------------------------------------------------------

GRANDCHILD_SLEEPER = """
    import os, subprocess, sys, time
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session={resession},
    )
    print(os.getpid(), sleeper.pid, flush=True)
    time.sleep({linger})
"""


def sleeper(resession: bool = False, linger: float = 120) -> list[str]:
    return py(GRANDCHILD_SLEEPER.format(resession=resession, linger=linger))


@posix_only
def test_timeout_kills_the_whole_process_group() -> None:
    # The grandchild holds none of our pipes, so only a group kill on timeout can reach it.
    pids: list[int] = []
    started = time.monotonic()
    try:
        done = run(sleeper(), timeout=2.0)
        elapsed = time.monotonic() - started
        pids = [int(pid) for pid in done.out.split()]
        assert done.timed_out
        assert done.rc == -signal.SIGKILL
        assert done.error is None
        assert elapsed < 30
        assert all(gone(pid) for pid in pids), f"{pids} outlived the timed-out step"
    finally:
        reap_leftover(*pids)


@posix_only
def test_timeout_kills_a_silent_hang() -> None:
    done = run(py("import time; time.sleep(120)"), timeout=0.5)
    assert done.timed_out and done.rc < 0
    assert done.seconds < 30


@posix_only
def test_a_grandchild_holding_our_pipes_dies_with_the_step() -> None:
    grandchild: int | None = None
    try:
        done = run(
            py("""
            import subprocess, sys
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            print(sleeper.pid, flush=True)
        """),
            timeout=60,
        )
        grandchild = int(done.out.split()[0])
        assert done.rc == 0 and not done.timed_out
        assert done.seconds < 10, "waited for a grace period instead of killing the step's group"
        assert gone(grandchild), "a grandchild holding stdout outlived the step"
    finally:
        reap_leftover(grandchild)


@linux_only
def test_a_grandchild_in_a_session_of_its_own_dies_with_the_step() -> None:
    """Out of the step's group, only the supervisor as a child subreaper can still reach it."""
    pids: list[int] = []
    try:
        done = run(sleeper(resession=True, linger=0), timeout=60)
        pids = [int(pid) for pid in done.out.split()]
        assert done.rc == 0
        assert gone(pids[1], within=2), "a re-sessioned grandchild outlived the step"
    finally:
        reap_leftover(*pids)


@posix_only
def test_interrupt_kills_the_step_and_its_group() -> None:
    pids: list[int] = []

    def on_line(line: bytes) -> None:
        pids.extend(int(pid) for pid in line.split())
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            run(sleeper(), timeout=60, on_line=on_line)
        assert len(pids) == 2, "the step never started"
        assert all(gone(pid, within=2) for pid in pids)
        # The step was reaped by the supervisor, which we reaped: not even a zombie is left.
        with pytest.raises(ProcessLookupError):
            os.kill(pids[0], 0)
    finally:
        reap_leftover(*pids)


@posix_only
def test_a_supervisor_told_to_stop_kills_its_step_and_dies_as_it_did() -> None:
    pids: list[int] = []

    def on_line(line: bytes) -> None:
        pids.extend(int(pid) for pid in line.split())
        os.kill(_supervisor_of(pids[0]), signal.SIGTERM)

    try:
        done = run(sleeper(), timeout=60, on_line=on_line)
        assert done.rc == -signal.SIGKILL and not done.timed_out
        assert all(gone(pid, within=2) for pid in pids)
    finally:
        reap_leftover(*pids)


def _supervisor_of(pid: int) -> int:
    """The step's parent, read the portable way (``ps``)."""
    return int(subprocess.run(["ps", "-o", "ppid=", "-p", str(pid)], capture_output=True, text=True).stdout)


# sdkboot itself dies (SIGKILL, alone or with its whole process group) while a step runs.
DRIVER = """
import sys
sys.path.insert(0, {repo!r})
from sdkboot import runner
runner.run({argv!r}, timeout=120, on_line=lambda line: print(line.decode().strip(), flush=True))
"""


@contextlib.contextmanager
def driver(argv: list[str], new_group: bool) -> Iterator[tuple[subprocess.Popen[str], list[int]]]:
    """A separate sdkboot process running ``argv``; yields it with the PIDs the step printed."""
    code = DRIVER.format(repo=str(REPO), argv=argv)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=new_group
    )
    pids: list[int] = []
    try:
        assert proc.stdout is not None
        pids = [int(pid) for pid in proc.stdout.readline().split()]
        assert len(pids) == 2, "the step never started"
        yield proc, pids
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        reap_leftover(*pids)


@posix_only
@pytest.mark.parametrize("whole_group", [False, True], ids=["sdkboot", "its-process-group"])
def test_sigkill_of_sdkboot_leaves_no_descendant(whole_group: bool) -> None:
    with driver(sleeper(), new_group=whole_group) as (proc, pids):
        if whole_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
        assert all(gone(pid, within=1.0) for pid in pids), "a step outlived the sdkboot that started it"


# -- failures of our own machinery are returned, never raised ---------------------------------------


def test_spawn_failure_is_returned_not_raised(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-python")
    done = run([missing, "-m", "venv", str(tmp_path / "env")])
    assert done.rc == SPAWN_FAILED_RC
    assert isinstance(done.error, FileNotFoundError)
    assert done.error.errno == errno.ENOENT
    assert (done.out, done.err, done.timed_out) == (b"", b"", False)


@posix_only
def test_spawning_a_directory_is_returned_as_permission_error(tmp_path: Path) -> None:
    done = run([str(tmp_path)])
    assert isinstance(done.error, PermissionError)
    assert done.rc == SPAWN_FAILED_RC


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ENOMEM, "Cannot allocate memory"),
        OSError(errno.EAGAIN, "Resource temporarily unavailable"),
        MemoryError(),
        RuntimeError("can't start new thread"),
    ],
    ids=["ENOMEM", "EAGAIN", "MemoryError", "RuntimeError"],
)
def test_any_spawn_error_from_popen_is_returned(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(subprocess, "Popen", failing)
    done = run([sys.executable, "-c", "pass"])
    assert done.error is exc
    assert done.rc == SPAWN_FAILED_RC


@posix_only
def test_a_read_error_is_returned_and_the_step_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = runner._Capture._read
    pids: list[int] = []

    def starved(self: runner._Capture, fd: int, name: str, stream: object) -> None:
        real_read(self, fd, name, stream)
        if b"\n" in self.out and not pids:
            pids.extend(int(pid) for pid in self.out.split())
            raise MemoryError

    monkeypatch.setattr(runner._Capture, "_read", starved)
    try:
        done = run(sleeper(), timeout=60)
        assert isinstance(done.error, MemoryError)
        assert done.seconds < 5, "the supervisor did not stop its step at once"
        assert len(pids) == 2 and all(gone(pid, within=2) for pid in pids)
    finally:
        reap_leftover(*pids)


@posix_only
def test_the_supervisor_runs_from_inside_a_zip(tmp_path: Path) -> None:
    """The bundle is a zipapp: the supervisor's source must come from package data, not a path."""
    bundle = tmp_path / "sdkboot.pyz"
    with zipfile.ZipFile(bundle, "w") as archive:
        for path in (REPO / "sdkboot").rglob("*.py"):
            archive.write(path, str(path.relative_to(REPO)))
    code = (
        f"import sys, json; sys.path.insert(0, {str(bundle)!r}); from sdkboot import runner;"
        " done = runner.run([sys.executable, '-c', 'print(42)']);"
        " print(json.dumps([runner.__file__, done.rc, done.out.decode()]))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, cwd=str(tmp_path)
    )
    where, rc, out = json.loads(done.stdout)
    assert where.startswith(str(bundle)) and (rc, out) == (0, "42\n"), done.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX umask")
def test_a_child_builds_with_umask_022_whatever_the_users_umask() -> None:
    # A 002 umask (common) would make the env group-writable, and activate() refuses such an env.
    old = os.umask(0o002)
    try:
        done = run([sys.executable, "-c", "import os; print(oct(os.umask(0)))"], timeout=60)
    finally:
        os.umask(old)
    assert (done.rc, done.out.decode().strip()) == (0, "0o22"), done.err
