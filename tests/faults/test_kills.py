"""Kills and signals mid-rebuild, at seeded random moments (SDKBOOT_FAULT_SEED replays a run).

After SIGKILL: the published env still activates and imports, the lock is free, nothing of the
killed build survives the next ensure, and that ensure builds. After SIGTERM or SIGINT: every step
is stopped, the stage is gone, the lock is free, an event says so, and the exit code is the
shell's (143 / 130); the hook still answers its two JSON lines and exits 0.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from sdkboot import events
from sdkboot.layout import Layout
from tests.conftest import PROBE_DIST, FaultLog
from tests.faults import real
from tests.interpreters import hang_in_venv, write_wrapper

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, signals")]
KILLS = 10
SIGNALS = 3


def _after_a_kill(root: Path, wheels: Path, requirement: str) -> list[str]:
    """What a SIGKILLed rebuild destroyed or left behind, checked the way the next session sees it."""
    lost = []
    lost += [] if real.activates(root) is None else [f"the published env broke: {real.activates(root)}"]
    lost += [] if real.lock_free(root) else ["the lock stayed held"]
    orphans = real.settle(lambda: real.processes_naming(str(root / "builds")))
    lost += [f"{len(orphans)} build process(es) outlived the kill"] if orphans else []
    again = real.ensure(root, wheels, requirement)
    lost += [] if again["outcome"] in ("BUILT", "NOOP_VENV") else [f"the next ensure: {again['outcome']}"]
    lost += [f"left after the next ensure: {real.strays(root)}"] if real.strays(root) else []
    # A state write killed mid-way leaves its temp file; a no-op next session lists no dirs, so
    # the file waits for the next build's sweep (or clean), which must recognise it as an orphan.
    kept = real.temp_files(root, orphans_too=False)
    lost += [f"temp files no sweep would remove: {kept}"] if kept else []
    return lost


def test_sigkill_at_random_moments_mid_rebuild(
    tmp_path: Path, probe_wheelhouse: Path, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("SIGKILL at a random moment of a rebuild")
    root = tmp_path / "state"
    assert real.ensure(root, probe_wheelhouse)["outcome"] == "BUILT"
    started = time.monotonic()
    real.ensure(root, probe_wheelhouse, f"{PROBE_DIST}>=0.0")
    span = time.monotonic() - started  # how long one rebuild takes here, now
    moments = real.rng("sigkill")
    for trial in range(KILLS):
        requirement = f"{PROBE_DIST}>=0.{trial + 1}"
        child = real.start(real.ensure_argv(root, probe_wheelhouse, requirement))
        time.sleep(moments.uniform(0.0, span))
        child.kill()
        child.communicate(timeout=60)
        log.trial(_after_a_kill(root, probe_wheelhouse, requirement))
    real.ensure(root, probe_wheelhouse, f"{PROBE_DIST}>=0.{KILLS + 1}")  # a build sweeps what is left
    log.trial([f"temp files left after a build: {real.temp_files(root)}"] if real.temp_files(root) else [])
    log.check()


def _interrupted_cleanly(root: Path, exit_code: int, expected: int, name: str) -> list[str]:
    lost = [] if exit_code == expected else [f"exit {exit_code}, not {expected}"]
    lost += [] if real.lock_free(root) else ["the lock stayed held"]
    left = real.settle(lambda: real.processes_naming(str(root / "builds")))
    lost += [f"{len(left)} step process(es) left running"] if left else []
    lost += [] if real.builds(root) == [] else [f"the stage was left: {real.builds(root)}"]
    logged = [json.loads(line) for line in events.read_lines(Layout(str(root)).events_file)]
    last = logged[-1] if logged else {}
    lost += [] if str(last.get("err_kind", "")).startswith(f"interrupted:{name}") else [f"no event: {last}"]
    return lost


@pytest.mark.parametrize("signum, expected", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_step_stops_everything_and_says_so(
    tmp_path: Path, probe_wheelhouse: Path, signum: int, expected: int, fault_log: Callable[[str], FaultLog]
) -> None:
    """The build hangs in its venv step (a wrapper interpreter), so the signal surely lands mid-step."""
    name = signal.Signals(signum).name
    log = fault_log(f"{name} mid-build (ensure)")
    pidfile = tmp_path / "venv.pid"
    python = write_wrapper(tmp_path / "py-hangs", hang_in_venv(pidfile))
    moments = real.rng(name)
    for trial in range(SIGNALS):
        root = tmp_path / f"state-{trial}"
        pidfile.unlink(missing_ok=True)
        child = real.start(
            real.ensure_argv(root, probe_wheelhouse, PROBE_DIST, "--python", str(python), "--strategy", "venv")
        )
        deadline = time.monotonic() + 60
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(moments.uniform(0.0, 0.3))
        child.send_signal(signum)
        child.communicate(timeout=60)
        log.trial(_interrupted_cleanly(root, child.returncode, expected, name))
    log.check()


def test_the_hook_answers_a_sigterm_and_exits_0(
    tmp_path: Path, probe_wheelhouse: Path, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("SIGTERM mid-build (hook)")
    pidfile = tmp_path / "venv.pid"
    python = write_wrapper(tmp_path / "py-hangs", hang_in_venv(pidfile))
    for trial in range(SIGNALS):
        root = tmp_path / f"state-{trial}"
        pidfile.unlink(missing_ok=True)
        child = real.start(
            real.ensure_argv(
                root, probe_wheelhouse, PROBE_DIST, "--python", str(python), "--strategy", "venv", command="hook"
            )
        )
        deadline = time.monotonic() + 60
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=60)
        lines = out.splitlines()
        lost = _interrupted_cleanly(root, child.returncode, 0, "SIGTERM")
        try:
            metrics = json.loads(lines[1])["metrics"] if len(lines) == 2 else None
        except ValueError:
            metrics = None
        lost += [] if metrics and metrics.get("sdk_bootstrap") == 3 else [f"hook stdout: {out[:200]!r}"]
        log.trial(lost)
    log.check()
