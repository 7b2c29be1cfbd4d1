"""The ways of bootstrapping the package that the benchmark compares, as data.

Each way is one command for a fresh work dir: a ``sh -c`` chain for the baselines (a shell
parent costs every way the same ~1 MiB), sdkboot's own ``hook`` for its strategies. Every
way ends with an import of the package, because a bootstrap that cannot import is no
bootstrap. A way whose tool is missing says why, and the benchmark leaves it out.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from repro import scenarios, wheelhouse
from repro.limits import Run
from sdkboot.strategies.all_strategies import STRATEGIES

IMPORT = scenarios.IMPORT_NAME
REQUIREMENT = wheelhouse.REQUIREMENT
BUILT_CODES = (2, 7)  # sdk_bootstrap BUILT, BUILT_TARGET


@dataclass(frozen=True)
class Tools:
    """Where the optional baseline tools are (the ``bench`` extra), or None."""

    uv: str | None
    virtualenv: str | None

    @classmethod
    def find(cls, directory: Path | None) -> Tools:
        """``--tools DIR`` first, then this interpreter's bin dir, then PATH (pyenv shims never count)."""
        places = [str(directory)] if directory else []
        places.append(os.path.dirname(sys.executable))
        return cls(*(_which(name, places) for name in ("uv", "virtualenv")))


def _which(name: str, places: list[str]) -> str | None:
    for place in places:
        found = shutil.which(name, path=place)
        if found:
            return found
    found = shutil.which(name)
    return found if found and "/shims/" not in found else None


@dataclass(frozen=True)
class Context:
    python: str
    wheelhouse: Path
    scratch: Path
    tools: Tools
    timeout: float


Command = tuple[list[str], dict[str, str]]


def _sh(*steps: str) -> list[str]:
    return ["/bin/sh", "-c", " && ".join(steps)]


def _q(value: object) -> str:
    return shlex.quote(str(value))


def _offline(ctx: Context) -> str:
    return f"--no-index --find-links {_q(ctx.wheelhouse)} {REQUIREMENT}"


def _import_in(python: str) -> str:
    return f"{_q(python)} -I -c {_q('import ' + IMPORT)}"


def _naive(ctx: Context, work: Path) -> Command:
    env = work / "env"
    py = env / "bin" / "python"
    return _sh(
        f"{_q(ctx.python)} -m venv {_q(env)}", f"{_q(py)} -m pip install -q {_offline(ctx)}", _import_in(str(py))
    ), {}


def _pip_python(ctx: Context, work: Path) -> Command:
    env = work / "env"
    py = env / "bin" / "python"
    return _sh(
        f"{_q(ctx.python)} -m venv --without-pip {_q(env)}",
        f"{_q(ctx.python)} -m pip --python {_q(py)} install -q {_offline(ctx)}",
        _import_in(str(py)),
    ), {}


def _pip_target(ctx: Context, work: Path) -> Command:
    target = work / "t"
    check = f"import sys; sys.path.insert(0, {str(target)!r}); import {IMPORT}"
    return _sh(
        f"{_q(ctx.python)} -m pip install -q --no-cache-dir --target {_q(target)} {_offline(ctx)}",
        f"{_q(ctx.python)} -I -S -c {_q(check)}",
    ), {}


def _uv(ctx: Context, work: Path) -> Command:
    env = work / "env"
    py = env / "bin" / "python"
    uv = _q(ctx.tools.uv)
    # A fresh cache per run: a warm uv cache would turn the install into hard links.
    return _sh(
        f"{uv} venv -q --python {_q(ctx.python)} {_q(env)}",
        f"{uv} pip install -q --python {_q(py)} {_offline(ctx)}",
        _import_in(str(py)),
    ), {"UV_CACHE_DIR": str(work / "uv-cache"), "UV_NO_PROGRESS": "1"}


def _virtualenv(ctx: Context, work: Path) -> Command:
    env = work / "env"
    py = env / "bin" / "python"
    # One app-data dir for all runs (as a user has), and never the detached online update.
    app_data = ctx.scratch / "virtualenv-app-data"
    return _sh(
        f"{_q(ctx.tools.virtualenv)} -q --no-periodic-update --python {_q(ctx.python)} {_q(env)}",
        f"{_q(py)} -m pip install -q --disable-pip-version-check {_offline(ctx)}",
        _import_in(str(py)),
    ), {"VIRTUALENV_OVERRIDE_APP_DATA": str(app_data)}


