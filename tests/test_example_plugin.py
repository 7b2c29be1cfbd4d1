"""The example plugin, run exactly as the host runs it, on a machine where sdkboot was never installed.

The plugin is copied out of the checkout (a marketplace install is a copy) and its build script
puts ``sdkboot.pyz`` into the copy. The host reads hooks/hooks.json, takes the command string
and runs it with ``sh -c``, from the user's project dir, with ``CLAUDE_PLUGIN_ROOT`` and
``CLAUDE_PLUGIN_DATA`` set. Its ``python3`` is a fresh venv's: no sdkboot on PATH, none in
site-packages, no PYTHONPATH, so everything sdkboot comes from the bundle. pip sees only
a local wheelhouse (through ``PIP_NO_INDEX``/``PIP_FIND_LINKS``, no flags) holding a tiny
stand-in ``claude-agent-sdk``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdkboot import bundle
from tests.conftest import REPO
from tests.real_pythons import PYENV_ROOT, pyenv_python, require_debian_python
from tests.wheels import make_wheel

PLUGIN = REPO / "examples" / "claude-plugin"
STATE = Path("sdkboot") / "claude_agent_sdk"  # under CLAUDE_PLUGIN_DATA: the default state dir

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the host runs command hooks with sh")


def session_start_commands() -> list[dict[str, object]]:
    config = json.loads((PLUGIN / "hooks" / "hooks.json").read_text())
    return [hook for group in config["hooks"]["SessionStart"] for hook in group["hooks"]]


def hook_command() -> str:
    (hook,) = session_start_commands()
    return str(hook["command"])


def build_bundle(plugin: Path) -> subprocess.CompletedProcess[str]:
    """The example's documented build step, writing into ``plugin``, from a bare environment."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, str(PLUGIN / "build_bundle.py"), "-o", str(plugin / bundle.NAME)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def copy_plugin(to: Path) -> Path:
    """The plugin as a marketplace installs it: its files, without anything built in the checkout."""
    shutil.copytree(PLUGIN, to, ignore=shutil.ignore_patterns("sdkboot.pyz*", "__pycache__"))
    return to


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the plugin with its bundle built in."""
    plugin = copy_plugin(tmp_path_factory.mktemp("marketplace") / "sdkboot-example")
    done = build_bundle(plugin)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return plugin


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``python3`` whose site-packages is empty: a venv made without pip, outside any checkout."""
    where = tmp_path_factory.mktemp("host") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    return where / "bin"


def host_env(
    tmp_path: Path, plugin: Path, python_bin: Path, path: str = "/usr/bin:/bin", requires_python: str = ""
) -> dict[str, str]:
    """What the hook sees: the plugin's root and data dir, an offline pip, and no sdkboot at all."""
    wheels = tmp_path / "wheelhouse"
    wheels.mkdir(exist_ok=True)
    make_wheel(
        wheels,
        "claude-agent-sdk",
        {"claude_agent_sdk/__init__.py": "__version__ = '0.0.0+stand-in'\n"},
        requires_python=requires_python,
    )
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("SDKBOOT_", "PIP_")) and key not in drop
    }
    env.update(
        {
            "PATH": os.pathsep.join(filter(None, [str(python_bin), path])),
            "CLAUDE_PLUGIN_ROOT": str(plugin),
            "CLAUDE_PLUGIN_DATA": str(tmp_path / "plugin-data"),
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheels),
        }
    )
    return env


def sh(command: str, env: dict[str, str], cwd: Path, timeout: float = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout
    )


