"""Container scenarios: sdkboot in fresh Debian 12 containers, offline, under memory limits.

Scenarios are data (``SCENARIOS``): an image and a list of steps, each a command, optional
limits and the expected observations. Every step runs in a new container with networking
disabled; sdkboot's source, the wheelhouse and the helper scripts are mounted read-only and a
named volume holds the state dir, so a later step sees what an earlier one left.

An observation is a flat dict: the step's own JSON output (nested keys joined with "."), the
last event of ``events.jsonl`` as ``event.*``, ``cooldown`` (the file exists), the container's
``exit`` code, ``oom_killed``, ``traceback``, and the hook protocol's ``lines``,
``first_async`` and ``metrics_lines``. ``State.OOMKilled`` alone proves little (it is set when
any process was killed, even if the container exited 0), so the checks read the scenario's own
result first.

Every step's expectation is exact or a declared set (repro.verdict): exact where the limit is
away from the measured band edges or the victim is pinned (the child's ``oom_score_adj``),
a set where the kernel's choice of victim decides. ``--repeat N`` counts what came.

A step's mode says where its limit sits: ``tree`` when the container's memory limit (or an
RLIMIT_AS set before the step's first exec) holds every process of it, sdkboot included;
``child`` when only the build interpreter (a wrapper) or the measured command is limited.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from repro import Unsupported, UsageError, dockerutil, images, limits, report, repeat, sdkout
from repro.verdict import (
    ABSENT, Case, Expect, Matches, Verdict, describe, exact, expect_json, jsonable, judge, one_of,
    verdict_json,
)

REPO = Path(__file__).resolve().parent.parent
STATE = "/state"
WHEELS = "/wheels"
SCRIPTS = "/opt/repro"
WRAPPED_PYTHON = "/opt/wrap/python3"
MIB = 1024 * 1024

# An explicit cooldown, so the retry steps do not depend on the default window; --timeout makes
# a thrashing step end with sdkboot's own report, well before the container's time limit.
ENSURE = (
    "python3", "-m", "sdkboot", "ensure", "--json", "--state-dir", STATE,
    "--no-index", "--find-links", WHEELS, "--cooldown", "3600", "--timeout", "240",
)
HOOK = (
    "python3", "-m", "sdkboot", "hook", "--state-dir", STATE,
    "--no-index", "--find-links", WHEELS, "--cooldown", "3600", "--timeout", "240",
)
CONSUME = ("python3", f"{SCRIPTS}/consumer.py", STATE)
# The strategies the venv/target chain is about, without lean (first by default) in front.
VENV_CHAIN = ("--strategy", "venv", "--strategy", "target")
VENV = ("python3", "-m", "venv", "/tmp/env")
ENVIRONMENT = {
    "PYTHONPATH": "/src",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
}


def raw(
    argv: Sequence[str], as_kb: int | None = None, oom_adj: int | None = None
) -> tuple[str, ...]:
    """``argv`` under the raw-signature parent (``docker/scripts/rawsig.py``)."""
    limit = ("--as-kb", str(as_kb)) if as_kb is not None else ()
    adj = ("--oom-score-adj", str(oom_adj)) if oom_adj is not None else ()
    return ("python3", f"{SCRIPTS}/rawsig.py", *limit, *adj, "--", *argv)


@dataclass(frozen=True)
class Step:
    label: str
    command: tuple[str, ...]
    expect: Expect
    mem_mib: float | None = None  # the container's memory limit: it holds the whole tree
    # Injects WRAPPED_PYTHON, running /usr/bin/python3 under this RLIMIT_AS (KiB): child-only.
    wrap_as_kb: int | None = None
    # RLIMIT_AS (KiB) set before the step's command execs: the whole tree, sdkboot included.
    tree_as_kb: int | None = None
    timeout: float = 420.0

    @property
    def argv(self) -> tuple[str, ...]:
        if self.tree_as_kb is None:
            return self.command
        # exec: the command itself is the container's PID 1, as it would be without the limit.
        return ("/bin/sh", "-c", f'ulimit -v {self.tree_as_kb} && exec "$@"', "sh", *self.command)

    @property
    def mode(self) -> str:
        if self.mem_mib is not None or self.tree_as_kb is not None:
            return "tree"
        if self.wrap_as_kb is not None or "--as-kb" in self.command:
            return "child"
        return "none"


@dataclass(frozen=True)
class Scenario:
    name: str
    image: str
    summary: str
    steps: tuple[Step, ...]


NO_TRACEBACK: Mapping[str, object] = {"traceback": False}
WARM = Step("warm", raw(VENV), exact({"signature": "0/E/E"}))
ENSURE_AS = (*ENSURE, "--python", WRAPPED_PYTHON)

# Limits come from runs on this engine, away from band edges (near an edge a cold page cache
# makes runs thrash for minutes). The kernel kills the process with the highest OOM score; the
# runner raises its build children's oom_score_adj, so sdkboot (PID 1) survives a kill. With
# the default chain (lean first), its first step (pip's resolve) is killed from 36 to 60 MiB
# and the build succeeds from 72 MiB: oom-kill uses 44 MiB (docker/README.md).
SEGV_EXACT = "RLIMIT_AS 5000 KiB: exec fails past the point of no return (<= 7332 KiB always)"
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ensurepip-missing", "debian12-pip", "no python3-venv: pip --target fallback", (
        Step("build", (*ENSURE, *VENV_CHAIN), exact({
            **NO_TRACEBACK, "exit": 0, "outcome": "BUILT_TARGET", "strategy": "target",
            "event.fallback_reason": "venv_ensurepip_fail",
        })),
        Step("again", (*ENSURE, *VENV_CHAIN), exact({"exit": 0, "outcome": "NOOP_TARGET"})),
        Step("consume", CONSUME, exact({"imported": True, "from_env": True})),
    )),
    Scenario("no-pip-at-all", "debian12-python", "neither ensurepip nor pip", (
        Step("build", ENSURE, exact({
            **NO_TRACEBACK, "exit": 1, "outcome": "BUILD_FAILED",
            "err_kind": "venv_ensurepip_fail", "metrics.sdk_has_pip": False,
            "message": Matches(r"python3[\d.]*-venv python3-pip"),
            "event.err_kind": "venv_ensurepip_fail",
        })),
    )),
    # --no-preflight: the preflight would refuse this limit before any spawn (the next scenario).
    Scenario("oom-kill", "debian12-venv", "cgroup OOM kill of a build step, then cooldown", (
        WARM,
        Step("build", (*ENSURE, "--no-preflight"), exact({
            **NO_TRACEBACK, "exit": 1, "outcome": "BUILD_FAILED",
            "err_kind": "signal_killed:-9", "rc": -9, "cooldown": True, "oom_killed": True,
        }, "44 MiB: mid-band (the first build step killed from 36 to 60 MiB, builds from 72); "
           "the children carry oom_score_adj 1000, so sdkboot is never the victim"),
            mem_mib=44),
        Step("retry", ENSURE, exact({"exit": 3, "outcome": "SKIP_COOLDOWN", "subprocesses": 0},
                                    "no limit; the cooldown file decides")),
    )),
    Scenario("low-memory", "debian12-venv", "the memory preflight refuses a cgroup limit below every floor", (
        Step("build", ENSURE, exact({
            **NO_TRACEBACK, "exit": 3, "outcome": "SKIP_LOW_MEMORY", "subprocesses": 0,
            "metrics.sdk_mem_limit_mib": 44, "cooldown": True, "oom_killed": False,
        }, "44 MiB: below the lightest strategy's floor in sdkboot/floors.json; nothing is spawned"),
            mem_mib=44),
        Step("retry", ENSURE, exact({"exit": 3, "outcome": "SKIP_COOLDOWN", "subprocesses": 0},
                                    "no limit; the preflight armed the cooldown")),
    )),
    Scenario("rlimit-segv", "debian12-venv", "build interpreter under RLIMIT_AS 5000 KB", (
        Step("build", ENSURE_AS, exact({
            **NO_TRACEBACK, "exit": 1, "outcome": "BUILD_FAILED",
            "err_kind": "signal_killed:-11", "rc": -11, "cooldown": True,
        }, SEGV_EXACT), wrap_as_kb=5000),
        # The cooldown is per interpreter, so the retry must name the same one.
        Step("retry", ENSURE_AS, exact({
            "exit": 3, "outcome": "SKIP_COOLDOWN", "subprocesses": 0,
        }, "the cooldown file decides; nothing is spawned"), wrap_as_kb=5000),
    )),
    Scenario("healthy", "debian12-venv", "ample memory: the default chain (lean first)", (
        Step("build", ENSURE, exact({
            **NO_TRACEBACK, "exit": 0, "outcome": "BUILT", "strategy": "lean",
        }, "1 GiB: far above every floor (the cgroup peak is ~500 MiB, mostly page cache)"),
            mem_mib=1024),
        Step("again", ENSURE, exact({"exit": 0, "outcome": "NOOP_VENV"}, "no build"), mem_mib=1024),
        Step("consume", CONSUME, exact({"imported": True, "from_env": True}, "import only"),
             mem_mib=1024),
    )),
    Scenario("healthy-venv", "debian12-venv", "ample memory: the venv strategy end to end", (
        Step("build", (*ENSURE, "--strategy", "venv"), exact({
            **NO_TRACEBACK, "exit": 0, "outcome": "BUILT", "strategy": "venv",
        }, "1 GiB: far above every floor"), mem_mib=1024),
        Step("again", (*ENSURE, "--strategy", "venv"), exact({"exit": 0, "outcome": "NOOP_VENV"},
                                                            "no build"), mem_mib=1024),
    )),
    # Under a Python parent of ~11 MiB, 8-18 MiB kills the parent (PID 1), not the venv,
    # unless the child's oom_score_adj is raised; at 24 MiB either the parent or venv's
    # ensurepip child dies: the kernel picks (docker/README.md has the counts of 20 runs).
    Scenario("signature-raw", "debian12-venv", "bare `python3 -m venv` under each limit", (
        Step("unlimited", raw(VENV), exact({"signature": "0/E/E"})),
        Step("mem-14MiB", raw(VENV), exact({
            "exit": 137, "signature": ABSENT, "oom_killed": True,
        }, "14 MiB: the parent (PID 1) is the largest process until venv grows past it"),
            mem_mib=14),
        Step("mem-14MiB-adj", raw(VENV, oom_adj=1000), exact({
            "exit": 0, "signature": "-9/E/E", "oom_killed": True,
        }, "victim pinned: the child's oom_score_adj 1000"), mem_mib=14),
        Step("mem-24MiB", raw(VENV), one_of(
            "24 MiB: the parent (~11 MiB) and ensurepip are close in size; the kernel picks",
            Case("ensurepip killed", {
                "exit": 0, "signature": "1/E/N", "stderr_tail": Matches("SIGKILL"),
                "oom_killed": True,
            }),
            Case("PID 1 killed", {"exit": 137, "signature": ABSENT, "oom_killed": True}),
        ), mem_mib=24),
        # The raised score pins the victim to the child's tree, never PID 1; but venv and its
        # ensurepip child share it, and which of the two is larger when the limit is hit varies.
        Step("mem-24MiB-adj", raw(VENV, oom_adj=1000), one_of(
            "24 MiB, oom_score_adj 1000 on the child: the parent survives; venv and ensurepip "
            "both carry the score and the kernel takes the larger at that instant",
            Case("ensurepip killed", {
                "exit": 0, "signature": "1/E/N", "stderr_tail": Matches("SIGKILL"),
                "oom_killed": True,
            }),
            Case("venv killed", {"exit": 0, "signature": "-9/E/E", "oom_killed": True}),
        ), mem_mib=24),
        Step("mem-128MiB", raw(VENV), exact({"signature": "0/E/E"},
                                            "128 MiB: 40 MiB above the 88 MiB success edge"),
             mem_mib=128),
        Step("as-5000KiB", raw(VENV, as_kb=5000), exact({"signature": "-11/E/E"}, SEGV_EXACT)),
        Step("as-9000KiB", raw(VENV, as_kb=9000), exact({
            "signature": "127/E/N", "stderr_tail": Matches("error while loading shared libraries"),
        }, "9000 KiB: mid-band of the loader's failure (7336-10460 KiB)")),
        Step("as-40MiB", raw(VENV, as_kb=40 * 1024), exact({
            "signature": "1/E/N", "stderr_tail": Matches("ensurepip"),
        }, "40 MiB: mid-band of ensurepip's failure (16.8-62.6 MiB)")),
    )),
)


def select(names: Sequence[str]) -> list[Scenario]:
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UsageError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[name] for name in names] if names else list(SCENARIOS)


# ---- observations and verdicts (pure: no engine needed) ----


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, object]:
    """Nested dicts as dotted keys: ``{"metrics": {"a": 1}}`` -> ``{"metrics.a": 1}``."""
    flat: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def last_json_object(text: str) -> dict[str, Any]:
    """The last stdout line that is a JSON object (sdkboot prints exactly one)."""
    for line in reversed(text.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


@dataclass
class ContainerResult:
    """What one container left behind, before interpretation."""

    exit: int | str
    stdout: str = ""
    stderr: str = ""
    oom_killed: bool = False
    events: str | None = None
    cooldown: bool = False
    # Other containers seen running as the step started or ended: each holds an overlay mount,
    # which moves the device number of this container's files (see docker/README.md).
    others: int = 0


def observe(result: ContainerResult) -> dict[str, object]:
    observed = flatten(last_json_object(result.stdout))
    event = last_json_object(result.events or "")
    observed.update(flatten(event, "event."))
    hook = sdkout.HookOutput.read(result.stdout)
    observed.update(
        exit=result.exit,
        oom_killed=result.oom_killed,
        cooldown=result.cooldown,
        traceback="Traceback (most recent call last)" in result.stdout + result.stderr,
        other_containers=result.others,
        lines=hook.lines,
        first_async=hook.first_async,
        metrics_lines=hook.metrics_lines,
    )
    return observed


@dataclass
class StepRun:
    step: Step
    seconds: float
    result: ContainerResult
    observed: dict[str, object]
    verdict: Verdict

    @property
    def passed(self) -> bool:
        return self.verdict.passed


@dataclass
class ScenarioRun:
    scenario: Scenario
    steps: list[StepRun]
    seconds: float

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.passed for step in self.steps)


def judge_step(step: Step, seconds: float, result: ContainerResult) -> StepRun:
    observed = observe(result)
    return StepRun(step, seconds, result, observed, judge(step.expect, observed))


# ---- running in the engine ----


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


def wrapper_tar(as_kb: int) -> bytes:
    """A tar holding ``wrap/python3``: the system interpreter exec'd under RLIMIT_AS."""
    script = limits.wrapper_script(f"ulimit -v {as_kb}", "/usr/bin/python3").encode()
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


