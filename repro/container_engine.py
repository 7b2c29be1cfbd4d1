"""Driving the Docker engine: one fresh container per step, a shared state volume, cleanup.

Also the setup the CLI and the pytest fixtures share: the wheelhouse and the images.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from repro import Unsupported, dockerutil, images, limits
from repro.container_report import ContainerResult, ScenarioRun, StepRun, judge_step
from repro.container_steps import (
    ENVIRONMENT,
    MIB,
    REPO,
    SCRIPTS,
    STATE,
    WHEELS,
    WRAPPED_PYTHON,
    Scenario,
    Step,
)


@dataclass(frozen=True)
class Context:
    client: Any
    wheelhouse: str
    source: str = str(REPO / "sdkboot")
    scripts: str = str(REPO / "docker" / "scripts")
    refs: Mapping[str, str] = field(default_factory=dict)

    def ref(self, image: str) -> str:
        return self.refs.get(image) or images.load_recipes()[image].ref


def mounts(ctx: Context, volume: str, wrap_volume: str | None = None) -> dict[str, dict[str, str]]:
    found = {
        ctx.source: {"bind": "/src/sdkboot", "mode": "ro"},
        ctx.wheelhouse: {"bind": WHEELS, "mode": "ro"},
        ctx.scripts: {"bind": SCRIPTS, "mode": "ro"},
        volume: {"bind": STATE, "mode": "rw"},
    }
    if wrap_volume is not None:
        found[wrap_volume] = {"bind": os.path.dirname(WRAPPED_PYTHON), "mode": "rw"}
    return found


def memory(step: Step) -> dict[str, int]:
    # memswap equal to mem: no swap, so the limit is a hard OOM line.
    if step.mem_mib is None:
        return {}
    size = int(step.mem_mib * MIB)
    return {"mem_limit": size, "memswap_limit": size}


def create(ctx: Context, scenario: Scenario, step: Step, volume: str, wrap_volume: str | None = None) -> Any:
    return ctx.client.containers.create(
        ctx.ref(scenario.image),
        command=list(step.argv),
        name=dockerutil.object_name(scenario.name, step.label),
        labels=dockerutil.labels(**{"org.sdkboot.repro.scenario": scenario.name}),
        network_disabled=True,
        volumes=mounts(ctx, volume, wrap_volume),
        environment=ENVIRONMENT,
        working_dir="/",
        **memory(step),
    )


@dataclass
class Wrapper:
    """The limited interpreter wrapper of one scenario: its volume, and the limit last written."""

    volume: str
    written: int | None = None


def wrapper_tar(as_kib: int) -> bytes:
    """A tar holding ``wrap/python3``: the system interpreter exec'd under RLIMIT_AS."""
    script = limits.wrapper_script(f"ulimit -v {as_kib}", "/usr/bin/python3").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("wrap/python3")
        info.size, info.mode = len(script), 0o755
        archive.addfile(info, io.BytesIO(script))
    return buffer.getvalue()


def wait(container: Any, timeout: float) -> int | str:
    """The exit code, or "timeout" after killing a container that ran too long."""
    import requests

    try:
        return int(container.wait(timeout=timeout)["StatusCode"])
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        stop(container)
        return "timeout"


def stop(container: Any) -> None:
    import docker

    try:
        container.kill()
    except docker.errors.APIError:
        pass  # it exited between the timeout and the kill
    container.wait(timeout=60)


def read_file(container: Any, path: str) -> str | None:
    """A file from a stopped container (named volumes included), or None when absent."""
    import docker

    try:
        chunks, _ = container.get_archive(path)
        data = b"".join(chunks)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.next()
        handle = archive.extractfile(member) if member else None
        return handle.read().decode(errors="replace") if handle else None


def others_running(client: Any, mine: str) -> int:
    """How many containers other than ``mine`` (an id) are running now."""
    return sum(1 for found in client.containers.list() if found.id != mine)


