"""The one subprocess runner every child goes through.

No thread anywhere: under the user's RLIMIT_AS a thread's stack reservation alone can exceed what
is left (starting one thread needs about 22 MiB of address space; the interpreter, 13). Both
streams come through pipes read with ``selectors`` in the calling thread, which also calls
``on_tick`` about twice a second (a progress line redraws from there).

Every child runs under the supervisor (``supervisor.py``), so nothing it starts outlives the step:
on exit, timeout, Ctrl-C, SIGTERM, and when sdkboot itself or its process group is SIGKILLed.
The runner holds the write end of the supervisor's lifeline pipe; to stop a step it closes it.

It never raises OSError or MemoryError: a child that cannot be started or read comes back as a
``Completed`` with ``error`` set, which the classifier turns into ``out_of_memory`` when that is
what it was.
"""

from __future__ import annotations

import functools
import os
import pkgutil
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Callable

LineSink = Callable[[bytes], None]
Tick = Callable[[], None]

# How often on_tick runs while a step is going (and the longest a select() waits).
TICK_SECONDS = 0.5
# After the supervisor exits, how long its pipes may stay open: only a process that escaped
# (one that re-sessioned where no subreaper exists) can still hold them.
_PIPE_GRACE = 2.0
# How long a supervisor told to stop gets before it is killed itself, with the step's group.
_STOP_GRACE = 5.0
# rc reported when the child could not be started at all (the shell's convention).
SPAWN_FAILED_RC = 127
# Failures of our own machinery while starting or reading a child: classified, never raised.
CHILD_ERRORS = (OSError, MemoryError, RuntimeError, subprocess.SubprocessError)
_CHUNK = 65536


@dataclass(frozen=True)
class Completed:
    """What one child did: ``(rc, out, err, seconds)`` plus how it ended."""

    rc: int
    out: bytes
    err: bytes
    seconds: float
    timed_out: bool = False
    error: Exception | None = None


@functools.cache
def supervisor_source() -> str:
    """The supervisor's code, read as package data: a file path would not run from inside a zip."""
    data = pkgutil.get_data(__package__ or "sdkboot", "supervisor.py")
    if data is None:
        raise OSError(f"cannot read {__package__}/supervisor.py")
    return data.decode("utf-8")


def supervised(argv: Sequence[str], lifeline: int, report: int, own_group: bool) -> list[str]:
    """The supervisor's own command line, wrapped around ``argv``."""
    mode = "own" if own_group else "shared"
    return [sys.executable, "-I", "-S", "-c", supervisor_source(), str(lifeline), str(report), mode, "--", *argv]


class _Child:
    """A started supervisor: its process, the lifeline we hold, and what it reported."""

    def __init__(self, proc: subprocess.Popen[bytes], lifeline: int, report: int) -> None:
        self.proc, self.lifeline, self.report = proc, lifeline, report
        self.step_pid: int | None = None
        self.start_error: OSError | None = None
        self.stopped = self.escaped = False

    def on_report(self, data: bytes) -> None:
        for word in data.split():
            if word[:1] == b"P" and word[1:].isdigit():
                self.step_pid = int(word[1:])
            elif word[:1] == b"E" and word[1:].isdigit():
                code = int(word[1:])
                self.start_error = OSError(code, os.strerror(code))

    def stop(self) -> None:
        """Ask the supervisor to kill the step's whole tree: close our end of its lifeline."""
        if not self.stopped:
            self.stopped = True
            _close(self.lifeline)

    def reap(self) -> int:
        """Wait for the supervisor; if it does not answer a stop, kill it and the step's group."""
        try:
            return self.proc.wait(None if not self.stopped else _STOP_GRACE)
        except subprocess.TimeoutExpired:
            if self.step_pid is not None:
                _signal_group(self.step_pid)
            self.proc.kill()
            return self.proc.wait()

    def close(self) -> None:
        if self.escaped and self.step_pid is not None:
            _signal_group(self.step_pid)  # the supervisor is gone (killed?): its step must go too
        self.stop()
        _close(self.report)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _signal_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass  # already gone


def _spawn(argv: Sequence[str], env: Mapping[str, str] | None, own_group: bool) -> _Child:
    life_r, life_w = os.pipe()
    report_r, report_w = os.pipe()
    try:
        proc = subprocess.Popen(
            supervised(argv, life_r, report_w, own_group),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            pass_fds=(life_r, report_w),
            # umask 022: what a child builds must not be group/world-writable, or activate()
            # refuses it (users with a 002 umask are common).
            start_new_session=own_group,
            umask=0o022,
        )
    except BaseException:
        _close(life_w)
        _close(report_r)
        raise
    finally:
        _close(life_r)
        _close(report_w)
    return _Child(proc, life_w, report_r)


class _Lines:
    """Cuts stdout into lines for ``on_line``; a last line without a newline counts too."""

    def __init__(self, sink: LineSink | None) -> None:
        self.sink, self.pending = sink, b""

    def feed(self, data: bytes) -> None:
        if self.sink is None:
            return
        *whole, self.pending = (self.pending + data).split(b"\n")
        for line in whole:
            self.sink(line + b"\n")

    def close(self) -> None:
        if self.sink is not None and self.pending:
            self.sink(self.pending)
        self.pending = b""