def _import(ctx: Context, work: Path) -> Command:
    """Only the import, from a tree installed once: the physical limit every way must pass."""
    scenario_ctx = scenarios.Context(ctx.python, ctx.wheelhouse, ctx.scratch, ctx.timeout)
    command = scenarios.SCENARIOS["import"].build(scenario_ctx, work, scenarios.Launch())
    return command.argv, command.env


def sdkboot_hook(strategy: str) -> Callable[[Context, Path], Command]:
    def command(ctx: Context, work: Path) -> Command:
        xy = ".".join(map(str, sys.version_info[:2]))
        argv = [
            ctx.python,
            "-m",
            "sdkboot",
            "hook",
            "--state-dir",
            str(work / "state"),
            "--python",
            ctx.python,
            "--min-python",
            xy,
            "--strategy",
            strategy,
            "--no-index",
            "--find-links",
            str(ctx.wheelhouse),
            "--timeout",
            str(int(ctx.timeout)),
            "--async-timeout",
            str(int(ctx.timeout * 1000 + 11_000)),
            # The bench measures what a build needs: the preflight would refuse below the
            # floors file that the bench itself wrote, and the floor would measure that file.
            "--no-preflight",
            REQUIREMENT,
        ]
        return argv, {"PYTHONPATH": scenarios.sdkboot_root()}

    return command


def exited_zero(run: Run) -> bool:
    return run.rc == 0 and not run.timed_out


def hook_built(run: Run) -> bool:
    """The hook always exits 0: success is its metrics line saying BUILT, and the contract held."""
    return exited_zero(run) and hook_contract(run) is None and _metrics(run).get("sdk_bootstrap") in BUILT_CODES


def _metrics(run: Run) -> dict[str, object]:
    lines = run.stdout.splitlines()
    try:
        return dict(json.loads(lines[-1]).get("metrics", {}))
    except (ValueError, IndexError, AttributeError):
        return {}


def hook_contract(run: Run) -> str | None:
    """Why the run broke the hook protocol (async line, then exactly one metrics line, exit 0), or None."""
    lines = run.stdout.splitlines()
    if run.rc != 0:
        return f"exit {run.rc}"
    if len(lines) != 2:
        return f"{len(lines)} stdout lines"
    try:
        first, second = json.loads(lines[0]), json.loads(lines[1])
    except ValueError:
        return "a stdout line is not JSON"
    if first.get("async") is not True or "metrics" not in second:
        return "not the async line, then a metrics line"
    return None


@dataclass(frozen=True)
class Way:
    name: str
    summary: str
    command: Callable[[Context, Path], Command]
    needs: Callable[[Context], str | None] = lambda ctx: None  # why it cannot run here, or None
    ok: Callable[[Run], bool] = exited_zero
    sdkboot: bool = False
    as_hi_mib: int = 176  # the top of the RLIMIT_AS search (uv reserves over a GiB)


def _needs(tool: str) -> Callable[[Context], str | None]:
    def check(ctx: Context) -> str | None:
        return None if getattr(ctx.tools, tool) else f"{tool} not installed (pip install 'sdkboot[bench]')"

    return check


WAYS: dict[str, Way] = {
    way.name: way
    for way in (
        Way("naive", "python -m venv ENV + ENV/bin/python -m pip install", _naive),
        Way("pip-python", "venv --without-pip + host pip --python ENV", _pip_python),
        Way("pip-target", "host pip install --target DIR --no-cache-dir", _pip_target),
        Way("virtualenv", "virtualenv --no-periodic-update + its pip", _virtualenv, _needs("virtualenv")),
        Way("uv", "uv venv + uv pip install (fresh uv cache)", _uv, _needs("uv"), as_hi_mib=2048),
        # Every registered strategy is measured: a new one needs no line here.
        *(
            Way(
                f"sdkboot-{label}", f"sdkboot hook --strategy {label}", sdkboot_hook(label), ok=hook_built, sdkboot=True
            )
            for label in STRATEGIES
        ),
        Way("import", "only import the installed package (the physical limit)", _import),
    )
}
QUICK = ("naive", "sdkboot-lean", "import")
