"""What each validate check runs, and the facts it observes: one dict per run.

``child`` observers keep sdkboot unlimited and limit only its build interpreter (a generated
wrapper), so sdkboot survives to classify the kill. ``tree`` observers start ``sdkboot hook``
itself under the limit and count the descendants it left alive.
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from repro import cgroups, limits, scenarios, sdkout, survivors

SEGV_KIB = 5000  # Debian's python3: exec fails past the point of no return -> SIGSEGV
PIP_OOM_KIB = 24 * 1024  # pip --target itself is killed here, before it prints anything
SDKBOOT_OOM_KIB = 10 * 1024  # `python -m venv` is killed outright (at ~16 MiB only ensurepip)

Observed = dict[str, Any]


def _streams(run: limits.Run) -> Observed:
    return {
        "rc": run.rc,
        "stdout": "N" if run.stdout.strip() else "E",
        "stderr": "N" if run.stderr.strip() else "E",
        "oom_killed": run.oom_kills > 0,
    }


def rlimit_segv(ctx: scenarios.Context) -> Observed:
    venv = scenarios.SCENARIOS["venv"]
    return _streams(scenarios.run_once(venv, ctx, limits.rlimit_as(SEGV_KIB)))


def cgroup_oom(ctx: scenarios.Context) -> Observed:
    target = scenarios.SCENARIOS["pip-target"]
    return _streams(scenarios.run_once(target, ctx, limits.Cgroup(PIP_OOM_KIB)))


def _ensure(ctx: scenarios.Context, state: Path, python: Path | str, *extra: str) -> Observed:
    """One `sdkboot ensure --json` run; its JSON object, or why there is none."""
    argv = [
        sys.executable,
        "-m",
        "sdkboot",
        "ensure",
        "--state-dir",
        str(state),
        "--python",
        str(python),
        "--no-index",
        "--find-links",
        str(ctx.wheelhouse),
        "--timeout",
        str(int(ctx.timeout)),
        "--json",
        *extra,
    ]
    env = scenarios.run_env({"PYTHONPATH": scenarios.sdkboot_root()})
    run = limits.run(argv, timeout=ctx.timeout * 4, env=env)
    try:
        parsed = json.loads(run.stdout)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    tail = (run.stderr.strip().splitlines() or [run.error or ""])[-1]
    return {"outcome": f"no JSON (rc {run.rc}): {tail[:80]}"}


def _wrapper(directory: Path, prelude: str, python: str) -> Path:
    """A build interpreter that applies a limit to itself, then becomes ``python``."""
    path = directory / "python"
    path.write_text(limits.wrapper_script(prelude, python))
    path.chmod(0o755)
    return path


def _as_wrapper(directory: Path, python: str) -> tuple[Path, Path]:
    # The limit sits in a side file: lifting it must not change the wrapper, whose size and
    # mtime are part of the fingerprint the cooldown is bound to.
    knob = directory / "as-limit-kib"
    knob.write_text(str(SEGV_KIB))
    return _wrapper(directory, f'ulimit -v "$(cat {shlex.quote(str(knob))})"', python), knob


def _killed_then_retried(ctx: scenarios.Context, state: Path, python: Path) -> Observed:
    """A build that is killed, then the retry that must not build again."""
    first = _ensure(ctx, state, python)
    armed = (state / "cooldown.json").is_file()
    second = _ensure(ctx, state, python)
    return {
        "outcome": first.get("outcome"),
        "err_kind": first.get("err_kind"),
        "sdk_bootstrap_rc": first.get("metrics", {}).get("sdk_bootstrap_rc"),
        "cooldown_armed": armed,
        "then": second.get("outcome"),
        "then_subprocesses": second.get("subprocesses"),
    }


def _fresh(ctx: scenarios.Context, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=ctx.scratch))


def fix_segv(ctx: scenarios.Context) -> Observed:
    work = _fresh(ctx, "fix-segv")
    python, _ = _as_wrapper(work, ctx.python)
    return _killed_then_retried(ctx, work / "state", python)


def fix_oom(ctx: scenarios.Context) -> Observed:
    work = _fresh(ctx, "fix-oom")
    with cgroups.limited(SDKBOOT_OOM_KIB) as group:
        procs = shlex.quote(str(group.directory / "cgroup.procs"))
        python = _wrapper(work, f"echo $$ > {procs} || exit 97", ctx.python)
        observed = _killed_then_retried(ctx, work / "state", python)
        return {**observed, "oom_killed": group.oom_kills() > 0}


def fix_recovers(ctx: scenarios.Context) -> Observed:
    work = _fresh(ctx, "fix-recovers")
    python, knob = _as_wrapper(work, ctx.python)
    armed = _ensure(ctx, work / "state", python, "--cooldown", "1")
    knob.write_text("unlimited")
    cooling = _ensure(ctx, work / "state", python)  # default window: the kill still counts
    time.sleep(1.5)  # past the 1 s window
    built = _ensure(ctx, work / "state", python, "--cooldown", "1")
    again = _ensure(ctx, work / "state", python, "--cooldown", "1")
    return {
        "armed_by": armed.get("err_kind"),
        "still_cooling": cooling.get("outcome"),
        "after_cooldown": built.get("outcome"),
        "again": again.get("outcome"),
        "again_subprocesses": again.get("subprocesses"),
    }


# ---- whole tree: the hook itself under the limit ----


def _hook(ctx: scenarios.Context, state: Path, limit: limits.Limit, *extra: str) -> Observed:
    """One ``sdkboot hook`` session started under ``limit`` (tree mode): the protocol's facts,
    the outcome in words, and how many of its descendants were alive after it exited."""
    argv = [
        ctx.python,
        "-m",
        "sdkboot",
        "hook",
        "--state-dir",
        str(state),
        "--python",
        ctx.python,
        "--no-index",
        "--find-links",
        str(ctx.wheelhouse),
        "--timeout",
        str(int(ctx.timeout)),
        *extra,
    ]
    env = scenarios.run_env({"PYTHONPATH": scenarios.sdkboot_root()})
    run = limits.run(argv, limit, timeout=ctx.timeout * 4, env=env, mark=survivors.new_mark())
    output = sdkout.HookOutput.read(run.stdout)
    metrics = output.metrics
    facts: Observed = {
        "exit": run.rc,
        "lines": output.lines,
        "first_async": output.first_async,
        "metrics_lines": output.metrics_lines,
        "left_alive": len(run.survivors),
        "outcome": sdkout.outcome_name(metrics),
        "err": sdkout.err_name(metrics),
        "spawns": metrics.get("sdk_bootstrap_spawns", 0),
    }
    if "sdk_has_pip" in metrics:  # absent when not probed, or when the probe proved nothing
        facts["has_pip"] = metrics["sdk_has_pip"]
    if "sdk_bootstrap_rc" in metrics:
        facts["rc"] = metrics["sdk_bootstrap_rc"]
    if run.stderr.strip():
        facts["stderr_tail"] = run.stderr.strip().splitlines()[-1][:200]
    return facts


def twice(make: Callable[[], limits.Limit], *extra: str) -> Callable[[scenarios.Context], Observed]:
    """Two hook sessions under the same limit, one state dir: the first, then what it left."""

    def observe(ctx: scenarios.Context) -> Observed:
        state = _fresh(ctx, "tree") / "state"
        first = _hook(ctx, state, make(), *extra)
        second = _hook(ctx, state, make(), *extra)
        then = {f"then_{key}": second[key] for key in ("exit", "lines", "outcome", "spawns")}
        left = first["left_alive"] + second["left_alive"]
        return {**first, **then, "left_alive": left}

    return observe
