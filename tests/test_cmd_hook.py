"""``sdkboot hook``: exactly two JSON lines on stdout, a notice once per version, a quiet stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from sdkboot.result import hook_py
from sdkboot.version import VERSION
from tests.fake_envs import MIN_PYTHON, child_env, fake_env, sdkboot, spec_for
from tests.interpreters import debian_venv, write_wrapper

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="wrapper interpreters are POSIX sh scripts")

# Neither ensurepip (Debian-style venv failure) nor pip: the one problem only the user can fix.
NO_PIP = 'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then\n  echo "$0: No module named pip" >&2\n  exit 1\nfi\n'
FIRST_LINE = {"async": True, "asyncTimeout": 180000}


def hook(state: Path, *extra: str, **env: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run the hook as the host does; every stdout line must parse as JSON on its own."""
    done = sdkboot("hook", "--state-dir", str(state), *MIN_PYTHON, *extra, env=child_env(**env))
    lines = done.stdout.splitlines()
    assert done.stdout.endswith("\n") and len(lines) == 2, done.stdout
    return done.returncode, [json.loads(line) for line in lines], done.stderr


def no_pip_python(tmp_path: Path) -> Path:
    return write_wrapper(tmp_path / "py-no-pip", debian_venv(), NO_PIP)


def failing(state: Path, python: Path, *extra: str, **env: str) -> tuple[int, list[dict[str, Any]], str]:
    return hook(state, "--python", str(python), "--import-name", "hook_absent_mod", *extra, "hook-absent-dist", **env)


def test_noop_system(tmp_path: Path) -> None:
    rc, (first, second), err = hook(tmp_path / "state", "--import-name", "json")
    assert (rc, err) == (0, "")
    assert first == FIRST_LINE
    metrics = second.pop("metrics")
    assert second == {}
    assert "sdk_bootstrap" not in metrics  # NOOP_SYSTEM is code 0: omitted
    assert metrics.pop("sdk_hook_py") == hook_py()
    assert set(metrics) <= {"sdk_bootstrap_ms"}  # present only when the call took 0.5 ms or more


def test_noop_venv(tmp_path: Path) -> None:
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root))
    rc, (first, second), err = hook(root, "--import-name", "fake_mod", "fake-dist")
    assert (rc, err) == (0, "")
    assert first == FIRST_LINE
    assert set(second) == {"metrics"}
    assert second["metrics"]["sdk_bootstrap"] == 1 and second["metrics"]["sdk_bootstrap_strategy"] == 1
    assert all(isinstance(v, (int, bool)) for v in second["metrics"].values())


def test_the_announced_async_timeout(tmp_path: Path) -> None:
    rc, (first, _), _ = hook(tmp_path / "state", "--import-name", "json", "--async-timeout", "60000")
    assert rc == 0 and first == {"async": True, "asyncTimeout": 60000}


def test_a_failing_run_notifies_once_per_version(tmp_path: Path) -> None:
    state, python = tmp_path / "state", no_pip_python(tmp_path)

    rc, (first, second), err = failing(state, python)
    assert (rc, err) == (0, ""), "the hook never fails the session and never writes to stderr"
    assert first == FIRST_LINE
    assert set(second) == {"metrics", "systemMessage"}
    assert {
        k: second["metrics"][k] for k in ("sdk_bootstrap", "sdk_bootstrap_phase", "sdk_bootstrap_err", "sdk_has_pip")
    } == {"sdk_bootstrap": 3, "sdk_bootstrap_phase": 2, "sdk_bootstrap_err": 11, "sdk_has_pip": False}
    message = second["systemMessage"]
    assert message.startswith("sdkboot: ") and "apt install python3.11-venv python3-pip" in message
    assert json.loads((state / "notices.json").read_text()) == {VERSION: ["venv_ensurepip_fail"]}

    rc, (first, second), err = failing(state, python)
    assert (rc, err, first) == (0, "", FIRST_LINE)
    assert set(second) == {"metrics"}, "the same problem, the same version: no second notice"
    assert second["metrics"]["sdk_bootstrap_err"] == 11

    # As if an older sdkboot had shown it: this version has not, so it shows it once more.
    (state / "notices.json").write_text(json.dumps({"0.0.1": ["venv_ensurepip_fail"]}))
    _, (_, third), _ = failing(state, python)
    assert third.get("systemMessage") == message
    _, (_, fourth), _ = failing(state, python)
    assert "systemMessage" not in fourth


def test_too_old_a_python_notifies_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _, (_, second), err = hook(state, "--import-name", "hook_absent_mod", "--min-python", "99.0")
    assert err == "" and second["metrics"]["sdk_bootstrap"] == 6
    assert "needs 99.0 or newer" in second["systemMessage"]
    _, (_, again), _ = hook(state, "--import-name", "hook_absent_mod", "--min-python", "99.0")
    assert "systemMessage" not in again


def test_debug_output_goes_to_stderr_only(tmp_path: Path) -> None:
    rc, (first, second), err = failing(tmp_path / "state", no_pip_python(tmp_path), SDKBOOT_DEBUG="1")
    assert rc == 0 and first == FIRST_LINE and "metrics" in second
    assert err.count("\n") == 1
    assert err.startswith("sdkboot: build_failed in phase venv (venv_ensurepip_fail): ")


def test_bad_input_is_one_stderr_line_after_the_async_line(tmp_path: Path) -> None:
    """The async line comes before the CLI loads (under a memory limit it may not); bad input is
    found after it: one stderr line, exit 2, and no metrics line that would claim an outcome."""
    done = sdkboot("hook", "--state-dir", str(tmp_path / "missing" / "state"))
    assert done.returncode == 2 and json.loads(done.stdout) == FIRST_LINE and done.stdout.count("\n") == 1
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr


@pytest.mark.parametrize("value", ["-5", "0"])
def test_a_non_positive_async_timeout_is_a_usage_error(tmp_path: Path, value: str) -> None:
    """Announcing ``"asyncTimeout": -5`` to the host is bad input, like ``--timeout 0`` is.

    ``--async-timeout`` is a bare ``type=int``: no check, unlike every other duration option.
    """
    done = sdkboot(
        "hook", "--state-dir", str(tmp_path / "state"), *MIN_PYTHON, "--import-name", "json", "--async-timeout", value
    )
    assert (done.returncode, done.stdout) == (2, ""), done.stdout
    assert done.stderr.count("\n") == 1 and "--async-timeout" in done.stderr
