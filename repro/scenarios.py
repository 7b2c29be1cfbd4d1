"""The named scenarios: one bootstrap step each, as a command plus the setup it needs.

Setup (a venv to install into, an installed tree to import from) runs without a limit, so
only the step under study meets the limit. Each run gets a fresh work dir under the scratch
dir, which must be on a real disk: tmpfs pages count as memory and would skew every floor.

Two modes say where the limit sits. ``child``: on the step a bootstrapper spawns, its parent
unlimited (for the sdkboot scenarios, a wrapper interpreter limits only the build steps).
``tree``: on the sdkboot process itself, set before it execs, so it and everything it starts
live under the limit, as under a user's ``ulimit -v`` or a session's cgroup. Only scenarios
that run sdkboot have both; for the others the step is the whole tree.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from repro import limits, sdkout, survivors, wheelhouse

DEFAULT_PYTHON = "/usr/bin/python3"  # Debian's: the one whose exec fails as SIGSEGV
IMPORT_NAME = "claude_agent_sdk"
SETUP_TIMEOUT = 600.0
WORK_MARK = "<work>"
CHILD, TREE = "child", "tree"
MODES = (CHILD, TREE)


class ScenarioError(RuntimeError):
    """A scenario's unlimited setup failed, so its limited step means nothing."""


@dataclass(frozen=True)
class Context:
    python: str
    wheelhouse: Path
    scratch: Path  # per-run work dirs, and trees shared by runs (the import scenario's)
    timeout: float = 90.0
    sdkboot_args: tuple[str, ...] = ()  # extra options for the sdkboot scenarios


@dataclass(frozen=True)
class Launch:
    """What a scenario's builder needs to know about the limit: its mode, and its shell form."""

    mode: str = CHILD
    shell: str = ":"  # applies the limit from a /bin/sh wrapper (limits.Hooks.shell)


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # False: the limit reaches only what ``argv`` spawns through a wrapper, not ``argv`` itself.
    limited: bool = True


@dataclass(frozen=True)
class Report:
    """What the step said about itself, beyond rc and streams (sdkboot's own output)."""

    text: str
    holds: bool | None = None  # the step's own success criterion; None: rc == 0 decides


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    needs_wheelhouse: bool
    build: Callable[[Context, Path, Launch], Command]  # (context, fresh work dir, launch)
    modes: tuple[str, ...] = (CHILD,)
    read: Callable[[limits.Run], Report] | None = None


_PINNED_ENV = {
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PIP_ROOT_USER_ACTION": "ignore",
}


def run_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # The host's pip and Python settings (find-links, index, PYTHONPATH...) would change what
    # a step reads and loads, so runs get only the settings chosen here.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    return {**inherited, **_PINNED_ENV, **(extra or {})}


def _install_args(ctx: Context, *where: str) -> list[str]:
    return [
        "install",
        *where,
        "--no-index",
        "--find-links",
        str(ctx.wheelhouse),
        "--no-cache-dir",
        wheelhouse.REQUIREMENT,
    ]


def _setup(argv: list[str]) -> None:
    run = limits.run(argv, timeout=SETUP_TIMEOUT, env=run_env())
    if run.rc != 0:
        tail = (run.stderr.strip().splitlines() or [run.error or ""])[-1]
        raise ScenarioError(f"setup `{' '.join(argv)}` failed (rc {run.rc}): {tail}")


def _venv(ctx: Context, work: Path, launch: Launch) -> Command:
    return Command([ctx.python, "-m", "venv", str(work / "env")])


def _venv_without_pip(ctx: Context, work: Path, launch: Launch) -> Command:
    return Command([ctx.python, "-m", "venv", "--without-pip", str(work / "env")])


def _pip_venv(ctx: Context, work: Path, launch: Launch) -> Command:
    _setup([ctx.python, "-m", "venv", "--without-pip", str(work / "env")])
    env_python = str(work / "env" / "bin" / "python")
    return Command([ctx.python, "-m", "pip", "--python", env_python, *_install_args(ctx)])


def _pip_target(ctx: Context, work: Path, launch: Launch) -> Command:
    return Command([ctx.python, "-m", "pip", *_install_args(ctx, "--target", str(work / "t"))])


def sdkboot_root() -> str:
    """The directory to put on PYTHONPATH so any interpreter can run ``-m sdkboot``."""
    spec = importlib.util.find_spec("sdkboot")
    if spec is None or spec.origin is None:
        raise ScenarioError("sdkboot is not importable from this interpreter")
    return str(Path(spec.origin).resolve().parent.parent)


def _wrapper(work: Path, shell: str, python: str) -> str:
    """A build interpreter that puts itself under the limit, then becomes ``python``."""
    path = work / "wrap" / "python"
    path.parent.mkdir()
    path.write_text(limits.wrapper_script(shell, python))
    path.chmod(0o755)
    return str(path)


