"""Capabilities the Linux repro tests need, each turned into a skip that names what is missing."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from repro import Unsupported, cgroups, dockerutil, wheelhouse
from repro.scenarios import DEFAULT_PYTHON, Context

DOCKER_GROUP = "docker-engine"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every Docker test on one xdist worker (with ``--dist loadgroup``), one container at a
    time: a container's overlay mount takes the lowest free device number, so the image's
    /usr/bin/python3 has another st_dev while a second container is up, and sdkboot, whose
    interpreter identity includes st_dev, then sees a new interpreter in a scenario's next step."""
    for item in items:
        if item.get_closest_marker("docker") is not None:
            item.add_marker(pytest.mark.xdist_group(DOCKER_GROUP))


def require_linux_root() -> None:
    if sys.platform != "linux":
        pytest.skip(f"not Linux ({sys.platform}): RLIMIT_AS and cgroup semantics differ")
    if os.geteuid() != 0:
        pytest.skip("not root: creating cgroups needs root")
    if not os.access(DEFAULT_PYTHON, os.X_OK):
        pytest.skip(f"no {DEFAULT_PYTHON}: the signatures are those of Debian's python3")


@pytest.fixture
def cgroup_hierarchy() -> cgroups.Hierarchy:
    """This process's memory cgroup, where limited children can be made."""
    require_linux_root()
    try:
        return cgroups.detect()
    except Unsupported as exc:
        pytest.skip(f"no usable memory cgroup: {exc.reason}")


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    import fcntl  # POSIX only; these fixtures run on Linux

    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers share one wheelhouse
        yield


@pytest.fixture(scope="session")
def filled_wheelhouse() -> Path:
    """The real closure ($SDKBOOT_WHEELHOUSE), downloaded once if it is not there yet."""
    directory = wheelhouse.default_wheelhouse()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory.parent / f".{directory.name}.lock"):
        if not wheelhouse.is_filled(directory):
            try:
                wheelhouse.fill(directory)
            except wheelhouse.WheelhouseError as exc:
                pytest.skip(f"no wheelhouse at {directory}: {exc}")
    return directory


@pytest.fixture
def linux_ctx(tmp_path: Path) -> Context:
    """A context for scenarios that need no wheels."""
    require_linux_root()
    return Context(DEFAULT_PYTHON, tmp_path / "no-wheels", tmp_path, timeout=120.0)


@pytest.fixture
def wheel_ctx(tmp_path: Path, request: pytest.FixtureRequest) -> Context:
    """A context with the real closure; checks the cheap capabilities before any download."""
    require_linux_root()
    house: Path = request.getfixturevalue("filled_wheelhouse")
    return Context(DEFAULT_PYTHON, house.resolve(), tmp_path, timeout=120.0)


@pytest.fixture(scope="session")
def engine() -> Iterator[object]:
    """A Docker client for the session; every container and volume this run made is removed after."""
    try:
        client = dockerutil.connect()
    except Unsupported as exc:
        pytest.skip(f"no Docker engine: {exc.reason}")
    yield client
    dockerutil.sweep(client, dockerutil.run_id())


def gone_within(pid: int, seconds: float) -> bool:
    """Gone, or a zombie (an orphan waits for a reaper); polled, since a kill is asynchronous."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False
