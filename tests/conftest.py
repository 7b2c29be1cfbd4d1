"""Shared fixtures: an isolated HOME for every test and a tiny offline wheelhouse."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import pytest

from tests.wheels import make_wheel

if TYPE_CHECKING:
    from tests.faults.fakes import FakeBuilds

REPO = Path(__file__).resolve().parent.parent
PROBE_DIST = "sdkboot-probe"
PROBE_MODULE = "sdkboot_probe"

# The real claude-agent-sdk closure is large; keep one copy outside $HOME, shared by runs.
os.environ.setdefault("SDKBOOT_WHEELHOUSE", os.path.join(tempfile.gettempdir(), "sdkboot-wheelhouse"))


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


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A Docker client for the session (a capability skip without one); what the run made goes after."""
    from repro import Unsupported, dockerutil

    try:
        client = dockerutil.connect()
    except Unsupported as exc:
        require_capability(f"no Docker engine: {exc.reason}")
    yield client
    dockerutil.sweep(client, dockerutil.run_id())


def run_to_end(container: Any, timeout: float = 300) -> dict[str, Any]:
    """Start a created container, wait for it, and remove it: its exit code and both streams."""
    from repro import dockerutil

    try:
        container.start()
        code = container.wait(timeout=timeout)["StatusCode"]
        out = container.logs(stdout=True, stderr=False).decode()
        err = container.logs(stdout=False, stderr=True).decode()
    finally:
        dockerutil.remove_container(container)
    return {"rc": code, "out": out, "err": err}


def require_image(client: Any, image: str) -> str:
    """The ref of one of repro's images, or a capability skip saying how to build it."""
    from repro import images

    ref = images.load_recipes()[image].ref
    try:
        client.images.get(ref)
    except Exception:  # docker.errors.ImageNotFound, without importing docker at collection
        require_capability(f"no image {ref}: build it with `python -m repro images build {image}`")
    return ref


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
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        require_capability(f"running as root and cannot mount a read-only tmpfs: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and capabilities_required() and any(item.get_closest_marker(m) for m in CAPABILITY_MARKERS):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"capability test skipped where CI must provide it: {reason}"


# -- the fault suite's recorder (tests/faults/, also read by `python -m repro faults`) --------------
# Each fault test counts its trials and what each one lost. With SDKBOOT_FAULTS_REPORT=DIR set,
# every pytest process (xdist workers too) writes its counts to DIR/<worker>.json at the end.

FAULTS_REPORT = "SDKBOOT_FAULTS_REPORT"


class FaultLog:
    """Trials of one fault: how many ran, how many passed, and what the failing ones lost."""

    def __init__(self, fault: str, test: str) -> None:
        self.fault, self.test = fault, test
        self.trials = 0
        self.passed = 0
        self.lost: list[str] = []

    def trial(self, lost: Iterable[str] = ()) -> None:
        """Record one trial; ``lost`` names whatever it destroyed, leaked or got wrong."""
        damage = [item for item in lost if item]
        self.trials += 1
        self.passed += not damage
        self.lost.extend(damage)

    def check(self) -> None:
        assert self.trials > 0, f"{self.fault}: no trial ran"
        assert not self.lost, f"{self.fault}: {len(self.lost)} loss(es): {self.lost[:5]}"

    def as_json(self) -> dict[str, object]:
        return {
            "fault": self.fault,
            "test": self.test,
            "trials": self.trials,
            "passed": self.passed,
            "lost": self.lost[:20],
        }


_FAULT_LOGS: list[FaultLog] = []
_FAILED_TESTS: set[str] = set()


@pytest.fixture
def fault_log(request: pytest.FixtureRequest) -> Callable[[str], FaultLog]:
    """``log = fault_log("name")``; then ``log.trial(lost)`` per trial and ``log.check()`` at the end."""

    def start(fault: str) -> FaultLog:
        log = FaultLog(fault, request.node.nodeid)
        _FAULT_LOGS.append(log)
        return log

    return start


def pytest_sessionfinish(session: pytest.Session) -> None:
    directory = os.environ.get(FAULTS_REPORT)
    if not directory or not _FAULT_LOGS:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    failed = _FAILED_TESTS
    records = [dict(log.as_json(), test_failed=log.test in failed) for log in _FAULT_LOGS]
    with open(os.path.join(directory, f"{worker}-{os.getpid()}.json"), "w", encoding="utf-8") as handle:
        json.dump(records, handle)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and os.environ.get(FAULTS_REPORT):
        _FAILED_TESTS.add(report.nodeid)


@contextlib.contextmanager
def made_read_only(path: Path) -> Iterator[None]:
    """``path`` and everything under it become unwritable, for root too: a read-only bind mount
    as root (modes bind nobody then), else every dir made 0555."""
    if sys.platform == "win32":
        pytest.skip("POSIX permissions")
    if os.geteuid() == 0:
        bind = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, text=True)
        ro = (
            bind.returncode == 0
            and subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True, text=True).returncode
            == 0
        )
        if not ro:
            subprocess.run(["umount", str(path)], check=False, capture_output=True)
            require_capability(f"running as root and cannot bind-mount {path} read-only: {bind.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["umount", str(path)], check=False)
        return
    dirs = [path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())]
    modes = {d: d.stat().st_mode for d in dirs}
    for directory in dirs:
        directory.chmod(0o555)
    try:
        yield
    finally:
        for directory, mode in modes.items():
            directory.chmod(mode)


@pytest.fixture
def restored_sys_path() -> Iterator[None]:
    """activate() edits sys.path (and imports may follow): put both back after the test."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def fake_builds(monkeypatch: pytest.MonkeyPatch) -> FakeBuilds:
    """Every build step succeeds at once, in process (see tests/faults/fakes.py)."""
    from tests.faults.fakes import RUNNER, FakeBuilds

    builds = FakeBuilds()
    monkeypatch.setattr(RUNNER, "run", builds)
    return builds