def run_step(ctx: Context, scenario: Scenario, step: Step, volume: str,
             wrap: Wrapper | None = None) -> StepRun:
    container = create(ctx, scenario, step, volume, wrap.volume if wrap else None)
    try:
        if wrap is not None and step.wrap_as_kb is not None and wrap.written != step.wrap_as_kb:
            # Written once per limit into a volume the steps share: a user's interpreter keeps its
            # file identity between sessions, and sdkboot's fingerprint (so its cooldown) uses it.
            container.put_archive("/opt", wrapper_tar(step.wrap_as_kb))
            wrap.written = step.wrap_as_kb
        started = time.monotonic()
        container.start()
        others = others_running(ctx.client, container.id)
        exit_code = wait(container, step.timeout)
        seconds = time.monotonic() - started
        others = max(others, others_running(ctx.client, container.id))
        return judge_step(step, seconds, collect(container, exit_code, others))
    finally:
        dockerutil.remove_container(container)


def run_scenario(
    ctx: Context, scenario: Scenario, on_step: Callable[[Step], None] = lambda step: None
) -> ScenarioRun:
    """All steps, each in a fresh container, sharing one state volume; always cleaned up."""
    volume = dockerutil.object_name(scenario.name, "state")
    ctx.client.volumes.create(name=volume, labels=dockerutil.labels())
    wrap = None
    if any(step.wrap_as_kb is not None for step in scenario.steps):
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


