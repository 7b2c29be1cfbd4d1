"""The example plugin, run exactly as the host runs it: its SessionStart hook, then its consumer script.

The host reads hooks/hooks.json, takes the command string and runs it with ``sh -c``;
``sdkboot`` on PATH is a shim for this checkout, and pip sees only a local wheelhouse
holding a tiny stand-in ``claude-agent-sdk`` (module ``claude_agent_sdk``).
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from tests.conftest import REPO
from tests.wheels import make_wheel

PLUGIN = REPO / "examples" / "claude-plugin"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the host runs command hooks with sh")


def session_start_commands() -> List[Dict[str, object]]:
    config = json.loads((PLUGIN / "hooks" / "hooks.json").read_text())
    return [hook for group in config["hooks"]["SessionStart"] for hook in group["hooks"]]


def host_env(tmp_path: Path) -> Dict[str, str]:
    """What the hook sees: the plugin root, a PATH with ``sdkboot``, an offline pip, a private state dir."""
    wheels = tmp_path / "wheelhouse"
    wheels.mkdir()
    make_wheel(wheels, "claude-agent-sdk", {
        "claude_agent_sdk/__init__.py": "__version__ = '0.0.0+stand-in'\n",
    })
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "sdkboot"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m sdkboot "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SDKBOOT_")}
    env.update({
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "CLAUDE_PLUGIN_ROOT": str(PLUGIN),
        "SDKBOOT_STATE_DIR": str(tmp_path / "state"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
    })
    env.pop("PYTHONPATH", None)
    return env


def test_the_hook_config_is_what_the_host_expects() -> None:
    (hook,) = session_start_commands()
    assert hook["type"] == "command" and isinstance(hook["command"], str)
    # The host's own timeout (seconds) must outlast the asyncTimeout sdkboot announces (180000 ms).
    assert isinstance(hook["timeout"], int) and hook["timeout"] * 1000 > 180_000
    manifest = json.loads((PLUGIN / ".claude-plugin" / "plugin.json").read_text())
    assert manifest["name"] and manifest["version"]


@pytest.mark.e2e
@pytest.mark.skipif(sys.version_info < (3, 10), reason="the plugin's hook uses the default floor, Python 3.10")
def test_session_start_hook_then_the_agent_script(tmp_path: Path) -> None:
    env = host_env(tmp_path)
    project = tmp_path / "project"  # the host runs hooks from the user's project dir
    project.mkdir()
    (hook,) = session_start_commands()

    done = subprocess.run(["sh", "-c", str(hook["command"])], cwd=str(project), env=env, capture_output=True,
                          text=True, timeout=int(hook["timeout"]))  # type: ignore[call-overload]

    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    first, second = (json.loads(line) for line in lines)
    assert first == {"async": True, "asyncTimeout": 180000}
    assert set(second) == {"metrics"}
    assert second["metrics"]["sdk_bootstrap"] == 2, second  # BUILT
    assert all(type(value) in (int, bool) for value in second["metrics"].values())

    agent = subprocess.run([sys.executable, str(PLUGIN / "scripts" / "agent.py")], cwd=str(project),
                           env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)

    assert (agent.returncode, agent.stderr) == (0, ""), agent.stderr
    where = agent.stdout.strip().split("claude_agent_sdk from ", 1)[1]
    assert (tmp_path / "state" / "builds").resolve() in Path(where).resolve().parents, where
    assert Path(where).name == "__init__.py" and Path(where).parent.name == "claude_agent_sdk"

    again = subprocess.run(["sh", "-c", str(hook["command"])], cwd=str(project), env=env, capture_output=True,
                           text=True, timeout=int(hook["timeout"]))  # type: ignore[call-overload]
    assert again.stderr == ""
    assert json.loads(again.stdout.splitlines()[1])["metrics"]["sdk_bootstrap"] == 1  # NOOP_VENV


def test_the_agent_script_before_any_build_says_why(tmp_path: Path) -> None:
    env = {**host_env(tmp_path), "PYTHONPATH": str(REPO)}
    agent = subprocess.run([sys.executable, str(PLUGIN / "scripts" / "agent.py")], env=env, capture_output=True,
                           text=True, timeout=60)
    assert agent.returncode == 1 and agent.stdout == ""
    assert agent.stderr == "claude-agent-sdk is not ready yet: nothing built: install-state absent\n"
