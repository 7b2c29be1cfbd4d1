"""The one subprocess runner every child goes through.

It captures both streams as bytes, applies a timeout, starts the child in its own
process group and, on timeout, kills the whole group: pip's grandchildren must not
outlive a step. It never raises OSError; a spawn failure comes back in ``error``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Dict, List, Mapping, Optional, Sequence

LineSink = Callable[[bytes], None]

# After the child exits, how long to wait for its pipes to close before deciding a
# straggler in its group holds them open.
_PIPE_GRACE = 2.0
# rc reported when the child could not be started at all (the shell's convention).
SPAWN_FAILED_RC = 127


@dataclass(frozen=True)
class Completed:
    """What one child did: ``(rc, out, err, seconds)`` plus how it ended."""

    rc: int
    out: bytes
    err: bytes
    seconds: float
    timed_out: bool = False
    error: Optional[OSError] = None


def _group_options() -> Dict[str, object]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    # umask 022: what a child builds must not be group/world-writable, or activate() refuses it
    # (users with a 002 umask are common).
    return {"start_new_session": True, "umask": 0o022}


def _kill_group(proc: "subprocess.Popen[bytes]") -> None:
    try:
        if sys.platform == "win32":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass  # already gone


def _prefer_as_oom_victim(pid: int) -> None:
    """Under a cgroup limit, let the kernel kill the build, not the process that must report it.

    Raising oom_score_adj needs no privilege; grandchildren (pip, ensurepip) inherit it. Done
    after spawn rather than in preexec_fn, which is unsafe with threads and disables vfork.
    """
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass  # not Linux, or the child is already gone


def _drain(stream: IO[bytes], sink: bytearray, on_line: Optional[LineSink]) -> None:
    for line in iter(stream.readline, b""):
        sink += line
        if on_line is not None:
            on_line(line)
    stream.close()


def _start_readers(
    proc: "subprocess.Popen[bytes]", out: bytearray, err: bytearray, on_line: Optional[LineSink]
) -> List[threading.Thread]:
    pairs = ((proc.stdout, out, on_line), (proc.stderr, err, None))
    readers = [threading.Thread(target=_drain, args=pair, daemon=True) for pair in pairs]
    for reader in readers:
        reader.start()
    return readers


def _wait(proc: "subprocess.Popen[bytes]", timeout: Optional[float]) -> bool:
    """Wait for the child; True when it ran past ``timeout`` and its group was killed."""
    try:
        proc.wait(timeout)
        return False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()
        return True
    except BaseException:
        _kill_group(proc)  # Ctrl-C: never leave a build running behind us, nor a zombie
        proc.wait()
        raise


def _join(proc: "subprocess.Popen[bytes]", readers: List[threading.Thread]) -> None:
    for reader in readers:
        reader.join(_PIPE_GRACE)
    if any(reader.is_alive() for reader in readers):
        _kill_group(proc)  # a grandchild still holds our pipes: it must not outlive the step
        for reader in readers:
            reader.join(_PIPE_GRACE)


def run(
    argv: Sequence[str],
    timeout: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
    on_line: Optional[LineSink] = None,
) -> Completed:
    """Run ``argv`` to completion; ``on_line`` sees each stdout line as it arrives."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, **_group_options(),  # type: ignore[call-overload]
        )
    except OSError as exc:
        return Completed(SPAWN_FAILED_RC, b"", b"", time.monotonic() - start, error=exc)
    if sys.platform == "linux":
        _prefer_as_oom_victim(proc.pid)
    out, err = bytearray(), bytearray()
    readers = _start_readers(proc, out, err, on_line)
    timed_out = _wait(proc, timeout)
    _join(proc, readers)
    return Completed(proc.returncode, bytes(out), bytes(err), time.monotonic() - start, timed_out)
