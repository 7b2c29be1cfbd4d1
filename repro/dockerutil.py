"""The Docker pieces shared by ``repro.images`` and ``repro.container_engine``.

Everything talks to the engine through docker-py, never the ``docker`` CLI. A missing SDK or
engine becomes ``repro.Unsupported`` with one line saying what to install: no traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from typing import TYPE_CHECKING, Any

from repro import Unsupported

if TYPE_CHECKING:
    from docker import DockerClient

# Everything this suite creates carries this label, so leftovers can be found and removed.
OWNER_LABEL = "org.sdkboot.repro"
RUN_LABEL = "org.sdkboot.repro.run"

ENGINE_HINT = (
    "install and start a Docker engine (Debian/Ubuntu: apt-get install docker.io, then start"
    " dockerd), or point DOCKER_HOST at one"
)
SDK_HINT = "install the Docker SDK for Python: pip install 'docker>=6' (or the 'repro' extra)"

_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")


def connect(timeout: float = 600.0) -> DockerClient:
    """A client whose engine answered a ping, else ``Unsupported`` naming what to install."""
    try:
        import docker
    except ImportError as exc:
        raise Unsupported(f"the Docker SDK for Python is missing: {SDK_HINT}") from exc
    if not hasattr(docker, "from_env"):
        # Run from a checkout without the SDK, `import docker` finds this repo's docker/ dir.
        where = ", ".join(getattr(docker, "__path__", [])) or getattr(docker, "__file__", "?")
        raise Unsupported(f"the Docker SDK for Python is missing (`import docker` found {where}): {SDK_HINT}")
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except docker.errors.DockerException as exc:
        raise Unsupported(f"no Docker engine answers ({_first_line(exc)}): {ENGINE_HINT}") from exc
    return client


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def worker_id() -> str:
    """The pytest-xdist worker ("gw0", ...) or "main", so parallel runs never share a name."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def run_id() -> str:
    """Identifies one process's containers and volumes for the cleanup sweep."""
    return f"{worker_id()}-{os.getpid()}"


def object_name(*parts: str, token: str | None = None) -> str:
    """A Docker-legal, collision-free name: ``sdkboot-repro-<worker>-<parts>-<token>``."""
    suffix = token if token is not None else secrets.token_hex(3)
    words = ["sdkboot-repro", worker_id(), *parts, suffix]
    return "-".join(_UNSAFE.sub("_", word) for word in words if word)


def labels(**extra: str) -> dict[str, str]:
    """The ownership labels plus ``extra`` (keys are used as given)."""
    return {OWNER_LABEL: "1", RUN_LABEL: run_id(), **extra}


def remove_container(container: Any) -> None:
    """Force-remove, ignoring "already gone": cleanup must never mask the real error."""
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)


def remove_volume(client: DockerClient, name: str) -> None:
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(name).remove(force=True)


def sweep(client: DockerClient, run: str | None = None) -> int:
    """Remove this suite's containers, then volumes, of one run (all runs if ``run`` is None)."""
    label = f"{RUN_LABEL}={run}" if run else OWNER_LABEL
    containers = client.containers.list(all=True, filters={"label": label})
    for container in containers:
        remove_container(container)
    volumes = client.volumes.list(filters={"label": label})
    for volume in volumes:
        remove_volume(client, volume.name)
    return len(containers) + len(volumes)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
