"""Run one command under one memory limit and say what happened.

The runner never raises OSError: a command that cannot start comes back as a ``Run`` with
``rc=None`` and ``error`` set. Every run has a timeout that kills the whole process group,
because under RLIMIT_AS a child can spin forever retrying mmap.

A limit reaches a process in one of two ways: set on the command itself between fork and
exec (``preexec``), or by a shell line (``shell``) that a wrapper interpreter runs before it
execs the real one, so that only the steps a bootstrapper spawns through it are limited.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Callable, ClassVar, Protocol

from repro import cgroups, survivors

# 1024-based, as in the measurements this harness reproduces; a bare number is KiB.
_UNITS_KIB = {
    "": 1,
    "k": 1,
    "kb": 1,
    "kib": 1,
    "m": 1024,
    "mb": 1024,
    "mib": 1024,
    "g": 1024**2,
    "gb": 1024**2,
    "gib": 1024**2,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*")


def parse_size(text: str) -> int:
    """'5000k', '64m', '1.5g' -> KiB."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS_KIB:
        raise ValueError(f"bad size {text!r}: use a number with k, m or g (5000k, 64m, 1.5g)")
    kib = round(float(match.group(1)) * _UNITS_KIB[unit])
    if kib < 1:
        raise ValueError(f"bad size {text!r}: must be at least 1k")
    return kib


def format_size(kib: int) -> str:
    """Whole MiB as MiB, small odd sizes as KiB (where the RLIMIT_AS edges are), else MiB."""
    if kib % 1024 == 0:
        return f"{kib // 1024} MiB"
    if kib < 16 * 1024:
        return f"{kib} KiB"
    return f"{kib / 1024:.2f}".rstrip("0").rstrip(".") + " MiB"


@dataclass(frozen=True)
class Hooks:
    """What a limit adds around one child: a pre-exec step, a sweeper, and counters.

    ``shell`` applies the same limit from a ``/bin/sh`` wrapper to the wrapper itself (and
    so to what it execs): the child-only mode, where the parent runs unlimited.
    """

    preexec: Callable[[], None] | None = None
    kill_rest: Callable[[], None] = lambda: None
    stats: Callable[[], tuple[int | None, int]] = lambda: (None, 0)  # (peak KiB, OOM kills)
    shell: str = ":"


