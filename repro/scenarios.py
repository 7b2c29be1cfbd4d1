"""The named scenarios: one bootstrap step each, as a command plus the setup it needs.

Setup (a venv to install into, an installed tree to import from) runs without a limit, so
only the step under study meets the limit. Each run gets a fresh work dir under the scratch
dir, which must be on a real disk: tmpfs pages count as memory and would skew every floor.
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

from repro import limits, wheelhouse

DEFAULT_PYTHON = "/usr/bin/python3"  # Debian's: the one whose exec fails as SIGSEGV
IMPORT_NAME = "claude_agent_sdk"
SETUP_TIMEOUT = 600.0
WORK_MARK = "<work>"


class ScenarioError(RuntimeError):
    """A scenario's unlimited setup failed, so its limited step means nothing."""


@dataclass(frozen=True)
class Context:
    python: str
    wheelhouse: Path
    scratch: Path  # per-run work dirs, and trees shared by runs (the import scenario's)
    timeout: float = 90.0


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    needs_wheelhouse: bool
    build: Callable[[Context, Path], Command]  # (context, fresh work dir) -> the limited step


_PINNED_ENV = {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
               "PIP_NO_INPUT": "1", "PIP_ROOT_USER_ACTION": "ignore"}


def run_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # The host's pip and Python settings (find-links, index, PYTHONPATH...) would change what
    # a step reads and loads, so runs get only the settings chosen here.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    return {**inherited, **_PINNED_ENV, **(extra or {})}


def _install_args(ctx: Context, *where: str) -> list[str]:
    return ["install", *where, "--no-index", "--find-links", str(ctx.wheelhouse),
            "--no-cache-dir", wheelhouse.REQUIREMENT]


def _setup(argv: list[str]) -> None:
    run = limits.run(argv, timeout=SETUP_TIMEOUT, env=run_env())
    if run.rc != 0:
        tail = (run.stderr.strip().splitlines() or [run.error or ""])[-1]
        raise ScenarioError(f"setup `{' '.join(argv)}` failed (rc {run.rc}): {tail}")


def _venv(ctx: Context, work: Path) -> Command:
    return Command([ctx.python, "-m", "venv", str(work / "env")])


def _venv_without_pip(ctx: Context, work: Path) -> Command:
    return Command([ctx.python, "-m", "venv", "--without-pip", str(work / "env")])


def _pip_venv(ctx: Context, work: Path) -> Command:
    _setup([ctx.python, "-m", "venv", "--without-pip", str(work / "env")])
    env_python = str(work / "env" / "bin" / "python")
    return Command([ctx.python, "-m", "pip", "--python", env_python, *_install_args(ctx)])


def _pip_target(ctx: Context, work: Path) -> Command:
    return Command([ctx.python, "-m", "pip", *_install_args(ctx, "--target", str(work / "t"))])


def sdkboot_root() -> str:
    """The directory to put on PYTHONPATH so any interpreter can run ``-m sdkboot``."""
    spec = importlib.util.find_spec("sdkboot")
    if spec is None or spec.origin is None:
        raise ScenarioError("sdkboot is not importable from this interpreter")
    return str(Path(spec.origin).resolve().parent.parent)


def _sdkboot(ctx: Context, work: Path) -> Command:
    argv = [ctx.python, "-m", "sdkboot", "ensure", "--state-dir", str(work / "state"),
            "--python", ctx.python, "--no-index", "--find-links", str(ctx.wheelhouse),
            "--timeout", str(int(ctx.timeout)), "--json"]
    return Command(argv, {"PYTHONPATH": sdkboot_root()})


def _prepared_target(ctx: Context) -> Path:
    """An installed tree, built once per scratch dir and shared by every import run."""
    target = ctx.scratch / "import-target"
    if not (target / IMPORT_NAME).is_dir():
        staging = Path(tempfile.mkdtemp(prefix="import-staging-", dir=ctx.scratch))
        _setup([ctx.python, "-m", "pip", *_install_args(ctx, "--target", str(staging))])
        staging.rename(target)
    return target


def _import(ctx: Context, work: Path) -> Command:
    # -I: a sealed check; with PYTHONPATH the host's site-packages would still be seen.
    code = f"import sys; sys.path.insert(0, {str(_prepared_target(ctx))!r}); import {IMPORT_NAME}"
    return Command([ctx.python, "-I", "-c", code])


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("venv", "python -m venv (with ensurepip)", False, _venv),
        Scenario("venv-without-pip", "python -m venv --without-pip", False, _venv_without_pip),
        Scenario("pip-venv", "pip --python into a fresh --without-pip venv", True, _pip_venv),
        Scenario("pip-target", "pip install --target", True, _pip_target),
        Scenario("sdkboot", "a full `sdkboot ensure --json`", True, _sdkboot),
        Scenario("import", "import the package from an installed tree (the floor)", True, _import),
    )
}


def run_once(scenario: Scenario, ctx: Context, limit: limits.Limit) -> limits.Run:
    """One limited run in a fresh work dir, removed afterwards; its path reads <work>."""
    work = Path(tempfile.mkdtemp(prefix=f"{scenario.name}-", dir=ctx.scratch))
    try:
        command = scenario.build(ctx, work)
        run = limits.run(command.argv, limit, timeout=ctx.timeout, env=run_env(command.env),
                         cwd=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _masked(run, str(work))


def _masked(run: limits.Run, work: str) -> limits.Run:
    return dataclasses.replace(run, stdout=run.stdout.replace(work, WORK_MARK),
                               stderr=run.stderr.replace(work, WORK_MARK))


def python_version(python: str) -> str:
    run = limits.run([python, "-c", "import platform; print(platform.python_version())"],
                     timeout=30)
    return run.stdout.strip() or "unknown"