# ---- reporting ----


def shorten(text: str, width: int = 44) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def table_rows(runs: Sequence[ScenarioRun]) -> list[list[str]]:
    rows = [["SCENARIO", "STEP", "MODE", "FORM", "TIME", "CHECK", "EXPECTED", "OBSERVED",
             "VERDICT"]]
    for run in runs:
        for step in run.steps:
            verdict = step.verdict
            for index, check in enumerate(verdict.checks):
                first = index == 0
                time_cell = f"{step.seconds:.1f}s" if first else ""
                rows.append([
                    run.scenario.name, step.step.label, step.step.mode if first else "",
                    step.step.expect.form if first else "", time_cell,
                    check.key, shorten(describe(check.expected)), shorten(describe(check.observed)),
                    ("ok" if check.ok else "MISMATCH") if not first else verdict_cell(verdict, check.ok),
                ])
    return rows


def verdict_cell(verdict: Verdict, ok: bool) -> str:
    """The first row of a step names the case that came when the step declares a set."""
    if verdict.case is not None and not verdict.expect.exact:
        return f"ok ({verdict.case.name})"
    return "ok" if ok else "MISMATCH"


def summary(runs: Sequence[ScenarioRun]) -> str:
    failed = [run.scenario.name for run in runs if not run.passed]
    total = sum(run.seconds for run in runs)
    head = f"{len(runs) - len(failed)} passed, {len(failed)} failed ({total:.1f} s)"
    return head + (f": {', '.join(failed)}" if failed else "")


