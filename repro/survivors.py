"""Find the processes a run left behind: every descendant, wherever it moved.

A run's environment carries a mark (``SDKBOOT_REPRO_MARK=<token>``). Every descendant
inherits it, even one that started its own session or process group, or was re-parented
to init, so scanning ``/proc/*/environ`` for the mark finds them all (root reads every
process's environment). Zombies are dead and do not count.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

MARK_VARIABLE = "SDKBOOT_REPRO_MARK"
# A SIGKILLed process needs to be scheduled once to die: on a loaded machine that takes a
# moment. The same second the team's contract allows after a kill ("1 s later").
GRACE_SECONDS = 1.0
PROC = Path("/proc")


@dataclass(frozen=True)
class Survivor:
    pid: int
    command: str

    def __str__(self) -> str:
        return f"{self.pid} {self.command}"


def new_mark() -> str:
    return secrets.token_hex(8)


def _state(entry: Path) -> str:
    try:
        return (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _command(entry: Path) -> str:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:160]


def marked(mark: str, proc: Path = PROC) -> list[Survivor]:
    """Live (not zombie) processes whose environment carries ``mark``."""
    needle = f"{MARK_VARIABLE}={mark}".encode()
    found = []
    try:
        entries = [entry for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return []  # no /proc here: nothing can be counted
    for entry in entries:
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if needle in environment.split(b"\0") and _state(entry) not in ("Z", "X", "?"):
            found.append(Survivor(int(entry.name), _command(entry)))
    return found


def census(mark: str, grace: float = GRACE_SECONDS, proc: Path = PROC) -> list[Survivor]:
    """The marked processes still alive ``grace`` seconds after the run's leader exited."""
    deadline = time.monotonic() + grace
    while True:
        alive = marked(mark, proc)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def kill(survivors: list[Survivor]) -> None:
    """The harness's own cleanup, after they were counted: nothing it started may linger."""
    for survivor in survivors:
        try:
            os.kill(survivor.pid, signal.SIGKILL)
        except OSError:
            pass  # already gone