def collect(container: Any, exit_code: int | str, others: int = 0) -> ContainerResult:
    container.reload()
    return ContainerResult(
        others=others,
        exit=exit_code,
        stdout=container.logs(stdout=True, stderr=False).decode(errors="replace"),
        stderr=container.logs(stdout=False, stderr=True).decode(errors="replace"),
        oom_killed=bool(container.attrs["State"].get("OOMKilled")),
        events=read_file(container, f"{STATE}/events.jsonl"),
        cooldown=read_file(container, f"{STATE}/cooldown.json") is not None,
    )


def run_step(ctx: Context, scenario: Scenario, step: Step, volume: str, wrap: Wrapper | None = None) -> StepRun:
    container = create(ctx, scenario, step, volume, wrap.volume if wrap else None)
    try:
        if wrap is not None and step.wrap_as_kib is not None and wrap.written != step.wrap_as_kib:
            # Written once per limit into a volume the steps share: a user's interpreter keeps its
            # file identity between sessions, and sdkboot's fingerprint (so its cooldown) uses it.
            container.put_archive("/opt", wrapper_tar(step.wrap_as_kib))
            wrap.written = step.wrap_as_kib
        started = time.monotonic()
        container.start()
        others = others_running(ctx.client, container.id)
        exit_code = wait(container, step.timeout)
        seconds = time.monotonic() - started
        others = max(others, others_running(ctx.client, container.id))
        return judge_step(step, seconds, collect(container, exit_code, others))
    finally:
        dockerutil.remove_container(container)


def run_scenario(ctx: Context, scenario: Scenario, on_step: Callable[[Step], None] = lambda step: None) -> ScenarioRun:
    """All steps, each in a fresh container, sharing one state volume; always cleaned up."""
    volume = dockerutil.object_name(scenario.name, "state")
    ctx.client.volumes.create(name=volume, labels=dockerutil.labels())
    wrap = None
    if any(step.wrap_as_kib is not None for step in scenario.steps):
        wrap = Wrapper(dockerutil.object_name(scenario.name, "wrap"))
        ctx.client.volumes.create(name=wrap.volume, labels=dockerutil.labels())
    started = time.monotonic()
    steps = []
    try:
        for step in scenario.steps:
            on_step(step)
            steps.append(run_step(ctx, scenario, step, volume, wrap))
    finally:
        dockerutil.remove_volume(ctx.client, volume)
        if wrap is not None:
            dockerutil.remove_volume(ctx.client, wrap.volume)
    return ScenarioRun(scenario, steps, time.monotonic() - started)


def prepare_wheelhouse(directory: str | None = None) -> str:
    """The wheelhouse holding the claude-agent-sdk closure, downloaded once when empty."""
    from repro import wheelhouse

    path = Path(directory) if directory else wheelhouse.default_wheelhouse()
    if not wheelhouse.is_filled(path):
        _fill(path)
    return str(path.resolve())


def _fill(path: Path) -> None:
    import fcntl  # POSIX; only reached where the suite runs

    from repro import wheelhouse

    path.parent.mkdir(parents=True, exist_ok=True)
    # The same lock file as the pytest fixture, so a CLI run and a test run never both download.
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if wheelhouse.is_filled(path):
            return
        try:
            wheelhouse.fill(path)
        except wheelhouse.WheelhouseError as exc:
            raise Unsupported(f"no wheelhouse ({exc}): run python -m repro wheelhouse") from exc


def prepare_images(client: Any, scenarios: Sequence[Scenario]) -> dict[str, str]:
    """Build (or re-use, by recipe hash) the images the scenarios need; name -> ref."""
    names = sorted({scenario.image for scenario in scenarios})
    recipes = images.select(images.load_recipes(), names)
    progress = images.ProgressLine()
    results = images.ensure_images(client, recipes, progress)
    progress.clear()
    for result in results:
        if result.built:  # a cold build takes about a minute: say where the time went
            print(images.build_line(result), file=sys.stderr, flush=True)
    return {result.recipe.name: result.recipe.ref for result in results}


def context(scenarios: Sequence[Scenario], wheelhouse_dir: str | None = None) -> Context:
    client = dockerutil.connect()
    refs = prepare_images(client, scenarios)
    return Context(client, prepare_wheelhouse(wheelhouse_dir), refs=refs)
