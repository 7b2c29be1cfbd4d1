"""The remaining defects of the state-dir attack: lock, requirements, classifier, log, temp files."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot import lock as lock_module
from sdkboot.classify import classify
from sdkboot.cli import main
from sdkboot.codes import ErrKind, Phase
from sdkboot.layout import Layout
from sdkboot.lock import BuildLock, holder
from sdkboot.runner import Completed
from tests.conftest import REPO, FaultLog
from tests.faults.fakes import IMPORT_NAME, FakeBuilds, fault_spec

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="flock, POSIX processes")
FILES = {f"{IMPORT_NAME}/__init__.py": "VALUE = 1\n"}

pytestmark = pytest.mark.usefixtures("restored_sys_path")


def test_d11_a_failed_pid_write_does_not_leak_the_lock(tmp_path: Path, fake_builds: FakeBuilds,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       fault_log: Callable[[str], FaultLog]) -> None:
    log = fault_log("disk full while writing the lock's PID (D11)")
    root = tmp_path / "state"
    spec = fault_spec(root)
    real_write = os.write
    failures = []

    def full_once(fd: int, data: bytes) -> int:
        if not failures and bytes(data).isdigit():
            failures.append(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(lock_module.os, "write", full_once)
    first = sdkboot.ensure(spec)
    monkeypatch.undo()
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
        for _ in range(3000):
            lock = BuildLock(path)
            if lock.acquire():
                lock.release()
            else:
                busy += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    log.trial([f"{busy} of 3000 acquires found the lock taken by a reader"] if busy else [])
    assert busy == 0
    log.check()


def test_d20_an_option_smuggled_as_a_requirement_never_reaches_pip(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    fake_builds: FakeBuilds,
                                                                    fault_log: Callable[[str], FaultLog]) -> None:
    log = fault_log("options smuggled as requirements (D20)")
    root = tmp_path / "state"
    for smuggled in ("--log=/tmp/x://y", "-r/etc/passwd", "--index-url=http://evil://x", "x; --y://z",
                     "./local://dir", "https://example.org/a.whl"):
        rc = main(["ensure", "--state-dir", str(root), "--import-name", IMPORT_NAME, "--", smuggled])
        _, err = capsys.readouterr()
        log.trial([] if rc == 2 and not fake_builds.calls else [f"{smuggled!r}: rc {rc} {err.strip()}"])
    assert fake_builds.calls == []
    # Through the API a bad requirement fails before any spawn, and good ones reach pip after `--`.
    bad = sdkboot.ensure(fault_spec(root, "--log=/tmp/x://y"))
    log.trial([] if not bad.ok and fake_builds.calls == [] else ["the API spawned pip for an option"])
    good = sdkboot.ensure(fault_spec(root, "sdkboot-fault-dist>=1"))
    [pip] = [argv for argv in fake_builds.calls if "install" in argv]
    log.trial([] if good.ok and pip[-2:] == ["--", "sdkboot-fault-dist>=1"] else [f"pip argv: {pip}"])
    assert good.ok and pip[-2:] == ["--", "sdkboot-fault-dist>=1"]
    log.check()


def test_d18_a_huge_signal_number_is_classified_not_raised(fault_log: Callable[[str], FaultLog]) -> None:
    log = fault_log("huge signal numbers in the text (D18)")
    for digits in (4301, 400, 30, 5):
        text = f"Error: Command '[...]' died with <Signals.SIGKILL: {'9' * digits}>.\n".encode()
        try:
            failure = classify(Phase.VENV, Completed(1, b"", text, 0.1))
        except ValueError as exc:
            log.trial([f"{digits} digits: raised {exc!r}"])
            continue
        rc = failure.kill_rc
        log.trial([] if rc is None or -128 <= rc <= 0 else [f"{digits} digits: rc {rc} reaches the metrics"])
    # A real one still counts.
    real = classify(Phase.VENV, Completed(1, b"", b"died with <Signals.SIGKILL: 9>.", 0.1))
    assert real.kind is ErrKind.SIGNAL_KILLED and real.kill_rc == -9
    log.check()


@posix_only
def test_d21_concurrent_rotation_never_replaces_the_history(tmp_path: Path,
                                                            fault_log: Callable[[str], FaultLog]) -> None:
    """16 processes append across the rotation limit: the rotated file is always a full one."""
    log = fault_log("concurrent log rotation (D21)")
    path = tmp_path / "events.jsonl"
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from sdkboot import events
        events.MAX_BYTES = 20000
        smallest = 10 ** 9
        for n in range(150):
            events.append({str(path)!r}, {{"n": n, "pad": "x" * 200}})
            try:
                smallest = min(smallest, os.stat({str(path) + ".1"!r}).st_size)
            except OSError:
                pass
        print(smallest)
    """)
    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
                for _ in range(16)]
    smallest = [int((child.communicate(timeout=120)[0] or "0").strip() or 0) for child in children]
    for size in smallest:
        log.trial([f"the rotated history shrank to {size} bytes"] if size < 20000 else [])
    assert min(smallest) >= 20000
    log.check()
