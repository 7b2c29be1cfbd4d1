"""The build lock: exclusive, non-blocking, released by the kernel when its holder dies."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdkboot import lock as lock_module
from sdkboot.lock import BuildLock, holder

REPO = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses flock and POSIX signals")

HOLD = """
    import sys
    sys.path.insert(0, {repo!r})
    from sdkboot.lock import BuildLock
    lock = BuildLock({path!r})
    print("locked" if lock.acquire() else "busy", flush=True)
    {then}
"""


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "build.lock")


def child_holding(path: str, then: str = "sys.stdin.read()") -> subprocess.Popen[str]:
    code = textwrap.dedent(HOLD.format(repo=str(REPO), path=path, then=then))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def held_by_child(path: str) -> Iterator[subprocess.Popen[str]]:
    proc = child_holding(path)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _record_opens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened: list[int] = []
    real_open = os.open

    def recording_open(*args: object, **kwargs: object) -> int:
        fd = real_open(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(fd)
        return fd

    monkeypatch.setattr(os, "open", recording_open)
    return opened


def _closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def test_acquire_release_and_reacquire(path: str) -> None:
    first = BuildLock(path)
    assert first.acquire()
    second = BuildLock(path)
    assert not second.acquire()  # flock is per open file description: in-process works too
    first.release()
    assert second.acquire()
    second.release()


def test_acquiring_over_a_killed_holders_longer_pid_records_exactly_our_pid(path: str) -> None:
    # A holder killed by SIGKILL never truncates; a shorter PID written over its longer one must
    # not keep the old tail, or holder() (off Linux: the recorded PID) names some other process.
    Path(path).write_text("4194303999")
    lock = BuildLock(path)
    assert lock.acquire()
    try:
        assert Path(path).read_text() == str(os.getpid())
    finally:
        lock.release()


def test_context_manager_releases(path: str) -> None:
    with BuildLock(path) as lock:
        assert lock.acquire()
        assert not BuildLock(path).acquire()
    assert BuildLock(path).acquire()


def test_release_is_idempotent_and_safe_when_never_acquired(path: str) -> None:
    lock = BuildLock(path)
    lock.release()
    assert lock.acquire()
    lock.release()
    lock.release()


def test_failed_acquire_keeps_no_fd(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    holder_lock = BuildLock(path)
    assert holder_lock.acquire()
    opened = _record_opens(monkeypatch)
    assert not BuildLock(path).acquire()
    assert opened and _closed(opened[-1])
    holder_lock.release()


def test_holder_pid_while_held_and_none_when_free(path: str) -> None:
    assert holder(path) is None  # not even created yet
    lock = BuildLock(path)
    assert lock.acquire()
    assert holder(path) == os.getpid()
    lock.release()
    assert holder(path) is None
    assert os.path.exists(path)  # the file stays; only its content changes
    assert Path(path).read_bytes() == b""


def test_holder_when_the_pid_is_unreadable(path: str) -> None:
    """Linux: the kernel's lock table still names the holder; elsewhere 0, "held, pid unknown"."""
    lock = BuildLock(path)
    assert lock.acquire()
    with open(path, "w") as handle:
        handle.write("garbage")
    assert holder(path) == (os.getpid() if sys.platform.startswith("linux") else 0)
    lock.release()


@posix_only
def test_holder_never_takes_the_lock(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the holder must not make a concurrent acquire fail (a status run beside a build)."""
    Path(path).write_text("")
    calls: list[int] = []

    def try_lock(fd: int) -> bool:
        calls.append(fd)
        return True

    monkeypatch.setattr(lock_module, "_try_lock", try_lock)
    assert holder(path) is None
    assert calls == []


def test_holder_off_linux_trusts_a_live_recorded_pid(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    Path(path).write_text(str(os.getpid()))
    assert holder(path) == os.getpid()
    Path(path).write_text("999999999")
    assert holder(path) is None  # that process is gone: a stale PID, nobody holds the lock
    Path(path).write_text("")
    assert holder(path) is None


@posix_only
def test_a_failed_pid_write_gives_the_lock_back(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(os, "write", full)
        with pytest.raises(OSError):
            BuildLock(path).acquire()
    again = BuildLock(path)
    assert again.acquire(), "the lock leaked with the failed PID write"
    again.release()


def test_holder_in_a_missing_dir_is_none(tmp_path: Path) -> None:
    assert holder(str(tmp_path / "no" / "such" / "build.lock")) is None


@posix_only
def test_lock_held_by_another_process(path: str, held_by_child: subprocess.Popen[str]) -> None:
    assert not BuildLock(path).acquire()
    assert holder(path) == held_by_child.pid
    assert held_by_child.stdin is not None
    held_by_child.stdin.close()  # the child reads EOF and exits
    held_by_child.wait(30)
    assert BuildLock(path).acquire()


@posix_only
def test_kernel_releases_the_lock_of_a_killed_holder(path: str) -> None:
    # A sentinel file would block forever after a SIGKILL; a flock does not.
    proc = child_holding(path, then="import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert proc.wait(30) < 0
    assert Path(path).read_text() == str(proc.pid)  # the stale PID is still written ...
    assert holder(path) is None  # ... but nobody holds the lock
    lock = BuildLock(path)
    assert lock.acquire()
    lock.release()


@posix_only
def test_unexpected_lock_error_propagates_without_leaking_the_fd(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. ENOLCK on a network file system: the error is for ensure() to report (phase pre),
    # but the descriptor opened for it must not stay open in a long-lived host process.
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    import fcntl

    monkeypatch.setattr(fcntl, "flock", no_locks)
    opened = _record_opens(monkeypatch)
    with pytest.raises(OSError):
        BuildLock(path).acquire()
    assert len(opened) == 1
    leaked = not _closed(opened[0])
    if leaked:
        os.close(opened[0])
    assert not leaked, "BuildLock.acquire leaked its fd when flock raised"
