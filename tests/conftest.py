"""Shared fixtures: an isolated HOME for every test and a tiny offline wheelhouse."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator, NoReturn

import pytest

from tests.wheels import make_wheel

REPO = Path(__file__).resolve().parent.parent
PROBE_DIST = "sdkboot-probe"
PROBE_MODULE = "sdkboot_probe"

# The real claude-agent-sdk closure is large; keep one copy outside $HOME, shared by runs.
os.environ.setdefault(
    "SDKBOOT_WHEELHOUSE", os.path.join(tempfile.gettempdir(), "sdkboot-wheelhouse")
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may write to the real $HOME or the real per-user state dir."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("LOCALAPPDATA", str(home / "AppData" / "Local"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("SDKBOOT_STATE_DIR", raising=False)
    # The host's plugin data dir and pip index variables would change defaults under test.
    monkeypatch.delenv("CLAUDE_PLUGIN_DATA", raising=False)
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SDKBOOT_DEBUG", raising=False)
    # Version managers' roots point into the real $HOME: discovery must not see them by default.
    for name in ("PYENV_ROOT", "UV_PYTHON_INSTALL_DIR", "ASDF_DATA_DIR", "MISE_DATA_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return home


@pytest.fixture(scope="session")
def probe_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheelhouse with one tiny pure-Python package, ``sdkboot_probe``."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    make_wheel(directory, PROBE_DIST, {f"{PROBE_MODULE}/__init__.py": "VALUE = 42\n"})
    return directory


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state"
    yield path


# In CI every capability (Linux, root, cgroups, Docker, the optional extras) is provided, so a
# skip there hides a broken setup: with SDKBOOT_REQUIRE_CAPABILITIES=1 it is a failure instead,
# both for tests carrying a capability marker and for any test calling require_capability().
CAPABILITY_MARKERS = ("linux", "root", "docker")


def capabilities_required() -> bool:
    return os.environ.get("SDKBOOT_REQUIRE_CAPABILITIES") == "1"


def require_capability(reason: str) -> NoReturn:
    """Skip for a missing capability, naming it; fail where CI promises every capability."""
    if capabilities_required():
        pytest.fail(f"capability missing where CI must provide it: {reason}")
    pytest.skip(reason)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty dir nobody can write: a read-only tmpfs as root (chmod binds nobody then), else 0555."""
    path = tmp_path / "ro-state"
    path.mkdir()
    if sys.platform == "win32":
        pytest.skip("POSIX permissions")
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        require_capability(f"running as root and cannot mount a read-only tmpfs: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and capabilities_required() and any(item.get_closest_marker(m) for m in CAPABILITY_MARKERS):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"capability test skipped where CI must provide it: {reason}"
