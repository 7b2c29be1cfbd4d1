"""The canonical repros, each checked end to end against the signature it must show.

A check observes a dict of facts; it passes when every expected key has the expected value.
sdkboot itself runs unlimited: its build interpreter is a generated wrapper that puts only
the build's steps under the limit, so sdkboot survives to classify the kill.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from repro import Unsupported, cgroups, limits, options, report, scenarios, wheelhouse

SEGV_KIB = 5000  # Debian's python3: exec fails past the point of no return -> SIGSEGV
PIP_OOM_KIB = 24 * 1024  # pip --target itself is killed here, before it prints anything
SDKBOOT_OOM_KIB = 10 * 1024  # `python -m venv` is killed outright (at ~16 MiB only ensurepip)

Observed = dict[str, Any]


@dataclass(frozen=True)
class Check:
    name: str
    summary: str
    needs: tuple[str, ...]  # capabilities, see NEEDS
    expected: Observed
    observe: Callable[[scenarios.Context], Observed]


@dataclass(frozen=True)
class Verdict:
    check: Check
    observed: Observed
    skipped: str | None = None  # the missing capability

    @property
    def status(self) -> str:
        if self.skipped:
            return "SKIP"
        matches = all(self.observed.get(k) == v for k, v in self.check.expected.items())
        return "PASS" if matches else "FAIL"


def _streams(run: limits.Run) -> Observed:
    return {"rc": run.rc, "stdout": "N" if run.stdout.strip() else "E",
            "stderr": "N" if run.stderr.strip() else "E", "oom_killed": run.oom_kills > 0}


def _rlimit_segv(ctx: scenarios.Context) -> Observed:
    venv = scenarios.SCENARIOS["venv"]
    return _streams(scenarios.run_once(venv, ctx, limits.rlimit_as(SEGV_KIB)))


def _cgroup_oom(ctx: scenarios.Context) -> Observed:
    target = scenarios.SCENARIOS["pip-target"]
    return _streams(scenarios.run_once(target, ctx, limits.Cgroup(PIP_OOM_KIB)))


def _ensure(ctx: scenarios.Context, state: Path, python: Path | str, *extra: str) -> Observed:
    """One `sdkboot ensure --json` run; its JSON object, or why there is none."""
    argv = [sys.executable, "-m", "sdkboot", "ensure", "--state-dir", str(state), "--python",
            str(python), "--no-index", "--find-links", str(ctx.wheelhouse), "--timeout",
            str(int(ctx.timeout)), "--json", *extra]
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
    path.write_text(f'#!/bin/sh\n{prelude}\nexec {shlex.quote(python)} "$@"\n')
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
    return {"outcome": first.get("outcome"), "err_kind": first.get("err_kind"),
            "sdk_bootstrap_rc": first.get("metrics", {}).get("sdk_bootstrap_rc"),
            "cooldown_armed": armed, "then": second.get("outcome"),
            "then_subprocesses": second.get("subprocesses")}


def _fresh(ctx: scenarios.Context, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=ctx.scratch))


def _fix_segv(ctx: scenarios.Context) -> Observed:
    work = _fresh(ctx, "fix-segv")
    python, _ = _as_wrapper(work, ctx.python)
    return _killed_then_retried(ctx, work / "state", python)


def _fix_oom(ctx: scenarios.Context) -> Observed:
    work = _fresh(ctx, "fix-oom")
    with cgroups.limited(SDKBOOT_OOM_KIB) as group:
        procs = shlex.quote(str(group.directory / "cgroup.procs"))
        python = _wrapper(work, f"echo $$ > {procs} || exit 97", ctx.python)
        observed = _killed_then_retried(ctx, work / "state", python)
        return {**observed, "oom_killed": group.oom_kills() > 0}


def _fix_recovers(ctx: scenarios.Context) -> Observed:
    work = _fresh(ctx, "fix-recovers")
    python, knob = _as_wrapper(work, ctx.python)
    armed = _ensure(ctx, work / "state", python, "--cooldown", "1")
    knob.write_text("unlimited")
    cooling = _ensure(ctx, work / "state", python)  # default window: the kill still counts
    time.sleep(1.5)  # past the 1 s window
    built = _ensure(ctx, work / "state", python, "--cooldown", "1")
    again = _ensure(ctx, work / "state", python, "--cooldown", "1")
    return {"armed_by": armed.get("err_kind"), "still_cooling": cooling.get("outcome"),
            "after_cooldown": built.get("outcome"), "again": again.get("outcome"),
            "again_subprocesses": again.get("subprocesses")}


CHECKS = (
    Check("rlimit-segv", f"python -m venv under RLIMIT_AS {SEGV_KIB} KiB", ("linux",),
          {"rc": -11, "stdout": "E", "stderr": "E"}, _rlimit_segv),
    Check("cgroup-oom", f"pip install --target under a {PIP_OOM_KIB // 1024} MiB cgroup",
          ("cgroup", "wheelhouse"),
          {"rc": -9, "stdout": "E", "stderr": "E", "oom_killed": True}, _cgroup_oom),
    Check("fix-classifies-segv", "sdkboot ensure, build interpreter under RLIMIT_AS",
          ("linux", "wheelhouse", "sdkboot"),
          {"outcome": "BUILD_FAILED", "err_kind": "signal_killed:-11", "sdk_bootstrap_rc": -11,
           "cooldown_armed": True, "then": "SKIP_COOLDOWN", "then_subprocesses": 0}, _fix_segv),
    Check("fix-classifies-oom",
          f"sdkboot ensure, build steps in a {SDKBOOT_OOM_KIB // 1024} MiB cgroup",
          ("cgroup", "wheelhouse", "sdkboot"),
          {"outcome": "BUILD_FAILED", "err_kind": "signal_killed:-9", "sdk_bootstrap_rc": -9,
           "cooldown_armed": True, "then": "SKIP_COOLDOWN", "then_subprocesses": 0,
           "oom_killed": True}, _fix_oom),
    Check("fix-recovers", "same state, limit lifted, cooldown (1 s) expired",
          ("linux", "wheelhouse", "sdkboot"),
          {"armed_by": "signal_killed:-11", "still_cooling": "SKIP_COOLDOWN",
           "after_cooldown": "BUILT", "again": "NOOP_VENV", "again_subprocesses": 0},
          _fix_recovers),
)


def _need_linux(ctx: scenarios.Context) -> None:
    if sys.platform != "linux":
        raise Unsupported(f"not Linux ({sys.platform})")


def _need_wheelhouse(ctx: scenarios.Context) -> None:
    if not wheelhouse.is_filled(ctx.wheelhouse):
        raise Unsupported(f"no wheelhouse at {ctx.wheelhouse} (python -m repro wheelhouse)")


def _need_sdkboot(ctx: scenarios.Context) -> None:
    try:
        scenarios.sdkboot_root()
    except scenarios.ScenarioError as exc:
        raise Unsupported(str(exc)) from exc


NEEDS: dict[str, Callable[[scenarios.Context], object]] = {
    "linux": _need_linux,
    "cgroup": lambda ctx: cgroups.detect(),
    "wheelhouse": _need_wheelhouse,
    "sdkboot": _need_sdkboot,
}


def run_check(check: Check, ctx: scenarios.Context) -> Verdict:
    try:
        for need in check.needs:
            NEEDS[need](ctx)
        return Verdict(check, check.observe(ctx))
    except Unsupported as exc:
        return Verdict(check, {}, skipped=exc.reason)
    except scenarios.ScenarioError as exc:
        return Verdict(check, {"error": str(exc)})


def _facts(values: Observed) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items())


def table(verdicts: list[Verdict]) -> str:
    rows = [[v.check.name, _facts(v.check.expected),
             v.skipped or _facts({k: v.observed.get(k) for k in v.check.expected}), v.status]
            for v in verdicts]
    return report.markdown_table(["check", "expected", "observed", "verdict"], rows)


def to_json(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    return [{"check": v.check.name, "summary": v.check.summary, "expected": v.check.expected,
             "observed": v.observed, "skipped": v.skipped, "verdict": v.status}
            for v in verdicts]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("validate", help="check each canonical repro end to end")
    parser.add_argument("--only", nargs="+", choices=[c.name for c in CHECKS],
                        help="run just these checks")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options.add_context_arguments(parser)
    parser.set_defaults(handler=_main)


def exit_code(verdicts: list[Verdict]) -> int:
    """1 on any mismatch; 3 when something could not be checked here; else 0."""
    statuses = {v.status for v in verdicts}
    return 1 if "FAIL" in statuses else 3 if "SKIP" in statuses else 0


def _main(args: argparse.Namespace) -> int:
    chosen = [c for c in CHECKS if not args.only or c.name in args.only]
    progress = report.Progress()
    with tempfile.TemporaryDirectory(prefix="repro-validate-") as scratch:
        ctx = options.context(args, Path(scratch), needs_wheelhouse=False)
        verdicts = []
        for check in chosen:
            progress.update(f"validate: {check.name}")
            verdicts.append(run_check(check, ctx))
        progress.done()
    print(json.dumps(to_json(verdicts), indent=2) if args.json else table(verdicts))
    return exit_code(verdicts)
