"""SIGKILL of ``sdkboot hook``, alone and with its whole process group, mid-build of the real
closure: 1 s later no descendant is alive, and the next session builds at once.

The hook starts in a session of its own (so that its group can be killed without this test),
with an environment mark every descendant inherits wherever it moves (repro.survivors).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from repro import scenarios, survivors
from repro.scenarios import DEFAULT_PYTHON

pytestmark = [pytest.mark.linux, pytest.mark.root]
# venv: `python -m venv` (with ensurepip); pip: the env's pip installing the closure.
MOMENTS = {"venv": " -m venv ", "pip": " -m pip install "}
STARTS_WITHIN = 90.0


def hook_argv(state: Path, wheels: Path) -> list[str]:
    return [
        DEFAULT_PYTHON,
        "-m",
        "sdkboot",
        "hook",
        "--state-dir",
        str(state),
        "--python",
        DEFAULT_PYTHON,
        "--no-index",
        "--find-links",
        str(wheels),
        "--strategy",
        "venv",
    ]


def hook_env(mark: str) -> dict[str, str]:
    return scenarios.run_env({"PYTHONPATH": scenarios.sdkboot_root(), survivors.MARK_VARIABLE: mark})


def wait_for_step(mark: str, needle: str, hook: subprocess.Popen[bytes]) -> survivors.Survivor:
    deadline = time.monotonic() + STARTS_WITHIN
    while time.monotonic() < deadline and hook.poll() is None:
        step = next((s for s in survivors.marked(mark) if needle in f" {s.command} "), None)
        if step is not None:
            return step
        time.sleep(0.02)
    raise AssertionError(f"no step matching {needle.strip()!r} started (hook rc {hook.poll()})")


@pytest.mark.parametrize("target", ["hook", "group"], ids=["the-hook", "its-process-group"])
@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_a_killed_hook_leaves_no_descendant_and_the_next_session_builds(
    tmp_path: Path, wheel_ctx: scenarios.Context, moment: str, target: str
) -> None:
    state, mark = tmp_path / "state", survivors.new_mark()
    argv = hook_argv(state, wheel_ctx.wheelhouse)
    hook = subprocess.Popen(
        argv, env=hook_env(mark), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        step = wait_for_step(mark, MOMENTS[moment], hook)
        if target == "group":
            os.killpg(hook.pid, signal.SIGKILL)
        else:
            hook.kill()
        hook.wait(timeout=30)
        left = survivors.census(mark, grace=1.0)
    finally:
        if hook.poll() is None:
            hook.kill()
            hook.wait()
    if left:
        survivors.kill(left)
    assert left == [], f"alive 1 s after the kill during {step.command!r}: {[str(s) for s in left]}"

    again_mark = survivors.new_mark()
    done = subprocess.run(argv, env=hook_env(again_mark), capture_output=True, text=True, timeout=300)
    lines = done.stdout.splitlines()
    assert (done.returncode, len(lines)) == (0, 2), done.stdout + done.stderr
    metrics = json.loads(lines[1])["metrics"]
    assert metrics["sdk_bootstrap"] == 2, f"the next session did not build at once: {metrics}; {done.stderr}"
    assert survivors.census(again_mark) == []