class Limit(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def kib(self) -> int: ...

    def applied(self) -> AbstractContextManager[Hooks]: ...


@dataclass(frozen=True)
class NoLimit:
    kind: ClassVar[str] = "none"
    kib: int = 0

    @contextmanager
    def applied(self) -> Iterator[Hooks]:
        yield Hooks()


def _set_address_space(limit_bytes: int) -> None:
    # Hard limit too, so nothing in the child's tree can lift it again.
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


@dataclass(frozen=True)
class RlimitAS:
    kib: int
    kind: ClassVar[str] = "as"

    @contextmanager
    def applied(self) -> Iterator[Hooks]:
        # dash's ulimit sets the soft and the hard limit, as _set_address_space does.
        yield Hooks(preexec=partial(_set_address_space, self.kib * 1024), shell=f"ulimit -v {self.kib}")


@dataclass(frozen=True)
class Cgroup:
    kib: int
    hierarchy: cgroups.Hierarchy | None = field(default=None, compare=False)
    kind: ClassVar[str] = "cgroup"

    @contextmanager
    def applied(self) -> Iterator[Hooks]:
        with cgroups.limited(self.kib, self.hierarchy) as group:
            procs = shlex.quote(str(group.directory / "cgroup.procs"))
            yield Hooks(
                group.join,
                group.kill_all,
                lambda: (group.peak_kib(), group.oom_kills()),
                shell=f"echo $$ > {procs} || exit 97",
            )


NO_LIMIT = NoLimit()


def rlimit_as(kb: int) -> RlimitAS:
    return RlimitAS(kb)


def cgroup(mib: float) -> Cgroup:
    return Cgroup(round(mib * 1024))


@dataclass(frozen=True)
class Kind:
    """One way of limiting memory, with the sweep range that covers its failure modes."""

    name: str
    make: Callable[[int], Limit]
    lo_kib: int
    hi_kib: int
    resolution_kib: int
    check: Callable[[], object] = lambda: None  # raises repro.Unsupported where unusable


KINDS = {
    "as": Kind("as", RlimitAS, 2 * 1024, 160 * 1024, 64),
    "cgroup": Kind("cgroup", Cgroup, 4 * 1024, 160 * 1024, 256, cgroups.detect),
}


# sdkboot probes a --python interpreter before it builds anything (is it a Python at all?),
# and turns a probe that dies into a usage error. A child-only wrapper limits the build's
# steps, not that question, so the probe (``python -I .../discovery/_probe.py``) runs free.
PROBE_SUFFIX = "/discovery/_probe.py"


def wrapper_script(shell: str, python: str) -> str:
    """A ``/bin/sh`` build interpreter: ``shell`` limits it, then it becomes ``python``."""
    return (
        "#!/bin/sh\n"
        "# exec, not a child: sdkboot must see the interpreter's own signal, not a shell's.\n"
        f'case "$2" in *{PROBE_SUFFIX}) ;; *) {shell} ;; esac\n'
        f'exec {shlex.quote(python)} "$@"\n'
    )


def describe(limit: Limit) -> str:
    return "no limit" if limit.kind == "none" else f"{limit.kind} {format_size(limit.kib)}"


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    limit: str
    rc: int | None  # None: the command never started (see error)
    stdout: str
    stderr: str
    wall_s: float
    peak_kib: int | None  # cgroup peak when limited by a cgroup, else the largest process's RSS
    oom_kills: int
    timed_out: bool = False
    error: str | None = None
    # With a mark: the descendants still alive a grace period after the command exited.
    survivors: tuple[str, ...] = ()
    # The largest single process's peak RSS (wait4), whatever the limit: the benchmark reports
    # it beside the cgroup peak of the same run.
    maxrss_kib: int | None = None
    # CPU seconds (user + system) of the command and every descendant it reaped (wait4): the
    # work done, which unlike the wall time does not grow with the machine's other load.
    cpu_s: float | None = None


def run(
    argv: Sequence[str],
    limit: Limit = NO_LIMIT,
    *,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    mark: str | None = None,
) -> Run:
    """Run ``argv`` under ``limit``; may raise repro.Unsupported, never OSError.

    With ``mark``, every descendant still alive after the command exits is counted (see
    repro.survivors) before the harness kills it.
    """
    with limit.applied() as hooks:
        return run_hooked(argv, hooks, describe(limit), timeout=timeout, env=env, cwd=cwd, mark=mark)


def run_hooked(
    argv: Sequence[str],
    hooks: Hooks,
    label: str,
    *,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    mark: str | None = None,
) -> Run:
    """``run`` with a limit already applied: ``hooks.preexec`` None limits only via a wrapper."""
    if mark is not None:
        env = {**(os.environ if env is None else env), survivors.MARK_VARIABLE: mark}
    with _capture() as (out, err):
        started = time.monotonic()
        proc = _spawn(argv, hooks.preexec, out, err, env, cwd)
        if isinstance(proc, str):
            return Run(tuple(argv), label, None, "", "", 0.0, None, 0, error=proc)
        try:
            rc, maxrss, cpu, timed_out = _reap(proc, started + timeout, hooks.kill_rest)
        except BaseException:
            _kill_tree(proc.pid, hooks.kill_rest)  # interrupted: leave no orphans behind
            if mark is not None:
                survivors.kill(survivors.marked(mark))
            raise
        left = _left_behind(mark)
        _kill_tree(proc.pid, hooks.kill_rest)  # stragglers that outlived the leader
        wall = time.monotonic() - started
        peak, ooms = hooks.stats()
        stdout, stderr = _read(out), _read(err)
    return Run(
        tuple(argv),
        label,
        rc,
        stdout,
        stderr,
        wall,
        peak or maxrss,
        ooms,
        timed_out,
        survivors=tuple(str(s) for s in left),
        maxrss_kib=maxrss,
        cpu_s=cpu,
    )


def _left_behind(mark: str | None) -> list[survivors.Survivor]:
    """Counted first, then killed: the count is the finding, the kill is hygiene."""
    if mark is None:
        return []
    left = survivors.census(mark)
    survivors.kill(left)
    return left


@contextmanager
def _capture() -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    # Files, not pipes: a grandchild that keeps a pipe open would block the reader forever.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        yield out, err


def _read(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode("utf-8", errors="replace")


def _spawn(
    argv: Sequence[str],
    preexec: Callable[[], None] | None,
    out: IO[bytes],
    err: IO[bytes],
    env: Mapping[str, str] | None,
    cwd: Path | None,
) -> subprocess.Popen[bytes] | str:
    """The started child, or why it did not start."""
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            # preexec_fn is the only way to set a limit between fork and exec; this harness
            # starts no threads, so the usual hazard does not apply.
            preexec_fn=preexec,
            start_new_session=True,  # its own process group: a timeout kills the whole tree
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _reap(
    proc: subprocess.Popen[bytes], deadline: float, kill_rest: Callable[[], None]
) -> tuple[int, int, float, bool]:
    """Wait (killing the tree at the deadline); (rc, max RSS KiB of the tree, its CPU seconds, timed out)."""
    timed_out, delay = False, 0.001
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if not timed_out and time.monotonic() >= deadline:
            timed_out = True
            _kill_tree(proc.pid, kill_rest)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # tells Popen it is reaped already
    return proc.returncode, _rss_kib(usage.ru_maxrss), round(usage.ru_utime + usage.ru_stime, 3), timed_out


def _rss_kib(maxrss: int) -> int:
    return maxrss // 1024 if sys.platform == "darwin" else maxrss  # macOS counts bytes


def _kill_tree(pgid: int, kill_rest: Callable[[], None]) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass  # the group is already empty
    kill_rest()
