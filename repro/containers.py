"""Container scenarios: sdkboot in fresh Debian 12 containers, offline, under memory limits.

Scenarios are data (``SCENARIOS``): an image and a list of steps, each a command, optional
limits and the expected observations. Every step runs in a new container with networking
disabled; sdkboot's source, the wheelhouse and the helper scripts are mounted read-only and a
named volume holds the state dir, so a later step sees what an earlier one left.

An observation is a flat dict: the step's own JSON output (nested keys joined with "."), the
last event of ``events.jsonl`` as ``event.*``, ``cooldown`` (the file exists), the container's
``exit`` code, ``oom_killed`` and ``traceback``. ``State.OOMKilled`` alone proves little (it is
set when any process was killed, even if the container exited 0), so the checks read the
scenario's own result first.
"""
from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro import Unsupported, UsageError, dockerutil, images

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
CONSUME = ("python3", f"{SCRIPTS}/consumer.py", STATE)
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
class Matches:
    """Expect a string observation in which the regular expression ``pattern`` is found."""

    pattern: str

    def matches(self, observed: object) -> bool:
        return isinstance(observed, str) and re.search(self.pattern, observed) is not None

    def __str__(self) -> str:
        return f"~ /{self.pattern}/"


@dataclass(frozen=True)
class Step:
    label: str
    command: tuple[str, ...]
    expect: Mapping[str, object]
    mem_mib: float | None = None
    # Injects WRAPPED_PYTHON, running /usr/bin/python3 under this RLIMIT_AS (KiB).
    wrap_as_kb: int | None = None
    timeout: float = 420.0


@dataclass(frozen=True)
class Scenario:
    name: str
    image: str
    summary: str
    steps: tuple[Step, ...]


class Absent:
    """Expect the key to be missing: e.g. no JSON at all because PID 1 itself was killed."""

    def matches(self, observed: object) -> bool:
        return observed is self

    def __str__(self) -> str:
        return "(absent)"


ABSENT = Absent()
NO_TRACEBACK: Mapping[str, object] = {"traceback": False}
WARM = Step("warm", raw(VENV), {"signature": "0/E/E"})
ENSURE_AS = (*ENSURE, "--python", WRAPPED_PYTHON)

# Limits come from runs on this engine, away from band edges (near an edge a cold page cache
# makes runs thrash for minutes). sdkboot's own process is ~18 MiB resident, and the kernel
# kills the largest process: at 16-32 MiB that is sdkboot itself (PID 1, exit 137, no output),
# so oom-kill uses 52 MiB (44-60 MiB: pip killed, signal_killed:-9, sdkboot survives).
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ensurepip-missing", "debian12-pip", "no python3-venv: pip --target fallback", (
        Step("build", ENSURE, {
            **NO_TRACEBACK, "exit": 0, "outcome": "BUILT_TARGET", "strategy": "target",
            "event.fallback_reason": "venv_ensurepip_fail",
        }),
        Step("again", ENSURE, {"exit": 0, "outcome": "NOOP_TARGET"}),
        Step("consume", CONSUME, {"imported": True, "from_env": True}),
    )),
    Scenario("no-pip-at-all", "debian12-python", "neither ensurepip nor pip", (
        Step("build", ENSURE, {
            **NO_TRACEBACK, "exit": 1, "outcome": "BUILD_FAILED",
            "err_kind": "venv_ensurepip_fail", "metrics.sdk_has_pip": False,
            "message": Matches(r"python3[\d.]*-venv python3-pip"),
            "event.err_kind": "venv_ensurepip_fail",
        }),
    )),
    Scenario("oom-kill", "debian12-venv", "cgroup OOM kill of a build step, then cooldown", (
        WARM,
        Step("build", ENSURE, {
            **NO_TRACEBACK, "exit": 1, "outcome": "BUILD_FAILED",
            "err_kind": "signal_killed:-9", "rc": -9, "cooldown": True, "oom_killed": True,
        }, mem_mib=52),
        Step("retry", ENSURE, {"exit": 3, "outcome": "SKIP_COOLDOWN", "subprocesses": 0}),
    )),
    Scenario("rlimit-segv", "debian12-venv", "build interpreter under RLIMIT_AS 5000 KB", (
        Step("build", ENSURE_AS, {
            **NO_TRACEBACK, "exit": 1, "outcome": "BUILD_FAILED",
            "err_kind": "signal_killed:-11", "rc": -11, "cooldown": True,
        }, wrap_as_kb=5000),
        # The cooldown is per interpreter, so the retry must name the same one.
        Step("retry", ENSURE_AS, {
            "exit": 3, "outcome": "SKIP_COOLDOWN", "subprocesses": 0,
        }, wrap_as_kb=5000),
    )),
    Scenario("healthy", "debian12-venv", "ample memory: venv strategy end to end", (
        Step("build", ENSURE, {
            **NO_TRACEBACK, "exit": 0, "outcome": "BUILT", "strategy": "venv",
        }, mem_mib=1024),
        Step("again", ENSURE, {"exit": 0, "outcome": "NOOP_VENV"}, mem_mib=1024),
        Step("consume", CONSUME, {"imported": True, "from_env": True}, mem_mib=1024),
    )),
    # Under a Python parent of ~11 MiB, 8-18 MiB kills the parent (PID 1), not the venv,
    # unless the child's oom_score_adj is raised; 20-30 MiB kills venv's ensurepip child.
    Scenario("signature-raw", "debian12-venv", "bare `python3 -m venv` under each limit", (
        Step("unlimited", raw(VENV), {"signature": "0/E/E"}),
        Step("mem-14MiB", raw(VENV), {
            "exit": 137, "signature": ABSENT, "oom_killed": True,
        }, mem_mib=14),
        Step("mem-14MiB-adj", raw(VENV, oom_adj=1000), {
            "exit": 0, "signature": "-9/E/E", "oom_killed": True,
        }, mem_mib=14),
        Step("mem-24MiB", raw(VENV), {
            "signature": "1/E/N", "stderr_tail": Matches("SIGKILL"), "oom_killed": True,
        }, mem_mib=24),
        Step("mem-128MiB", raw(VENV), {"signature": "0/E/E"}, mem_mib=128),
        Step("as-5000KiB", raw(VENV, as_kb=5000), {"signature": "-11/E/E"}),
        Step("as-9000KiB", raw(VENV, as_kb=9000), {
            "signature": "127/E/N", "stderr_tail": Matches("error while loading shared libraries"),
        }),
        Step("as-40MiB", raw(VENV, as_kb=40 * 1024), {
            "signature": "1/E/N", "stderr_tail": Matches("ensurepip"),
        }),
    )),
)