def hook_metrics(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    first, second = (json.loads(line) for line in lines)
    assert first == {"async": True, "asyncTimeout": 180000}
    assert set(second) == {"metrics"}, second
    metrics: dict[str, object] = second["metrics"]
    assert all(type(value) in (int, bool) for value in metrics.values())
    return metrics


def agent_paths(done: subprocess.CompletedProcess[str]) -> dict[str, Path]:
    """Where the agent says sdkboot and the SDK came from."""
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    said = dict(line.split(" from ", 1) for line in done.stdout.splitlines())
    return {name: Path(path) for name, path in said.items()}


# -- the plugin's files ---------------------------------------------------------------------------------


def test_the_hook_config_is_what_the_host_expects() -> None:
    (hook,) = session_start_commands()
    assert hook["type"] == "command"
    # The host's own timeout (seconds) must outlast the asyncTimeout sdkboot announces (180000 ms).
    assert isinstance(hook["timeout"], int) and hook["timeout"] * 1000 > 180_000
    manifest = json.loads((PLUGIN / ".claude-plugin" / "plugin.json").read_text())
    assert manifest["name"] and manifest["version"]


def test_the_hook_runs_the_plugins_own_bundle() -> None:
    # Not a bare `sdkboot`: a plugin user never installed it (sh: sdkboot: not found, rc 127).
    assert hook_command().startswith('python3 "${CLAUDE_PLUGIN_ROOT}/sdkboot.pyz" hook')


def test_the_bundle_is_built_not_committed() -> None:
    # Here it would be a second copy of sdkboot/ that goes stale; a plugin repository commits it.
    paths = ["examples/claude-plugin/sdkboot.pyz", "examples/claude-plugin/sdkboot.pyz.sha256"]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=str(REPO), capture_output=True, text=True, timeout=60)
    if ignored.returncode == 128:
        pytest.skip(f"not a git checkout: {ignored.stderr.strip()}")
    assert ignored.stdout.splitlines() == paths
    tracked = subprocess.run(["git", "ls-files", *paths], cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert tracked.stdout == ""


def test_the_build_script_writes_the_same_bundle_as_sdkboot_bundle(installed: Path, tmp_path: Path) -> None:
    direct = tmp_path / "direct.pyz"
    made = subprocess.run(
        [sys.executable, "-m", "sdkboot", "bundle", "-o", str(direct)],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert (installed / bundle.NAME).read_bytes() == direct.read_bytes()
    pinned = (installed / "sdkboot.pyz.sha256").read_text().split()
    assert pinned == [bundle.sha256_of(str(installed / bundle.NAME)), bundle.NAME]


def test_the_build_script_refuses_a_source_that_is_not_sdkboot(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PLUGIN / "build_bundle.py"), "--source", str(tmp_path), "-o", str(tmp_path / bundle.NAME)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"build_bundle.py: --source {tmp_path} is not a sdkboot checkout (no sdkboot/bundle.py)\n"
    assert not (tmp_path / bundle.NAME).exists()


# -- the host runs it -----------------------------------------------------------------------------------


def test_nothing_but_the_bundle_provides_sdkboot(installed: Path, bare_python: Path, tmp_path: Path) -> None:
    """The premise of every test below: if a shim or an install came back, this fails."""
    env = host_env(tmp_path, installed, bare_python)
    assert shutil.which("sdkboot", path=env["PATH"]) is None
    assert shutil.which("python3", path=env["PATH"]) == str(bare_python / "python3")
    done = sh('python3 -c "import sdkboot"', env, cwd=tmp_path)
    assert done.returncode == 1 and "ModuleNotFoundError: No module named 'sdkboot'" in done.stderr


@pytest.mark.e2e
@pytest.mark.skipif(sys.version_info < (3, 10), reason="the plugin's hook uses the default floor, Python 3.10")
def test_session_start_hook_then_the_agent_script(installed: Path, bare_python: Path, tmp_path: Path) -> None:
    env = host_env(tmp_path, installed, bare_python)
    project = tmp_path / "project"  # the host runs hooks from the user's project dir
    project.mkdir()
    builds = (tmp_path / "plugin-data" / STATE / "builds").resolve()

    first = hook_metrics(sh(hook_command(), env, cwd=project))
    assert first["sdk_bootstrap"] == 2, first  # BUILT

    for launch in (
        'python3 "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"',
        'python3 "${CLAUDE_PLUGIN_ROOT}/sdkboot.pyz" run -- "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"',
    ):
        where = agent_paths(sh(launch, env, cwd=project, timeout=60))
        assert where["sdkboot"] == installed / bundle.NAME / "sdkboot" / "__init__.py", launch
        assert builds in where["claude_agent_sdk"].resolve().parents, launch
        assert where["claude_agent_sdk"].parent.name == "claude_agent_sdk", launch

    again = hook_metrics(sh(hook_command(), env, cwd=project))
    assert again["sdk_bootstrap"] == 1, again  # NOOP_VENV
    assert "sdk_bootstrap_spawns" not in again, again  # zeros are omitted: nothing was spawned


def test_the_agent_script_before_any_build_says_why(installed: Path, bare_python: Path, tmp_path: Path) -> None:
    env = host_env(tmp_path, installed, bare_python)
    agent = sh('python3 "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"', env, cwd=tmp_path, timeout=60)
    assert agent.returncode == 1 and agent.stdout == ""
    assert agent.stderr == "claude-agent-sdk is not ready yet: nothing built: install-state absent\n"


def test_the_agent_script_without_its_bundle_says_how_to_build_it(bare_python: Path, tmp_path: Path) -> None:
    plugin = copy_plugin(tmp_path / "unbuilt")
    env = host_env(tmp_path, plugin, bare_python)
    agent = sh('python3 "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"', env, cwd=tmp_path, timeout=60)
    assert (agent.returncode, agent.stdout) == (1, "")
    assert agent.stderr == f"{plugin / bundle.NAME} is missing: build it with build_bundle.py\n"


@pytest.mark.e2e
@pytest.mark.linux
def test_an_old_hosts_python3_still_runs_the_agent_on_a_newer_python(installed: Path, tmp_path: Path) -> None:
    """The host's python3 is pyenv's 3.9 and its PATH holds no 3.10+ (links to sh, env and the 3.9
    only: /bin links to /usr/bin here). The SDK stand-in needs 3.10, as the real one does."""
    old = pyenv_python("3.9")
    require_debian_python()
    bare = tmp_path / "path"
    bare.mkdir()
    for name, target in (("sh", shutil.which("sh")), ("env", shutil.which("env")), ("python3", str(old))):
        assert target is not None
        (bare / name).symlink_to(os.path.realpath(target))
    env = {**host_env(tmp_path, installed, bare, path="", requires_python=">=3.10"), "PYENV_ROOT": str(PYENV_ROOT)}
    project = tmp_path / "project"
    project.mkdir()

    first = hook_metrics(sh(hook_command(), env, cwd=project))
    assert first["sdk_bootstrap"] == 2 and first["sdk_hook_py"] == 309, first  # BUILT, from a 3.9 hook
    assert isinstance(first["sdk_alt_py"], int) and first["sdk_alt_py"] >= 310, first

    in_process = sh('python3 "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"', env, cwd=project, timeout=60)
    assert (in_process.returncode, in_process.stdout) == (1, ""), in_process.stderr
    # In process, the 3.9 host cannot import an env built for another X.Y, and says so.
    assert re.fullmatch(
        r"claude-agent-sdk is not ready yet: env was built for Python 3\.(\d+), this is 3\.9\n", in_process.stderr
    ), in_process.stderr

    launched = sh(
        'python3 "${CLAUDE_PLUGIN_ROOT}/sdkboot.pyz" run -- "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"',
        env,
        cwd=project,
        timeout=60,
    )
    where = agent_paths(launched)
    assert where["sdkboot"] == installed / bundle.NAME / "sdkboot" / "__init__.py"
    site = where["claude_agent_sdk"].parent.parent
    assert site.name == "site-packages" and site.parent.name.startswith("python3.")
    assert int(site.parent.name.split(".")[1]) >= 10, site  # the env of a 3.10+ interpreter

    again = hook_metrics(sh(hook_command(), env, cwd=project))
    assert again["sdk_bootstrap"] == 1 and "sdk_bootstrap_spawns" not in again, again  # NOOP_VENV, no spawn