def step_json(run: StepRun) -> dict[str, Any]:
    return {
        "label": run.step.label, "command": list(run.step.argv), "mode": run.step.mode,
        "mem_mib": run.step.mem_mib, "wrap_as_kb": run.step.wrap_as_kb,
        "tree_as_kb": run.step.tree_as_kb, "seconds": round(run.seconds, 2),
        "expect": expect_json(run.step.expect), **verdict_json(run.verdict),
        "observed": {k: jsonable(v) for k, v in run.observed.items()},
        "stdout": run.result.stdout[-4000:], "stderr": run.result.stderr[-4000:],
    }


def run_json(run: ScenarioRun) -> dict[str, Any]:
    scenario = run.scenario
    return {
        "scenario": scenario.name, "image": scenario.image, "summary": scenario.summary,
        "passed": run.passed, "seconds": round(run.seconds, 2),
        "steps": [step_json(step) for step in run.steps],
    }


def explain(run: ScenarioRun) -> str:
    """A failure message for pytest: the table, then each failing step's streams."""
    lines = [images.format_table(table_rows([run]))]
    for step in run.steps:
        if not step.passed:
            if step.result.others:
                lines.append(f"--- {step.step.label}: {step.result.others} other container(s) ran "
                             "meanwhile; the interpreter's device number moves with them "
                             "(docker/README.md)")
            lines += [f"--- {step.step.label} stdout:", step.result.stdout[-2000:]]
            lines += [f"--- {step.step.label} stderr:", step.result.stderr[-2000:]]
    return "\n".join(lines)


