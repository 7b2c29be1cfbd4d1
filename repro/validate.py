"""The canonical repros, each checked end to end against the signature it must show.

A check observes a dict of facts and holds its expectation as data (repro.verdict): exact,
where the limit sits away from every measured band edge, or a declared set of outcomes the
kernel may give, with the one that came recorded. Nothing is retried.

Two modes. ``child`` (the default): sdkboot itself runs unlimited, its build interpreter is a
generated wrapper that puts only the build's steps under the limit, so sdkboot survives to
classify the kill. ``tree`` (``--tree``): the ``sdkboot hook`` process itself starts under the
limit (RLIMIT_AS set before exec; placed in the cgroup before exec), as a user's ``ulimit -v``
or session cgroup puts it, and each check also counts the descendants left alive.
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

from repro import (
    Unsupported, UsageError, cgroups, limits, options, repeat, report, scenarios, sdkout,
    survivors, wheelhouse,
)
from repro.scenarios import CHILD, TREE
from repro.verdict import (
    ABSENT, Case, Expect, Verdict, describe_expect, exact, expect_json, judge, one_of,
    verdict_json,
)

SEGV_KIB = 5000  # Debian's python3: exec fails past the point of no return -> SIGSEGV
PIP_OOM_KIB = 24 * 1024  # pip --target itself is killed here, before it prints anything
SDKBOOT_OOM_KIB = 10 * 1024  # `python -m venv` is killed outright (at ~16 MiB only ensurepip)
MIB = 1024

Observed = dict[str, Any]


@dataclass(frozen=True)
class Check:
    name: str
    summary: str
    mode: str  # CHILD or TREE: where the limit sits
    needs: tuple[str, ...]  # capabilities, see NEEDS
    expect: Expect
    observe: Callable[[scenarios.Context], Observed]


@dataclass(frozen=True)
class CheckRun:
    check: Check
    observed: Observed
    verdict: Verdict | None  # None: skipped
    skipped: str | None = None  # the missing capability
    seconds: float = 0.0

    @property
    def status(self) -> str:
        if self.verdict is None:
            return "SKIP"
        return "PASS" if self.verdict.passed else "FAIL"

    @property
    def label(self) -> str:
        """PASS, or PASS with the case that came when the check declares a set."""
        verdict = self.verdict
        if verdict is not None and verdict.case is not None and not verdict.expect.exact:
            return f"PASS ({verdict.case.name})"
        return self.status


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


# ---- whole tree: the hook itself under the limit ----


def _hook(ctx: scenarios.Context, state: Path, limit: limits.Limit, *extra: str) -> Observed:
    """One ``sdkboot hook`` session started under ``limit`` (tree mode): the protocol's facts,
    the outcome in words, and how many of its descendants were alive after it exited."""
    argv = [ctx.python, "-m", "sdkboot", "hook", "--state-dir", str(state), "--python",
            ctx.python, "--no-index", "--find-links", str(ctx.wheelhouse), "--timeout",
            str(int(ctx.timeout)), *extra]
    env = scenarios.run_env({"PYTHONPATH": scenarios.sdkboot_root()})
    run = limits.run(argv, limit, timeout=ctx.timeout * 4, env=env, mark=survivors.new_mark())
    output = sdkout.HookOutput.read(run.stdout)
    metrics = output.metrics
    facts: Observed = {"exit": run.rc, "lines": output.lines, "first_async": output.first_async,
                       "metrics_lines": output.metrics_lines, "left_alive": len(run.survivors),
                       "outcome": sdkout.outcome_name(metrics), "err": sdkout.err_name(metrics),
                       "spawns": metrics.get("sdk_bootstrap_spawns", 0)}
    if "sdk_has_pip" in metrics:  # absent when not probed, or when the probe proved nothing
        facts["has_pip"] = metrics["sdk_has_pip"]
    if "sdk_bootstrap_rc" in metrics:
        facts["rc"] = metrics["sdk_bootstrap_rc"]
    if run.stderr.strip():
        facts["stderr_tail"] = run.stderr.strip().splitlines()[-1][:200]
    return facts


def _twice(make: Callable[[], limits.Limit], *extra: str) -> Callable[[scenarios.Context], Observed]:
    """Two hook sessions under the same limit, one state dir: the first, then what it left."""

    def observe(ctx: scenarios.Context) -> Observed:
        state = _fresh(ctx, "tree") / "state"
        first = _hook(ctx, state, make(), *extra)
        second = _hook(ctx, state, make(), *extra)
        then = {f"then_{key}": second[key] for key in ("exit", "lines", "outcome", "spawns")}
        left = first["left_alive"] + second["left_alive"]
        return {**first, **then, "left_alive": left}

    return observe


def _protocol(**more: object) -> dict[str, object]:
    """The host's contract, for the first session: async first, one metrics line, exit 0."""
    return {"exit": 0, "lines": 2, "first_async": True, "metrics_lines": 1, **more}


SETTLED = {"then_exit": 0, "then_lines": 2, "then_spawns": 0, "left_alive": 0}


