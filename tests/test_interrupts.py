"""SIGINT and SIGTERM: every descendant killed, the stage removed, the lock released, an event logged;
``ensure`` exits 130 / 143 and ``hook`` still answers and exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sdkboot import interrupts
from sdkboot.interrupts import Interrupted, signum_of
from sdkboot.lock import holder
from tests.conftest import PROBE_DIST, PROBE_MODULE
from tests.fake_envs import MIN_PYTHON, VENV_ORDER, child_env
from tests.interpreters import hang_in_venv, pid_alive, write_wrapper

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and sh wrapper interpreters")


def test_the_exit_codes_are_the_shells() -> None:
    assert (Interrupted(signal.SIGINT).exit_code, Interrupted(signal.SIGTERM).exit_code) == (130, 143)
    assert Interrupted(signal.SIGTERM).name == "SIGTERM"


def test_the_signal_behind_an_interruption() -> None:
    assert signum_of(Interrupted(signal.SIGTERM)) == signal.SIGTERM
    assert signum_of(KeyboardInterrupt()) == signal.SIGINT
    assert signum_of(SystemExit(1)) == 0


def test_interruptions_are_not_exceptions() -> None:
    """``except Exception`` anywhere on the way out must not swallow one."""
    assert not isinstance(Interrupted(signal.SIGTERM), Exception)


@posix_only
def test_the_first_signal_raises_and_a_second_cannot_cut_the_cleanup_short() -> None:
    previous = {name: signal.getsignal(getattr(signal, name)) for name in interrupts.HANDLED}
    try:
        interrupts.install()
        with pytest.raises(Interrupted) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises at the next bytecode
        assert raised.value.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGINT)  # ignored now
        time.sleep(0.05)
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


# -- real processes ---------------------------------------------------------------------------------


def _wait_for(path: Path, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return int(path.read_text())


def interrupted(tmp_path: Path, command: str, number: int) -> tuple[subprocess.CompletedProcess[str], int, Path]:
    """Run ``command`` with a build that hangs in venv, send ``number`` to sdkboot mid-build."""
    state, pidfile = tmp_path / "state", tmp_path / "venv.pid"
    hanging = write_wrapper(tmp_path / "py-hang", hang_in_venv(pidfile))
    argv = [
        sys.executable,
        "-m",
        "sdkboot",
        command,
        *MIN_PYTHON,
        "--state-dir",
        str(state),
        "--python",
        str(hanging),
        "--import-name",
        PROBE_MODULE,
        "--no-index",
        "--find-links",
        str(tmp_path),
        *VENV_ORDER,
        PROBE_DIST,
    ]
    proc = subprocess.Popen(
        argv, env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    venv = 0
    try:
        venv = _wait_for(pidfile)
        proc.send_signal(number)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
        if venv and pid_alive(venv):
            os.kill(venv, signal.SIGKILL)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), venv, state


def last_event(state: Path) -> dict[str, Any]:
    lines = (state / "events.jsonl").read_text().splitlines()
    return dict(json.loads(lines[-1]))


def assert_cleaned_up(venv: int, state: Path, number: int) -> None:
    assert not pid_alive(venv), "the build step outlived the interrupted sdkboot"
    assert list((state / "builds").iterdir()) == [], "the stage was left on disk"
    assert holder(str(state / "build.lock")) is None, "the lock was not released"
    assert not (state / "cooldown.json").exists(), "an interruption is not a reason to cool down"
    event = last_event(state)
    name = signal.Signals(number).name
    assert (event["err"], event["err_kind"], event["rc"], event["phase"]) == (
        "interrupted",
        f"interrupted:{name}",
        -number,
        "venv",
    )


@posix_only
@pytest.mark.parametrize("number, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_ensure_cleans_up_logs_and_exits_128_plus_the_signal(
    tmp_path: Path, number: int, code: int
) -> None:
    done, venv, state = interrupted(tmp_path, "ensure", number)
    assert done.returncode == code, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and f"interrupted by {signal.Signals(number).name}" in done.stderr
    assert_cleaned_up(venv, state, number)


@posix_only
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_hook_still_answers_and_exits_0(tmp_path: Path, number: int) -> None:
    done, venv, state = interrupted(tmp_path, "hook", number)
    assert (done.returncode, done.stderr) == (0, "")
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first == {"async": True, "asyncTimeout": 180000}
    metrics = second["metrics"]
    assert (
        metrics["sdk_bootstrap"],
        metrics["sdk_bootstrap_phase"],
        metrics["sdk_bootstrap_err"],
        metrics["sdk_bootstrap_rc"],
    ) == (3, 2, 19, -number)
    assert_cleaned_up(venv, state, number)