def _sdkboot_command(ctx: Context, work: Path, launch: Launch, subcommand: str) -> Command:
    """``sdkboot <subcommand>`` run by ``ctx.python``; in child mode it builds with a wrapper."""
    tree = launch.mode == TREE
    builder = ctx.python if tree else _wrapper(work, launch.shell, ctx.python)
    argv = [
        ctx.python,
        "-m",
        "sdkboot",
        subcommand,
        "--state-dir",
        str(work / "state"),
        "--python",
        builder,
        "--no-index",
        "--find-links",
        str(ctx.wheelhouse),
        "--timeout",
        str(int(ctx.timeout)),
        *ctx.sdkboot_args,
    ]
    return Command(argv, {"PYTHONPATH": sdkboot_root()}, limited=tree)


def _sdkboot(ctx: Context, work: Path, launch: Launch) -> Command:
    command = _sdkboot_command(ctx, work, launch, "ensure")
    return dataclasses.replace(command, argv=[*command.argv, "--json"])


def _hook(ctx: Context, work: Path, launch: Launch) -> Command:
    return _sdkboot_command(ctx, work, launch, "hook")


def _bare(ctx: Context, work: Path, launch: Launch) -> Command:
    return Command([ctx.python, "-c", "pass"])


def read_ensure(run: limits.Run) -> Report:
    return Report(sdkout.describe_ensure(sdkout.ensure_json(run.stdout)))


def read_hook(run: limits.Run) -> Report:
    output = sdkout.HookOutput.read(run.stdout)
    return Report(sdkout.describe_hook(output, run.rc), output.holds(run.rc))


def _prepared_target(ctx: Context) -> Path:
    """An installed tree, built once per scratch dir and shared by every import run."""
    target = ctx.scratch / "import-target"
    if not (target / IMPORT_NAME).is_dir():
        staging = Path(tempfile.mkdtemp(prefix="import-staging-", dir=ctx.scratch))
        _setup([ctx.python, "-m", "pip", *_install_args(ctx, "--target", str(staging))])
        staging.rename(target)
    return target


def _import(ctx: Context, work: Path, launch: Launch) -> Command:
    # -I: a sealed check; with PYTHONPATH the host's site-packages would still be seen.
    code = f"import sys; sys.path.insert(0, {str(_prepared_target(ctx))!r}); import {IMPORT_NAME}"
    return Command([ctx.python, "-I", "-c", code])


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("bare", "python -c pass: the interpreter's own start floor", False, _bare),
        Scenario("venv", "python -m venv (with ensurepip)", False, _venv),
        Scenario("venv-without-pip", "python -m venv --without-pip", False, _venv_without_pip),
        Scenario("pip-venv", "pip --python into a fresh --without-pip venv", True, _pip_venv),
        Scenario("pip-target", "pip install --target", True, _pip_target),
        Scenario("sdkboot", "a full `sdkboot ensure --json`", True, _sdkboot, MODES, read_ensure),
        Scenario("hook", "`sdkboot hook`: its two lines, whatever the limit", True, _hook, MODES, read_hook),
        Scenario("import", "import the package from an installed tree (the floor)", True, _import),
    )
}


def run_once(scenario: Scenario, ctx: Context, limit: limits.Limit, mode: str = CHILD) -> limits.Run:
    """One limited run in a fresh work dir, removed afterwards; its path reads <work>.

    Every descendant still alive after the step exits is counted in ``Run.survivors``.
    """
    if mode not in scenario.modes:
        raise ScenarioError(f"scenario {scenario.name} has no {mode} mode")
    work = Path(tempfile.mkdtemp(prefix=f"{scenario.name}-", dir=ctx.scratch))
    try:
        with limit.applied() as hooks:
            command = scenario.build(ctx, work, Launch(mode, hooks.shell))
            applied = hooks if command.limited else dataclasses.replace(hooks, preexec=None)
            run = limits.run_hooked(
                command.argv,
                applied,
                f"{limits.describe(limit)} ({mode})",
                timeout=ctx.timeout,
                env=run_env(command.env),
                cwd=work,
                mark=survivors.new_mark(),
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _masked(run, str(work))


def report(scenario: Scenario, run: limits.Run) -> Report | None:
    return scenario.read(run) if scenario.read else None


def _masked(run: limits.Run, work: str) -> limits.Run:
    return dataclasses.replace(
        run, stdout=run.stdout.replace(work, WORK_MARK), stderr=run.stderr.replace(work, WORK_MARK)
    )


def python_version(python: str) -> str:
    run = limits.run([python, "-c", "import platform; print(platform.python_version())"], timeout=30)
    return run.stdout.strip() or "unknown"