def _starved(why: str) -> Expect:
    """Below every floor: the hook reports, spawns nothing next time, leaves nothing behind."""
    return one_of(
        why,
        Case("low memory, then cooling", {**_protocol(outcome="SKIP_LOW_MEMORY"), **SETTLED,
                                          "then_outcome": "SKIP_COOLDOWN"}),
        Case("low memory twice", {**_protocol(outcome="SKIP_LOW_MEMORY"), **SETTLED,
                                  "then_outcome": "SKIP_LOW_MEMORY"}),
    )


def _out_of_memory(why: str) -> Expect:
    """Preflight off: the build fails for memory, classified so, and the retry cools down."""
    return exact({**_protocol(outcome="BUILD_FAILED", err="out_of_memory", has_pip=ABSENT, rc=ABSENT),
                  **SETTLED, "then_outcome": "SKIP_COOLDOWN"}, why)


def _out_of_memory_or_abort(why: str) -> Expect:
    """Preflight off, the verification import starved: MemoryError (or C code failing without it),
    or a Rust extension that aborts on its failed allocation. The contract lets the signal win
    (signal_killed:-6, the memory text in the event log); both cool down, neither says pip is absent."""
    cooled = {**SETTLED, "then_outcome": "SKIP_COOLDOWN"}
    return one_of(
        why,
        Case("out of memory", {**_protocol(outcome="BUILD_FAILED", err="out_of_memory", has_pip=ABSENT,
                                           rc=ABSENT), **cooled}),
        Case("aborted by a Rust allocation failure", {**_protocol(outcome="BUILD_FAILED", err="signal_killed",
                                                                  has_pip=ABSENT, rc=-6), **cooled}),
    )


def _as(mib: int) -> Callable[[], limits.Limit]:
    return lambda: limits.rlimit_as(mib * MIB)


def _cgroup(mib: int) -> Callable[[], limits.Limit]:
    return lambda: limits.Cgroup(mib * MIB)


TREE_NEEDS = ("linux", "wheelhouse", "sdkboot")


CHECKS = (
    Check("rlimit-segv", f"python -m venv under RLIMIT_AS {SEGV_KIB} KiB", CHILD, ("linux",),
          exact({"rc": -11, "stdout": "E", "stderr": "E"},
                "5000 KiB: exec fails past the point of no return at any limit up to 7332 KiB"),
          _rlimit_segv),
    Check("cgroup-oom", f"pip install --target under a {PIP_OOM_KIB // 1024} MiB cgroup", CHILD,
          ("cgroup", "wheelhouse"),
          exact({"rc": -9, "stdout": "E", "stderr": "E", "oom_killed": True},
                "24 MiB: mid-band (10.25-40 MiB: pip killed before it prints); pip is alone in "
                "the cgroup, so it is the victim"), _cgroup_oom),
    Check("fix-classifies-segv", "sdkboot ensure, build interpreter under RLIMIT_AS", CHILD,
          ("linux", "wheelhouse", "sdkboot"),
          exact({"outcome": "BUILD_FAILED", "err_kind": "signal_killed:-11",
                 "sdk_bootstrap_rc": -11, "cooldown_armed": True, "then": "SKIP_COOLDOWN",
                 "then_subprocesses": 0}, "5000 KiB on the build interpreter, as rlimit-segv"),
          _fix_segv),
    Check("fix-classifies-oom",
          f"sdkboot ensure, build steps in a {SDKBOOT_OOM_KIB // 1024} MiB cgroup", CHILD,
          ("cgroup", "wheelhouse", "sdkboot"),
          exact({"outcome": "BUILD_FAILED", "err_kind": "signal_killed:-9",
                 "sdk_bootstrap_rc": -9, "cooldown_armed": True, "then": "SKIP_COOLDOWN",
                 "then_subprocesses": 0, "oom_killed": True},
                "10 MiB: the first build step (venv) cannot start its work inside it; it is "
                "the only process in the cgroup, so the only victim"), _fix_oom),
    Check("fix-recovers", "same state, limit lifted, cooldown (1 s) expired", CHILD,
          ("linux", "wheelhouse", "sdkboot"),
          exact({"armed_by": "signal_killed:-11", "still_cooling": "SKIP_COOLDOWN",
                 "after_cooldown": "BUILT", "again": "NOOP_VENV", "again_subprocesses": 0},
                "a kill at 5000 KiB, then no limit; the 1 s window is past after a 1.5 s sleep"),
          _fix_recovers),
    Check("tree-as-18MiB", "sdkboot hook itself under RLIMIT_AS 18 MiB, twice", TREE,
          TREE_NEEDS, _starved("18 MiB: below every strategy's floor, above the interpreter's "
                               "start floor"), _twice(_as(18))),
    Check("tree-as-30MiB", "sdkboot hook itself under RLIMIT_AS 30 MiB, twice", TREE,
          TREE_NEEDS, _starved("30 MiB: below every strategy's floor"), _twice(_as(30))),
    Check("tree-cgroup-24MiB", "sdkboot hook placed in a 24 MiB cgroup before exec, twice", TREE,
          ("cgroup", *TREE_NEEDS), _starved("24 MiB: below every strategy's floor"),
          _twice(_cgroup(24))),
    Check("tree-as-40MiB-no-preflight", "sdkboot hook under RLIMIT_AS 40 MiB, --no-preflight",
          TREE, TREE_NEEDS, _out_of_memory_or_abort("40 MiB: the lean build installs; its verification import"
                                                    " starves (MemoryError, SystemError or a Rust abort, at random)"),
          _twice(_as(40), "--no-preflight")),
    Check("tree-as-70MiB-no-preflight", "sdkboot hook under RLIMIT_AS 70 MiB, --no-preflight",
          TREE, TREE_NEEDS, _out_of_memory("70 MiB: the install fits, the verification import "
                                           "cannot map its shared objects"),
          _twice(_as(70), "--no-preflight")),
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


def run_check(check: Check, ctx: scenarios.Context) -> CheckRun:
    started = time.monotonic()
    try:
        for need in check.needs:
            NEEDS[need](ctx)
        observed = check.observe(ctx)
    except Unsupported as exc:
        return CheckRun(check, {}, None, skipped=exc.reason)
    except scenarios.ScenarioError as exc:
        observed = {"error": str(exc)}
    return CheckRun(check, observed, judge(check.expect, observed), None,
                    time.monotonic() - started)


def table(runs: list[CheckRun]) -> str:
    rows = [[r.check.name, r.check.mode, r.check.expect.form, describe_expect(r.check.expect),
             r.skipped or (r.verdict.signature if r.verdict else ""), r.label] for r in runs]
    return report.markdown_table(["check", "mode", "form", "expected", "observed", "verdict"],
                                 rows)


def to_json(runs: list[CheckRun]) -> list[dict[str, Any]]:
    return [{"check": r.check.name, "summary": r.check.summary, "mode": r.check.mode,
             "expect": expect_json(r.check.expect), "observed": r.observed,
             "skipped": r.skipped, "verdict": r.status, "seconds": round(r.seconds, 2),
             **(verdict_json(r.verdict) if r.verdict else {})}
            for r in runs]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate", help="check each canonical repro end to end",
        description="Child-only checks by default (sdkboot unlimited, its build steps limited); "
                    "--tree runs the whole-tree checks (the hook itself under the limit).")
    parser.add_argument("--only", nargs="+", choices=[c.name for c in CHECKS], metavar="CHECK",
                        help=f"run just these checks: {', '.join(c.name for c in CHECKS)}")
    parser.add_argument("--tree", action="store_true",
                        help="the whole-tree checks: sdkboot hook itself starts under the limit")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    repeat.add_argument(parser)
    options.add_context_arguments(parser)
    parser.set_defaults(handler=_main)