def select(names: Sequence[str]) -> list[Scenario]:
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UsageError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[name] for name in names] if names else list(SCENARIOS)


# ---- verdict logic (pure: no engine needed) ----

@dataclass(frozen=True)
class Check:
    key: str
    expected: object
    observed: object
    ok: bool


def matches(expected: object, observed: object) -> bool:
    """Equality of type and value: ``False`` must not pass for ``0``, nor ``1`` for ``True``."""
    if isinstance(expected, (Matches, Absent)):
        return expected.matches(observed)
    return type(expected) is type(observed) and expected == observed


def verdict(expect: Mapping[str, object], observed: Mapping[str, object]) -> list[Check]:
    checks = []
    for key, expected in expect.items():
        value = observed.get(key, ABSENT)
        checks.append(Check(key, expected, value, matches(expected, value)))
    return checks


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


def observe(result: ContainerResult) -> dict[str, object]:
    observed = flatten(last_json_object(result.stdout))
    event = last_json_object(result.events or "")
    observed.update(flatten(event, "event."))
    observed.update(
        exit=result.exit,
        oom_killed=result.oom_killed,
        cooldown=result.cooldown,
        traceback="Traceback (most recent call last)" in result.stdout + result.stderr,
    )
    return observed


@dataclass
class StepRun:
    step: Step
    seconds: float
    result: ContainerResult
    observed: dict[str, object] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.ok for check in self.checks)


@dataclass
class ScenarioRun:
    scenario: Scenario
    steps: list[StepRun]
    seconds: float

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.passed for step in self.steps)


def judge(step: Step, seconds: float, result: ContainerResult) -> StepRun:
    observed = observe(result)
    return StepRun(step, seconds, result, observed, verdict(step.expect, observed))


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


def mounts(ctx: Context, volume: str) -> dict[str, dict[str, str]]:
    return {
        ctx.source: {"bind": "/src/sdkboot", "mode": "ro"},
        ctx.wheelhouse: {"bind": WHEELS, "mode": "ro"},
        ctx.scripts: {"bind": SCRIPTS, "mode": "ro"},
        volume: {"bind": STATE, "mode": "rw"},
    }


def memory(step: Step) -> dict[str, int]:
    # memswap equal to mem: no swap, so the limit is a hard OOM line.
    if step.mem_mib is None:
        return {}
    size = int(step.mem_mib * MIB)
    return {"mem_limit": size, "memswap_limit": size}


def create(ctx: Context, scenario: Scenario, step: Step, volume: str) -> Any:
    return ctx.client.containers.create(
        ctx.ref(scenario.image),
        command=list(step.command),
        name=dockerutil.object_name(scenario.name, step.label),
        labels=dockerutil.labels(**{"org.sdkboot.repro.scenario": scenario.name}),
        network_disabled=True,
        volumes=mounts(ctx, volume),
        environment=ENVIRONMENT,
        working_dir="/",
        **memory(step),
    )


