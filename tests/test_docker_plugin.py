"""The example plugin in Debian 12 containers where sdkboot was never installed.

Each step is a fresh container (networking off, ``PATH=/usr/bin:/bin``, no PYTHONPATH): the
plugin copy with its built ``sdkboot.pyz`` is mounted read-only as ``CLAUDE_PLUGIN_ROOT``, a host
dir is ``CLAUDE_PLUGIN_DATA`` (so one session's build is there for the next), and pip finds a
tiny stand-in ``claude-agent-sdk`` only through ``PIP_NO_INDEX``/``PIP_FIND_LINKS``. The hook
runs exactly as hooks.json writes it, with ``sh -c``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_image, run_to_end
from tests.test_example_plugin import build_bundle, copy_plugin, hook_command
from tests.wheels import make_wheel

pytestmark = pytest.mark.docker

AGENT = 'python3 "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"'
STATE = Path("sdkboot") / "claude_agent_sdk"
VENV_CHAIN = " --strategy venv --strategy target"  # what a plugin that picks its chain adds to the hook line


@pytest.fixture(scope="module")
def client(docker_engine: Any) -> Any:
    return docker_engine


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = copy_plugin(tmp_path_factory.mktemp("marketplace") / "sdkboot-example")
    done = build_bundle(built)
    assert done.returncode == 0, done.stderr
    return built


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("wheelhouse")
    make_wheel(where, "claude-agent-sdk", {"claude_agent_sdk/__init__.py": "__version__ = '0.0.0+stand-in'\n"})
    return where


class Machine:
    """One Debian 12 image, and the plugin's data dir that its sessions share."""

    def __init__(self, client: Any, image: str, plugin: Path, wheels: Path, data: Path) -> None:
        self.client, self.plugin, self.wheels, self.data = client, plugin, wheels, data
        self.ref = require_image(client, image)

    def sh(self, command: str) -> dict[str, Any]:
        """``sh -c COMMAND`` in a fresh container, as the host runs a hook; its exit code and streams."""
        from repro import dockerutil

        container = self.client.containers.create(
            self.ref,
            command=["/bin/sh", "-c", command],
            network_mode="none",
            labels=dockerutil.labels(),
            working_dir="/root",
            environment={
                "PATH": "/usr/bin:/bin",
                "HOME": "/root",
                "CLAUDE_PLUGIN_ROOT": "/plugin",
                "CLAUDE_PLUGIN_DATA": "/data",
                "PIP_NO_INDEX": "1",
                "PIP_FIND_LINKS": "/wheels",
            },
            volumes={
                str(self.plugin): {"bind": "/plugin", "mode": "ro"},
                str(self.wheels): {"bind": "/wheels", "mode": "ro"},
                str(self.data): {"bind": "/data", "mode": "rw"},
            },
        )
        return run_to_end(container)

    def hook(self, extra: str = "") -> dict[str, Any]:
        """One session's hook: the second line's metrics."""
        done = self.sh(hook_command() + extra)
        assert (done["rc"], done["err"]) == (0, ""), done["err"]
        lines = [json.loads(line) for line in done["out"].splitlines()]
        assert len(lines) == 2 and lines[0]["async"] is True, done["out"]
        metrics: dict[str, Any] = lines[1]["metrics"]
        return metrics

    @contextmanager
    def remounted(self) -> Iterator[None]:
        """The next sessions see the image under another device number, as after a restart.

        A container's overlay gets the lowest free anonymous device number; one left running
        from here holds the number the last session had, so the next one cannot get it.
        """
        from repro import dockerutil

        holder = self.client.containers.run(
            self.ref, command=["sleep", "600"], network_mode="none", labels=dockerutil.labels(), detach=True
        )
        try:
            yield
        finally:
            dockerutil.remove_container(holder)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.data / STATE / "events.jsonl").read_text().splitlines()]

    def agent_imports(self) -> None:
        done = self.sh(AGENT)
        assert (done["rc"], done["err"]) == (0, ""), done["err"]
        said = dict(line.split(" from ", 1) for line in done["out"].splitlines())
        assert said["sdkboot"] == "/plugin/sdkboot.pyz/sdkboot/__init__.py"
        assert said["claude_agent_sdk"].startswith(f"/data/{STATE}/builds/"), said


def machine(client: Any, image: str, plugin: Path, wheels: Path, tmp_path: Path) -> Machine:
    data = tmp_path / "plugin-data"
    data.mkdir()
    return Machine(client, image, plugin, wheels, data)


def test_nothing_in_the_image_provides_sdkboot(client: Any, plugin: Path, wheels: Path, tmp_path: Path) -> None:
    """The premise: the images hold no sdkboot, so the bundle is all the plugin has."""
    box = machine(client, "debian12-venv", plugin, wheels, tmp_path)
    done = box.sh('command -v sdkboot; python3 -c "import sdkboot"')
    assert done["rc"] == 1 and done["out"] == ""
    assert "ModuleNotFoundError: No module named 'sdkboot'" in done["err"]


def test_with_venv_the_hook_builds_then_noops_with_no_spawn(
    client: Any, plugin: Path, wheels: Path, tmp_path: Path
) -> None:
    box = machine(client, "debian12-venv", plugin, wheels, tmp_path)
    first = box.hook()
    assert first["sdk_bootstrap"] == 2, first  # BUILT
    with box.remounted():
        box.agent_imports()
        again = box.hook()
    assert again["sdk_bootstrap"] == 1 and "sdk_bootstrap_spawns" not in again, again  # NOOP_VENV
    assert (box.events()[-1]["outcome"], box.events()[-1]["subprocesses"]) == ("NOOP_VENV", 0)


def test_without_ensurepip_the_default_chain_builds(client: Any, plugin: Path, wheels: Path, tmp_path: Path) -> None:
    box = machine(client, "debian12-pip", plugin, wheels, tmp_path)
    first = box.hook()
    built = box.events()[-1]
    assert first["sdk_bootstrap"] == 2 and built["outcome"] == "BUILT", built  # lean needs no ensurepip
    assert built["strategy"] == "lean", built
    with box.remounted():
        box.agent_imports()
        again = box.hook()
    assert again["sdk_bootstrap"] == 1 and "sdk_bootstrap_spawns" not in again, again
    assert box.events()[-1]["subprocesses"] == 0


def test_without_ensurepip_the_venv_chain_falls_back_to_target(
    client: Any, plugin: Path, wheels: Path, tmp_path: Path
) -> None:
    box = machine(client, "debian12-pip", plugin, wheels, tmp_path)
    first = box.hook(VENV_CHAIN)
    built = box.events()[-1]
    assert first["sdk_bootstrap"] == 7, first  # BUILT_TARGET
    assert (built["outcome"], built["fallback_reason"]) == ("BUILT_TARGET", "venv_ensurepip_fail"), built
    with box.remounted():
        box.agent_imports()
        again = box.hook(VENV_CHAIN)
    assert again["sdk_bootstrap"] == 8 and "sdk_bootstrap_spawns" not in again, again  # NOOP_TARGET
    assert (box.events()[-1]["outcome"], box.events()[-1]["subprocesses"]) == ("NOOP_TARGET", 0)