def exit_code(runs: list[CheckRun]) -> int:
    """1 on any mismatch; 3 when something could not be checked here; else 0."""
    statuses = {r.status for r in runs}
    return 1 if "FAIL" in statuses else 3 if "SKIP" in statuses else 0


def chosen(only: list[str] | None, tree: bool) -> list[Check]:
    """The checks of one mode; --only may name checks of that mode only."""
    mode = TREE if tree else CHILD
    wrong = [c.name for c in CHECKS if only and c.name in only and c.mode != mode]
    if wrong:
        hint = "drop --tree" if tree else "add --tree"
        raise UsageError(f"{', '.join(wrong)}: not a {mode} check ({hint})")
    return [c for c in CHECKS if c.mode == mode and (not only or c.name in only)]


def _main(args: argparse.Namespace) -> int:
    checks = chosen(args.only, args.tree)
    progress = report.Progress()
    with tempfile.TemporaryDirectory(prefix="repro-validate-") as scratch:
        ctx = options.context(args, Path(scratch), needs_wheelhouse=False)
        try:
            if args.repeat is not None:
                tallies = _repeat(checks, ctx, args.repeat, progress)
            else:
                runs = []
                for check in checks:
                    progress.update(f"validate: {check.name}")
                    runs.append(run_check(check, ctx))
        finally:
            progress.done()
    if args.repeat is not None:
        print(json.dumps(repeat.to_json(tallies), indent=2) if args.json
              else f"{repeat.table(tallies)}\n{repeat.summary(tallies)}")
        return tallies.exit_code
    print(json.dumps(to_json(runs), indent=2) if args.json else table(runs))
    return exit_code(runs)


def _repeat(checks: list[Check], ctx: scenarios.Context, times: int,
            progress: report.Progress) -> repeat.Tallies:
    tallies = repeat.Tallies(repeat=times)

    def one_round(round_: int) -> None:
        for check in checks:
            progress.update(repeat.progress_text("validate", round_, times, (check.name,), tallies))
            run = run_check(check, ctx)
            if run.verdict is None:  # a missing capability is not a signature
                raise Unsupported(f"{check.name}: {run.skipped}")
            tallies.add("", check.name, check.mode, run.verdict, run.seconds)

    return repeat.run_rounds(tallies, one_round)