def wrapper_tar(as_kb: int) -> bytes:
    """A tar holding ``wrap/python3``: the system interpreter exec'd under RLIMIT_AS."""
    script = (
        "#!/bin/sh\n"
        "# exec, not a child: sdkboot must see the interpreter's own signal, not a shell's 139.\n"
        f"ulimit -v {as_kb}\n"
        'exec /usr/bin/python3 "$@"\n'
    ).encode()
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


def collect(container: Any, exit_code: int | str) -> ContainerResult:
    container.reload()
    return ContainerResult(
        exit=exit_code,
        stdout=container.logs(stdout=True, stderr=False).decode(errors="replace"),
        stderr=container.logs(stdout=False, stderr=True).decode(errors="replace"),
        oom_killed=bool(container.attrs["State"].get("OOMKilled")),
        events=read_file(container, f"{STATE}/events.jsonl"),
        cooldown=read_file(container, f"{STATE}/cooldown.json") is not None,
    )


def run_step(ctx: Context, scenario: Scenario, step: Step, volume: str) -> StepRun:
    container = create(ctx, scenario, step, volume)
    try:
        if step.wrap_as_kb is not None:
            container.put_archive("/opt", wrapper_tar(step.wrap_as_kb))
        started = time.monotonic()
        container.start()
        exit_code = wait(container, step.timeout)
        seconds = time.monotonic() - started
        return judge(step, seconds, collect(container, exit_code))
    finally:
        dockerutil.remove_container(container)


def run_scenario(ctx: Context, scenario: Scenario) -> ScenarioRun:
    """All steps, each in a fresh container, sharing one state volume; always cleaned up."""
    volume = dockerutil.object_name(scenario.name, "state")
    ctx.client.volumes.create(name=volume, labels=dockerutil.labels())
    started = time.monotonic()
    try:
        steps = [run_step(ctx, scenario, step, volume) for step in scenario.steps]
    finally:
        dockerutil.remove_volume(ctx.client, volume)
    return ScenarioRun(scenario, steps, time.monotonic() - started)


# ---- reporting ----


def describe(value: object) -> str:
    if isinstance(value, (Matches, Absent, str)):
        return str(value)
    return json.dumps(value)


def jsonable(value: object) -> object:
    return str(value) if isinstance(value, Absent) else value


def shorten(text: str, width: int = 44) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def table_rows(runs: Sequence[ScenarioRun]) -> list[list[str]]:
    rows = [["SCENARIO", "STEP", "TIME", "CHECK", "EXPECTED", "OBSERVED", "VERDICT"]]
    for run in runs:
        for step in run.steps:
            for index, check in enumerate(step.checks):
                time_cell = f"{step.seconds:.1f}s" if index == 0 else ""
                rows.append([
                    run.scenario.name, step.step.label, time_cell, check.key,
                    shorten(describe(check.expected)), shorten(describe(check.observed)),
                    "ok" if check.ok else "MISMATCH",
                ])
    return rows


def summary(runs: Sequence[ScenarioRun]) -> str:
    failed = [run.scenario.name for run in runs if not run.passed]
    total = sum(run.seconds for run in runs)
    head = f"{len(runs) - len(failed)} passed, {len(failed)} failed ({total:.1f} s)"
    return head + (f": {', '.join(failed)}" if failed else "")


def step_json(run: StepRun) -> dict[str, Any]:
    return {
        "label": run.step.label, "command": list(run.step.command),
        "mem_mib": run.step.mem_mib, "wrap_as_kb": run.step.wrap_as_kb,
        "seconds": round(run.seconds, 2), "passed": run.passed,
        "checks": [
            {"key": c.key, "expected": describe(c.expected), "observed": jsonable(c.observed),
             "ok": c.ok}
            for c in run.checks
        ],
        "observed": run.observed,
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
    runs = []
    try:
        for scenario in scenarios:
            runs.append(run_scenario(ctx, scenario))
            if not args.json:
                print(f"{scenario.name}: {'ok' if runs[-1].passed else 'MISMATCH'}", flush=True)
    finally:
        dockerutil.sweep(ctx.client, dockerutil.run_id())
    print_report(runs, args.json)
    return 0 if all(run.passed for run in runs) else 1


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
        description=f"Scenarios: {names}.",
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="default: all")
    parser.add_argument("--json", action="store_true", help="machine-readable results")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--wheelhouse", default=None, help="default: repro's wheelhouse")
    parser.set_defaults(handler=cmd_containers)