class _Capture:
    """The select loop: reads stdout, stderr and the supervisor's report until all are closed."""

    def __init__(self, child: _Child, on_line: LineSink | None, on_tick: Tick | None) -> None:
        self.child, self.on_tick = child, on_tick
        self.out, self.err = bytearray(), bytearray()
        self.lines = _Lines(on_line)
        self.selector = selectors.DefaultSelector()
        streams = {"out": child.proc.stdout, "err": child.proc.stderr, "report": child.report}
        for name, stream in streams.items():
            self.selector.register(stream, selectors.EVENT_READ, name)  # type: ignore[arg-type]

    def _read(self, fd: int, name: str, stream: object) -> None:
        data = os.read(fd, _CHUNK)
        if not data:
            self.selector.unregister(stream)  # type: ignore[arg-type]
            if name == "out":
                self.lines.close()
            return
        if name == "out":
            self.out += data
            self.lines.feed(data)
        elif name == "err":
            self.err += data
        else:
            self.child.on_report(data)

    def pump(self, deadline: float | None) -> bool:
        """Read until every stream is closed; True if ``deadline`` passed and the step was stopped."""
        timed_out, exited_at = False, None
        next_tick = time.monotonic() + TICK_SECONDS
        while self.selector.get_map():
            now = time.monotonic()
            if deadline is not None and now >= deadline and not timed_out:
                timed_out = True
                self.child.stop()
            if exited_at is None and self.child.proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > _PIPE_GRACE:
                self.child.escaped = True  # something outside the step's group holds our pipes
                break
            wake = next_tick if deadline is None or timed_out else min(next_tick, deadline)
            for key, _ in self.selector.select(max(0.0, wake - now)):
                self._read(key.fd, key.data, key.fileobj)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK_SECONDS
                if self.on_tick is not None:
                    self.on_tick()
        self.selector.close()
        return timed_out


def _block_interrupts() -> Callable[[], None]:
    """Hold SIGINT and SIGTERM while a step is being killed; returns the undo."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        return lambda: None
    previous = mask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    return lambda: mask(signal.SIG_SETMASK, previous)


def _finish(
    child: _Child, capture: _Capture | None, started: float, timed_out: bool, error: Exception | None
) -> Completed:
    rc = child.reap()
    child.close()
    out, err = (bytes(capture.out), bytes(capture.err)) if capture else (b"", b"")
    if child.start_error is not None:
        return Completed(SPAWN_FAILED_RC, out, err, time.monotonic() - started, error=child.start_error)
    return Completed(rc, out, err, time.monotonic() - started, timed_out, error)


def _supervise(
    argv: Sequence[str],
    timeout: float | None,
    env: Mapping[str, str] | None,
    on_line: LineSink | None,
    on_tick: Tick | None,
    own_group: bool,
) -> Completed:
    started = time.monotonic()
    try:
        child = _spawn(argv, env, own_group)
    except CHILD_ERRORS as exc:
        return Completed(SPAWN_FAILED_RC, b"", b"", time.monotonic() - started, error=exc)
    capture: _Capture | None = None
    try:
        capture = _Capture(child, on_line, on_tick)
        timed_out = capture.pump(None if timeout is None else started + timeout)
    except CHILD_ERRORS as exc:  # e.g. MemoryError while reading: stop the step, then classify
        child.stop()
        return _finish(child, capture, started, False, exc)
    except BaseException:  # Ctrl-C, SIGTERM: never leave a build running behind us, nor a zombie
        undo = _block_interrupts()
        try:
            child.stop()
            child.reap()
            child.close()
        finally:
            undo()
        raise
    return _finish(child, capture, started, timed_out, None)


def _run_with_files(
    argv: Sequence[str],
    timeout: float | None,
    env: Mapping[str, str] | None,
    on_line: LineSink | None,
    on_tick: Tick | None,
) -> Completed:
    """Windows: no fork, no select on pipes. Capture to files, poll the child, kill its group."""
    import tempfile

    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, **_windows_group()
            )  # type: ignore[call-overload]
        except CHILD_ERRORS as exc:
            return Completed(SPAWN_FAILED_RC, b"", b"", time.monotonic() - started, error=exc)
        timed_out = _poll(proc, None if timeout is None else started + timeout, on_tick)
        data = [_rewound(stream) for stream in (out, err)]
    lines = _Lines(on_line)
    lines.feed(data[0])
    lines.close()
    return Completed(proc.returncode, data[0], data[1], time.monotonic() - started, timed_out)


def _windows_group() -> dict[str, object]:
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def _rewound(stream: IO[bytes]) -> bytes:
    stream.seek(0)
    return stream.read()


def _poll(proc: subprocess.Popen[bytes], deadline: float | None, on_tick: Tick | None) -> bool:
    try:
        while True:
            try:
                proc.wait(TICK_SECONDS)
                return False
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    proc.kill()
                    proc.wait()
                    return True
                if on_tick is not None:
                    on_tick()
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def run(
    argv: Sequence[str],
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineSink | None = None,
    on_tick: Tick | None = None,
    own_group: bool = True,
) -> Completed:
    """Run ``argv`` to completion; ``on_line`` sees each stdout line as it arrives.

    ``own_group`` False keeps the step in the caller's process group (a host that kills its own
    group to stop its tools); only honoured elsewhere than Linux, see the supervisor.
    """
    if sys.platform == "win32":
        return _run_with_files(argv, timeout, env, on_line, on_tick)
    return _supervise(argv, timeout, env, on_line, on_tick, own_group or sys.platform.startswith("linux"))
