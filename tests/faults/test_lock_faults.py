"""The build lock under faults: a failed PID write (D11), readers racing a build (D23)."""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot.layout import Layout
from sdkboot.lock import BuildLock, holder
from tests.conftest import FaultLog
from tests.faults.fakes import FakeBuilds, fault_spec

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="flock, POSIX processes")

pytestmark = pytest.mark.usefixtures("restored_sys_path")


def test_d11_a_failed_pid_write_does_not_leak_the_lock(
    tmp_path: Path, fake_builds: FakeBuilds, monkeypatch: pytest.MonkeyPatch, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("disk full while writing the lock's PID (D11)")
    root = tmp_path / "state"
    spec = fault_spec(root)
    real_write = os.write
    failures: list[int] = []

    def full_once(fd: int, data: bytes) -> int:
        if not failures and bytes(data).isdigit():
            failures.append(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    with monkeypatch.context() as patched:
        patched.setattr(os, "write", full_once)
        first = sdkboot.ensure(spec)
    assert failures, "the PID write was never reached"
    probe = BuildLock(Layout(str(root)).lock_file)
    free = probe.acquire()
    probe.release()
    second = sdkboot.ensure(spec)

    log.trial([] if free and second.ok else [f"lock leaked: {second.outcome.name} {second.message}"])
    assert first.outcome is sdkboot.Outcome.BUILD_FAILED and "28" in (first.err_kind or "")
    assert free, "the lock stayed held after the failed PID write"
    assert second.outcome is sdkboot.Outcome.BUILT, second.message
    log.check()


@posix_only
def test_d23_holder_never_takes_the_lock(tmp_path: Path, fault_log: Callable[[str], FaultLog]) -> None:
    """A status run reading the holder must never make a concurrent build see the lock as taken."""
    log = fault_log("status racing a build for the lock (D23)")
    path = str(tmp_path / "build.lock")
    BuildLock(path).release()
    open(path, "w").close()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            holder(path)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    busy = 0
    try:
        for _ in range(3000):  # each acquire is a trial: it must find the lock free
            lock = BuildLock(path)
            if lock.acquire():
                lock.release()
                log.trial()
            else:
                busy += 1
                log.trial(["an acquire found the lock taken by a reader"])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert busy == 0
    log.check()
