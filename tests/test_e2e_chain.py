"""The e2e chain: real interpreters, real pip, a tiny wheel built by the tests, no network."""

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

from tests.conftest import PROBE_DIST, PROBE_MODULE, REPO
from tests.fake_envs import VENV_ORDER
from tests.interpreters import debian_venv, hang_in_venv, pid_alive, sigkill_once, write_wrapper

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="wrapper interpreters are POSIX sh scripts"),
]


def sdkboot_argv(state: Path, wheels: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sdkboot",
        "ensure",
        "--json",
        "--state-dir",
        str(state),
        "--import-name",
        PROBE_MODULE,
        "--no-index",
        "--find-links",
        str(wheels),
        *VENV_ORDER,
        *extra,
        PROBE_DIST,
    ]


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def ensure(state: Path, wheels: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(sdkboot_argv(state, wheels, *extra), capture_output=True, env=child_env(), timeout=240)
    assert done.stderr == b"", done.stderr.decode()
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def imports_probe(python: str, *args: str) -> bool:
    code = f"import {PROBE_MODULE} as m; assert m.VALUE == 42"
    return subprocess.run([python, *args, "-c", code], capture_output=True).returncode == 0


def test_build_noop_kill_cooldown_retry(tmp_path: Path, probe_wheelhouse: Path) -> None:
    state = tmp_path / "state"
    first = ensure(state, probe_wheelhouse)
    assert (first["outcome"], first["strategy"]) == ("BUILT", "venv")
    assert ensure(state, probe_wheelhouse)["outcome"] == "NOOP_VENV"
    assert ensure(state, probe_wheelhouse)["subprocesses"] == 0

    # A new interpreter (fingerprint change) whose pip step dies by a real SIGKILL.
    killer = write_wrapper(tmp_path / "py-killed", debian_venv(), sigkill_once(tmp_path / "killed-once"))
    killed = ensure(state, probe_wheelhouse, "--python", str(killer))
    observed = (killed["outcome"], killed["err_kind"], killed["phase"])
    assert observed == ("BUILD_FAILED", "signal_killed:-9", "pip_target")
    assert killed["metrics"]["sdk_bootstrap_rc"] == -9
    assert json.loads((state / "cooldown.json").read_text())["rc"] == -9
    venv_python = Path(first["env"]) / "bin" / "python"
    assert imports_probe(str(venv_python), "-I"), "the previous good env must survive a killed rebuild"

    skipped = ensure(state, probe_wheelhouse, "--python", str(killer))
    assert (skipped["outcome"], skipped["subprocesses"]) == ("SKIP_COOLDOWN", 0)

    time.sleep(1.2)
    retried = ensure(state, probe_wheelhouse, "--python", str(killer), "--cooldown", "1")
    assert retried["outcome"] == "BUILT_TARGET"
    assert not (state / "cooldown.json").exists()


def test_debian_without_ensurepip_falls_back_to_target(tmp_path: Path, probe_wheelhouse: Path) -> None:
    state = tmp_path / "state"
    debian = write_wrapper(tmp_path / "py-debian", debian_venv())
    built = ensure(state, probe_wheelhouse, "--python", str(debian))
    assert (built["outcome"], built["metrics"]["sdk_has_pip"]) == ("BUILT_TARGET", True)
    event = json.loads((state / "events.jsonl").read_text().splitlines()[-1])
    assert event["fallback_reason"] == "venv_ensurepip_fail"
    again = ensure(state, probe_wheelhouse, "--python", str(debian))
    assert (again["outcome"], again["subprocesses"]) == ("NOOP_TARGET", 0)
    assert imports_from_target(built["env"])


def imports_from_target(target: str) -> bool:
    code = f"import sys; sys.path.insert(0, {target!r}); import {PROBE_MODULE} as m; assert m.VALUE == 42"
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True).returncode == 0


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_sigkilled_builder_leaves_no_stale_lock(tmp_path: Path, probe_wheelhouse: Path) -> None:
    state, pidfile = tmp_path / "state", tmp_path / "venv.pid"
    hanging = write_wrapper(tmp_path / "py-hang", hang_in_venv(pidfile))
    builder = subprocess.Popen(
        sdkboot_argv(state, probe_wheelhouse, "--python", str(hanging)),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(pidfile, 60)
        builder.send_signal(signal.SIGKILL)
        assert builder.wait(10) == -signal.SIGKILL
        after = ensure(state, probe_wheelhouse)
    finally:
        if pidfile.exists() and pid_alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
    assert after["outcome"] == "BUILT", after
    assert [p.name for p in (state / "builds").iterdir()] == [Path(after["env"]).name], "leftover stage not pruned"