# ---- setup shared by the CLI and the pytest fixtures ----


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


# ---- command line ----


def cmd_containers(args: argparse.Namespace) -> int:
    scenarios = select(args.scenarios)
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name:20} {scenario.image:16} {scenario.summary}")
        return 0
    ctx = context(scenarios, args.wheelhouse)
    try:
        if args.repeat is not None:
            return repeat_scenarios(ctx, scenarios, args.repeat, args.json)
        runs = []
        for scenario in scenarios:
            runs.append(run_scenario(ctx, scenario))
            if not args.json:
                print(f"{scenario.name}: {'ok' if runs[-1].passed else 'MISMATCH'}", flush=True)
    finally:
        dockerutil.sweep(ctx.client, dockerutil.run_id())
    print_report(runs, args.json)
    return 0 if all(run.passed for run in runs) else 1


def tally_scenarios(
    ctx: Context, scenarios: Sequence[Scenario], times: int, progress: report.Progress
) -> repeat.Tallies:
    """Every scenario ``times`` times over, counted per step; the load is sampled per round."""
    tallies = repeat.Tallies(repeat=times)

    def one_round(round_: int) -> None:
        for scenario in scenarios:
            def show(step: Step, name: str = scenario.name) -> None:
                progress.update(repeat.progress_text(
                    "containers", round_, times, (name, step.label), tallies))

            run = run_scenario(ctx, scenario, show)
            before = 0  # a step depends on the one before it: its overlap counts too
            for step in run.steps:
                tallies.add(scenario.name, step.step.label, step.step.mode, step.verdict,
                            step.seconds, overlapped=bool(step.result.others or before))
                before = step.result.others

    return repeat.run_rounds(tallies, one_round)


def repeat_scenarios(ctx: Context, scenarios: Sequence[Scenario], times: int, as_json: bool) -> int:
    progress = report.Progress()
    try:
        tallies = tally_scenarios(ctx, scenarios, times, progress)
    finally:
        progress.done()
    if as_json:
        print(json.dumps(repeat.to_json(tallies), indent=2))
    else:
        print(repeat.table(tallies))
        print(repeat.summary(tallies))
    return tallies.exit_code


def print_report(runs: Sequence[ScenarioRun], as_json: bool) -> None:
    if as_json:
        print(json.dumps([run_json(run) for run in runs], indent=2))
        return
    print(images.format_table(table_rows(runs)))
    print(summary(runs))


def register(subparsers: Any) -> None:
    """``containers [SCENARIO...]``: run, print expected/observed/verdict, exit 1 on mismatch."""
    names = ", ".join(scenario.name for scenario in SCENARIOS)
    parser = subparsers.add_parser(
        "containers", help="run the Docker scenarios (exit 1 on any mismatch)",
        description=f"Scenarios: {names}. Each step is exact or declares the set of outcomes "
                    "the kernel may give; --repeat N counts which came.",
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="default: all")
    parser.add_argument("--json", action="store_true", help="machine-readable results")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--wheelhouse", default=None, help="default: repro's wheelhouse")
    repeat.add_argument(parser)
    parser.set_defaults(handler=cmd_containers)
