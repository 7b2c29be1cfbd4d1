"""Helpers for the fault tests that run real sdkboot processes, real interpreters and real builds
(tiny wheels, no network): start an ``ensure``, check what a kill or a fault left behind."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdkboot import safefs, state
from sdkboot.layout import Layout
from sdkboot.lock import BuildLock
from tests.conftest import PROBE_DIST, PROBE_MODULE, REPO

# One seed for every "random moment": a failure is replayed with SDKBOOT_FAULT_SEED=<seed>.
SEED = int(os.environ.get("SDKBOOT_FAULT_SEED", "1301"))
MIN_PYTHON = "%d.%d" % sys.version_info[:2]


def rng(salt: str) -> random.Random:
    return random.Random(f"{SEED}:{salt}")


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def ensure_argv(
    root: Path, wheels: Path, requirement: str = PROBE_DIST, *extra: str, command: str = "ensure"
) -> list[str]:
    json_flag = ["--json"] if command == "ensure" else []
    return [
        sys.executable,
        "-m",
        "sdkboot",
        command,
        *json_flag,
        "--state-dir",
        str(root),
        "--import-name",
        PROBE_MODULE,
        "--no-index",
        "--find-links",
        str(wheels),
        "--min-python",
        MIN_PYTHON,
        *extra,
        requirement,
    ]


def start(argv: Sequence[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), stdin=subprocess.DEVNULL
    )


def ensure(root: Path, wheels: Path, requirement: str = PROBE_DIST, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        ensure_argv(root, wheels, requirement, *extra), capture_output=True, text=True, env=child_env(), timeout=240
    )
    try:
        return dict(json.loads(done.stdout))
    except ValueError:
        return {"outcome": f"no JSON (exit {done.returncode})", "stderr": done.stderr[-400:]}


_ACTIVATES = (
    "import sys, sdkboot\n"
    f"act = sdkboot.activate(sdkboot.Spec(state_dir=sys.argv[1], import_name={PROBE_MODULE!r}))\n"
    "assert act.ok, act.reason\n"
    f"import {PROBE_MODULE} as m\n"
    "assert m.VALUE == 42 and m.__file__.startswith(sys.argv[1])\n"
)


def activates(root: Path) -> str | None:
    """None when a fresh interpreter activates the published env and imports the package from it."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[2]);" + _ACTIVATES, str(root), str(REPO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no output"])[-1]


def lock_free(root: Path) -> bool:
    lock = BuildLock(Layout(str(root)).lock_file)
    if not lock.acquire():
        return False
    lock.release()
    return True


def strays(root: Path) -> list[str]:
    """Dirs under builds/ that the install-state does not name: what a dead build left."""
    named = {os.path.basename(build.env) for build in state.load(Layout(str(root))).builds}
    return [name for name in builds(root) if name not in named]


def builds(root: Path) -> list[str]:
    try:
        return sorted(os.listdir(Layout(str(root)).builds))
    except OSError:
        return []


def temp_files(root: Path, orphans_too: bool = True) -> list[str]:
    """The state writes' temp files; ``orphans_too=False`` leaves out those a sweep removes."""
    orphans = {os.path.basename(path) for path in safefs.stale_temps(str(root), time.time())}
    return sorted(
        name for name in os.listdir(root) if name.startswith(".tmp-") and (orphans_too or name not in orphans)
    )


def processes_naming(text: str) -> list[int]:
    """Live processes whose command line mentions ``text`` (a stage dir, say): orphans of a kill."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def settle(pids_of: Any, seconds: float = 5.0) -> list[int]:
    """Wait (up to ``seconds``) for ``pids_of()`` to come back empty; what is still there."""
    deadline = time.monotonic() + seconds
    while True:
        left: list[int] = pids_of()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
