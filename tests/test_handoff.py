"""The hand-off: ``sdkboot hook`` execs into a shell that verifies, then a fresh sdkboot finishes.

Whatever happens to the verifier, the hook prints the async line, then exactly one metrics
line, and exits 0: these tests kill the verifier, run it out of time, and break the finisher.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sdkboot import cooldown, handoff
from sdkboot import state as sdkboot_state
from sdkboot.layout import Layout
from sdkboot.lock import holder
from tests.fake_envs import MIN_PYTHON, child_env
from tests.wheels import make_wheel

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not handoff.supported(), reason="the hand-off needs POSIX and /bin/sh"),
]

MODULES = {
    "good_probe": "VALUE = 42\n",
    "killed_probe": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "slow_probe": "import time\ntime.sleep(60)\n",
}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("handoff-wheels")
    for module, text in MODULES.items():
        make_wheel(directory, module.replace("_", "-"), {f"{module}/__init__.py": text})
    return directory


def hook(state: Path, wheels: Path, module: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        "-m",
        "sdkboot",
        "hook",
        *MIN_PYTHON,
        "--state-dir",
        str(state),
        "--import-name",
        module,
        "--strategy",
        "lean",
        "--no-index",
        "--find-links",
        str(wheels),
        *extra,
        module.replace("_", "-"),
    ]
    return subprocess.run(argv, capture_output=True, text=True, env=child_env(), timeout=120)


def contract(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Exit 0, the async line, exactly one metrics line: returns the metrics."""
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert len(lines) == 2, done.stdout
    assert json.loads(lines[0])["async"] is True
    return dict(json.loads(lines[1])["metrics"])


def last_event(state: Path) -> dict[str, Any]:
    return dict(json.loads(Path(Layout(str(state)).events_file).read_text().splitlines()[-1]))


def builds(state: Path) -> list[str]:
    return sorted(p.name for p in (state / "builds").iterdir()) if (state / "builds").exists() else []


def test_a_verified_build_is_published_by_the_finisher(tmp_path: Path, wheels: Path) -> None:
    metrics = contract(hook(tmp_path / "s", wheels, "good_probe"))
    assert (metrics["sdk_bootstrap"], metrics["sdk_bootstrap_strategy"]) == (2, 3)
    event = last_event(tmp_path / "s")
    assert "verified after hand-off" in event["message"] and "verify" in event["durations"]
    assert holder(Layout(str(tmp_path / "s")).lock_file) is None  # the lock went with the finisher
    env = Path(event["env"])
    assert not list(env.glob(handoff.VERIFY_FILE + "*"))
    again = contract(hook(tmp_path / "s", wheels, "good_probe"))
    assert again["sdk_bootstrap"] == 1  # NOOP_VENV


def test_a_killed_verifier_still_gets_one_metrics_line_and_cools_down(tmp_path: Path, wheels: Path) -> None:
    metrics = contract(hook(tmp_path / "s", wheels, "killed_probe"))
    assert (metrics["sdk_bootstrap"], metrics["sdk_bootstrap_phase"], metrics["sdk_bootstrap_rc"]) == (3, 8, -9)
    assert (cooldown.read(Layout(str(tmp_path / "s"))) or {}).get("phase") == "verify"
    assert builds(tmp_path / "s") == []  # the half-verified stage is gone
    assert sdkboot_state.load(Layout(str(tmp_path / "s"))).builds == ()  # nothing published


def test_a_verifier_past_its_time_is_a_timeout_not_a_kill(tmp_path: Path, wheels: Path) -> None:
    metrics = contract(hook(tmp_path / "s", wheels, "slow_probe", "--timeout", "2"))
    assert (metrics["sdk_bootstrap"], metrics["sdk_bootstrap_phase"], metrics["sdk_bootstrap_err"]) == (3, 8, 10)
    assert (cooldown.read(Layout(str(tmp_path / "s"))) or {}).get("time") is None


def test_when_even_the_finisher_fails_the_shell_prints_the_fallback_line(tmp_path: Path) -> None:
    argv = [
        "/bin/sh",
        "-c",
        handoff.SCRIPT,
        "sdkboot-verify",
        sys.executable,
        "pass",
        "5",
        str(tmp_path / "o"),
        str(tmp_path / "e"),
        sys.executable,
        str(tmp_path / "no-sdkboot-here"),
        str(tmp_path / "missing.json"),
        json.dumps(handoff.FALLBACK),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert [json.loads(line) for line in done.stdout.splitlines()] == [handoff.FALLBACK]


def test_without_the_hand_off_the_verification_runs_as_a_child(tmp_path: Path, wheels: Path) -> None:
    env = {**child_env(), "SDKBOOT_NO_HANDOFF": "1"}
    argv = [
        sys.executable,
        "-m",
        "sdkboot",
        "hook",
        *MIN_PYTHON,
        "--state-dir",
        str(tmp_path / "s"),
        "--import-name",
        "good_probe",
        "--strategy",
        "lean",
        "--no-index",
        "--find-links",
        str(wheels),
        "good-probe",
    ]
    metrics = contract(subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120))
    assert metrics["sdk_bootstrap"] == 2
    assert "hand-off" not in last_event(tmp_path / "s")["message"]
