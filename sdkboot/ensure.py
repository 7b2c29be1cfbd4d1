"""``ensure()``: make the package importable, in the contract's order of decisions.

1. host too old → HOOK_PY_INCOMPATIBLE      5. no strategy's floor fits → SKIP_LOW_MEMORY
2. importable in the host → NOOP_SYSTEM      6. cooldown active → SKIP_COOLDOWN
3./4. healthy install-state → NOOP_*         7. lock held elsewhere → SKIP_SENTINEL
                                             8. otherwise build (re-checking under the lock)
Steps 2-5 spawn nothing; the no-op path reads one small file and stats a few paths, and the
memory preflight (5) runs only after it, before discovery, reading a few more.
Interpreter discovery (``consumer.builders``) runs only after them: to name the interpreter
a too-old host should use (1), and to pick the one that builds (for ``sdkboot run``). Its
probes are cached in the state dir, so 1 and 6 spawn nothing once the cache is warm.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

from . import consumer, cooldown, events, inuse, messages, ownership, safefs, state
from .codes import ErrKind, Outcome, Phase
from .handoff import HandOff, supported
from .layout import Layout
from .lock import BuildLock, holder
from .result import Result
from .spec import Spec
from .version import VERSION

if TYPE_CHECKING:
    from .preflight import Misses, Seen
    from .progress import ProgressSink
    from .session import Session

# The build machinery (subprocess, threads, the classifier) is imported where a build or an error
# needs it, never on the no-op path: a host pays for `import sdkboot` on every session.

Clock = Callable[[], float]


def _importable(name: str, root: str) -> bool:
    """Importable in the host from somewhere other than the state dir ``root``: an env that
    activate() put on sys.path is NOOP_VENV/NOOP_TARGET, not the system's."""
    # find_spec locates without importing: the host must not pay for a heavy import.
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if found is None:
        return False
    places = [found.origin] if found.origin else list(found.submodule_search_locations or [])
    inside = os.path.realpath(root) + os.sep
    return not places or not all(os.path.realpath(place).startswith(inside) for place in places)


def _too_old(spec: Spec, session: Session) -> Result | None:
    """In process, a host older than ``min_python`` can never import the package (run mode can)."""
    if spec.for_run or sys.version_info[:2] >= tuple(spec.min_python):
        return None
    from .consumer import discover, too_old

    return too_old(spec, discover(spec, session))


def _in_host(spec: Spec) -> Result | None:
    if sys.version_info[:2] < tuple(spec.min_python) or not _importable(spec.import_name, spec.root):
        return None
    return Result(Outcome.NOOP_SYSTEM, python=sys.executable, message=messages.in_host(spec))


def _healthy(spec: Spec, layout: Layout) -> Result | None:
    installs = state.load(layout)
    current, reason = consumer.check_installs(spec, installs)
    if current is None or reason is not None:
        return None
    from .strategies.all_strategies import STRATEGIES

    inuse.touch(current.env)  # its last use: pruning by age reads it
    if installs.retired:
        _collect(layout)
    strategy = STRATEGIES[current.strategy]
    message = messages.healthy(current.strategy, current.env)
    builder = consumer.builder_of(current) or None
    other = builder is not None and not consumer.is_host(builder)
    alt = consumer.Builder(builder, current.python_version, other).number if builder and other else None
    return Result(strategy.noop, strategy=strategy.code, env=current.env, message=message, python=builder, alt_py=alt)


def _collect(layout: Layout) -> None:
    """Remove retired builds left by a run killed between publish and sweep (no build runs then).

    Only when the install-state lists some, so the usual no-op pays nothing for it.
    """
    from .retention import sweep

    try:
        lock = BuildLock(layout.lock_file)
        if not lock.acquire():
            return  # a build runs: it sweeps when it publishes
        with lock:
            sweep(layout, listing=False)
    except OSError:
        pass  # a read-only state dir: the garbage waits, the env still works


def noop(spec: Spec) -> Result | None:
    """The no-op answer (NOOP_SYSTEM or a healthy env), or None: reads a file, spawns nothing."""
    return _in_host(spec) or _healthy(spec, Layout(spec.root))


class Clocks:
    """The wall clock, and the boot clock a cooldown is measured by (a wall clock may jump).
    A wall clock given by the caller replaces both: it alone defines time then."""

    def __init__(self, wall: Clock | None = None) -> None:
        self._wall = wall

    def __call__(self) -> float:
        return self._wall() if self._wall is not None else time.time()

    def boot(self) -> cooldown.BootTime | None:
        return None if self._wall is not None else cooldown.boot_time()


def _cooling(spec: Spec, layout: Layout, fp: state.Fingerprint, clock: Clocks) -> Result | None:
    left = cooldown.remaining(layout, clock(), spec.cooldown_seconds, fp, clock.boot())
    if left <= 0:
        return None
    return Result(Outcome.SKIP_COOLDOWN, message=messages.cooling(spec, left))


def _refused(reason: str) -> Result:
    """The state dir may not be used: ``perm_denied`` in phase pre, never a no-op or a build."""
    from .classify import Failure

    failure = Failure(ErrKind.PERM_DENIED, ErrKind.PERM_DENIED.label, tail=reason)
    return Result(Outcome.BUILD_FAILED, phase=Phase.PRE, failure=failure, message=f"refusing the state dir: {reason}")


def _unsafe(root: str) -> Result | None:
    reason = ownership.dir_problem(root)
    return _refused(reason) if reason else None


def _invalid(spec: Spec) -> Result | None:
    """A requirement that is not PEP 508 (say, an option for pip) stops before any spawn."""
    from .requirements import problem

    reason = next(filter(None, map(problem, spec.requirements)), None)
    if reason is None:
        return None
    from .classify import from_exception

    return Result(Outcome.BUILD_FAILED, phase=Phase.PRE, failure=from_exception(ValueError(reason)), message=reason)


def _take_lock(layout: Layout) -> BuildLock | None:
    """The lock, or None when another live process holds it. OSError propagates (phase pre)."""
    safefs.make_private_dirs(layout.root)  # private: it will go on sys.path
    safefs.claim(layout.root)  # only a marked dir is one where sdkboot may delete
    lock = BuildLock(layout.lock_file)
    return lock if lock.acquire() else None


def _failed(phase: Phase, exc: BaseException) -> Result:
    from .classify import from_exception

    return Result(Outcome.BUILD_FAILED, phase=phase, failure=from_exception(exc))


def _explained(spec: Spec, result: Result) -> Result:
    """A failure's message is written from the whole result, once it is known."""
    return messages.filled(result, spec, Layout(spec.root).events_file)


def _locked_build(spec: Spec, session: Session, layout: Layout, plan: list[consumer.Builder], clock: Clocks) -> Result:
    from .retention import sweep

    foreign = safefs.foreign(layout.root)
    if foreign:
        return _refused(f"{foreign}; pass an empty or new --state-dir")
    try:
        lock = _take_lock(layout)
    except OSError as exc:
        return _failed(Phase.PRE, exc)
    if lock is None:
        return Result(Outcome.SKIP_SENTINEL, message=messages.busy(holder(layout.lock_file)))
    with lock:
        # Another process may have just finished (or been killed) while we waited.
        fp = state.fingerprint(dataclasses.replace(spec, python=plan[0].python))
        settled = _healthy(spec, layout) or _cooling(spec, layout, fp, clock)
        if settled is not None:
            return settled
        try:
            ownership.private_dir(layout.builds)  # never a link to elsewhere, never writable by others
        except OSError as exc:
            return _failed(Phase.PRE, exc)
        why = _why_rebuild(spec, state.load(layout), fp)
        sweep(layout)
        try:
            return _noting(_build_each(spec, session, layout, plan, clock), why)
        except HandOff as handoff:
            handoff.lock_fd = lock.detach()  # held on through the exec until the finisher exits
            raise


def _rejected(result: Result) -> bool:
    return result.failure is not None and result.failure.kind is ErrKind.REQUIRES_PYTHON


def credit(builder: consumer.Builder, rejected: list[str]) -> dict[str, Any]:
    """What a successful build says about its interpreter (also carried through a hook's hand-off)."""
    note = f" with Python {builder.version or '?'} ({builder.python})" if builder.other else ""
    if rejected:
        note += f" (pip rejected Python {', '.join(rejected)} for Requires-Python)"
    return {"python": builder.python, "alt_py": builder.number if builder.other else None, "note": note}


def credited(result: Result, given: dict[str, Any]) -> Result:
    """``result`` with ``credit()``'s facts: the interpreter always, ``sdk_alt_py`` and the note on success."""
    if not result.ok:
        return dataclasses.replace(result, python=given.get("python"))
    return dataclasses.replace(
        result,
        python=given.get("python"),
        alt_py=given.get("alt_py"),
        message=result.message + str(given.get("note", "")),
    )


def _credited(spec: Spec, result: Result, builder: consumer.Builder, rejected: list[str]) -> Result:
    """Say which interpreter built; pip's Requires-Python refusal names both versions."""
    if _rejected(result):
        result = dataclasses.replace(result, message=messages.rejected_pythons(result, spec, rejected))
        return credited(result, credit(builder, []))
    return credited(result, credit(builder, rejected))


def _build_each(spec: Spec, session: Session, layout: Layout, plan: list[consumer.Builder], clock: Clocks) -> Result:
    """Build with each interpreter in turn while pip rejects them for Requires-Python."""
    from .build import build

    rejected: list[str] = []
    for builder in plan:
        session.spec = dataclasses.replace(spec, python=builder.python)
        try:
            built = build(session, layout, state.fingerprint(session.spec), clock(), clock.boot())
        except HandOff as handoff:  # the finisher reports the build: it must credit the interpreter too
            handoff.context["credit"] = credit(builder, rejected)
            raise
        result = _explained(session.spec, built)
        if _rejected(result):
            rejected.append(builder.version or builder.python)
        if not _rejected(result) or builder is plan[-1]:
            return _credited(session.spec, result, builder, rejected)
    raise AssertionError("a build plan is never empty")


def _why_rebuild(spec: Spec, installs: state.Installs, fp: state.Fingerprint) -> str | None:
    """Why the build about to run replaces one (damage, an upgraded interpreter); None for a first build."""
    current, reason = consumer.check_installs(spec, installs)
    if current is not None:
        return reason
    if installs.reason and not installs.reason.endswith(state.ABSENT):
        return installs.reason  # corrupt, or from another layout
    prior = state.superseded(installs, fp)
    return state.replaced_why(prior[0], fp, spec.root) if prior else None


def _noting(result: Result, why: str | None) -> Result:
    """Say why a rebuild happened (python upgraded, a distribution deleted...): users ask."""
    if not why:
        return result
    return dataclasses.replace(result, message=f"{result.message} (rebuilt: {why})")


def _decide(spec: Spec, session: Session, clock: Clocks) -> Result:
    early = _too_old(spec, session) or _in_host(spec)
    if early is not None:
        return early
    layout = Layout(spec.root)
    # The health check applies the ownership rule too (a healthy env is one activate() accepts);
    # only when it fails is the state dir's own verdict needed, to refuse rather than rebuild.
    settled = _healthy(spec, layout) or _unsafe(spec.root) or _invalid(spec)
    if settled is not None:
        return settled
    seen, short = _preflight(spec)
    if seen is not None and short is not None:
        return _low_memory(spec, layout, clock, seen, short)
    plan = consumer.builders(spec, session)  # discovery happens here, and only here
    if isinstance(plan, Result):
        return plan
    fp = state.fingerprint(dataclasses.replace(spec, python=plan[0].python))
    result = _cooling(spec, layout, fp, clock) or _locked_build(spec, session, layout, plan, clock)
    if seen is None or result.ok or result.mem_limit_mib is not None:
        return result
    # A failure under a limit says which (dashboards split memory failures by it).
    return dataclasses.replace(result, mem_limit_mib=seen.limit_mib, mem_limits=seen.describe())


def _preflight(spec: Spec) -> tuple[Seen | None, Misses | None]:
    """The limits seen, and why no strategy fits them (None: one may); (None, None) when off."""
    if not spec.preflight:
        return None, None
    from . import preflight
    from .build import order

    return preflight.check(spec, [strategy.label for strategy in order(spec)])


def _low_memory(spec: Spec, layout: Layout, clock: Clocks, seen: Seen, short: Misses) -> Result:
    """SKIP_LOW_MEMORY, nothing spawned; the cooldown is armed (never renewed: the window runs from
    the first such session). A build that another process finished meanwhile wins."""
    limit = seen.limit_mib or 0
    skipped = Result(
        Outcome.SKIP_LOW_MEMORY,
        message=messages.low_memory(spec, limit, short),
        mem_limit_mib=seen.limit_mib,
        mem_limits=seen.describe(),
    )
    if safefs.foreign(layout.root):
        return skipped
    fp = state.fingerprint(spec)
    try:
        lock = _take_lock(layout)
        if lock is None:
            return skipped  # a build runs elsewhere: it arms or clears the cooldown itself
        with lock:
            healthy = _healthy(spec, layout)
            if healthy is not None:
                return healthy
            if cooldown.remaining(layout, clock(), spec.cooldown_seconds, fp, clock.boot()) <= 0:
                cooldown.arm(layout, clock(), None, Phase.PRE.label, fp, clock.boot())
    except OSError:
        pass  # a read-only state dir: nothing to record, the skip itself still holds
    return skipped


def event(result: Result, now: float) -> dict[str, Any]:
    """The event-log record: the strings that metrics cannot carry."""
    failure = result.failure
    return {
        "time": now,
        "outcome": result.outcome.name,
        "outcome_code": int(result.outcome),
        "phase": result.phase.label if result.phase else None,
        "err": failure.kind.label if failure else None,
        "err_kind": result.err_kind,
        "rc": result.rc,
        "strategy": result.strategy.label if result.strategy else None,
        "env": result.env,
        "build_python": result.python,
        "duration_ms": round(result.duration * 1000),
        "durations": {k: round(v, 3) for k, v in result.durations.items()},
        "subprocesses": result.subprocesses,
        "has_pip": result.has_pip,
        "fallback_reason": result.fallback_reason,
        "skipped": list(result.skipped),
        "stderr_tail": result.stderr_tail,
        "mem_limit_mib": result.mem_limit_mib,
        "mem_limits": list(result.mem_limits),
        "message": result.message,
        "traceback": (failure.trace or None) if failure else None,
        "pid": os.getpid(),
        "sdkboot": VERSION,
        "python": "%d.%d.%d" % sys.version_info[:3],
    }


def _log(spec: Spec, result: Result, now: float) -> None:
    log_event(spec.root, result, now)


def log_event(root: str, result: Result, now: float) -> None:
    """Append ``result`` to the event log of the state dir ``root`` (created on this slow path)."""
    path = Layout(root).events_file
    record = event(result, now)
    if events.append(path, record):
        return
    # The state dir may not exist yet (nothing was ever built): create it only on this slow path,
    # and never inside a dir the ownership rule refuses.
    if ownership.dir_problem(root):
        return
    try:
        safefs.make_private_dirs(root)
    except OSError:
        return
    events.append(path, record)


def ensure(
    spec: Spec,
    *,
    clock: Clock | None = None,
    progress: ProgressSink | None = None,
    budget: float | None = None,
    handoff: bool = False,
) -> Result:
    """Make ``spec.import_name`` importable. Never raises (Ctrl-C aside), except as below.

    ``budget`` caps the whole call in seconds (each step's timeout shrinks to fit it). ``clock``
    replaces the wall clock (tests, replays); then no boot clock is used either.
    ``handoff``: a command that can exec (``sdkboot hook``) lets a build end by raising
    ``sdkboot.handoff.HandOff``; the caller must then ``exec_verifier`` it (see that module).
    """
    from .session import Session

    started = time.monotonic()
    session = Session(spec, progress, budget)
    session.handoff = handoff and supported()
    clocks = Clocks(clock)
    try:
        result = _decide(spec, session, clocks)
    except HandOff:
        raise
    except Exception as exc:  # the contract: an unexpected error is a result, never a crash
        result = _failed(Phase.MAIN, exc)
        _cool_main(spec, result, clocks)
    except BaseException as exc:  # Ctrl-C, SIGTERM: the steps are dead and the stage gone; say so
        _log(spec, _finished(_interrupted(spec, session, exc), session, started), clocks())
        raise
    result = _finished(_explained(spec, result), session, started)
    _log(spec, result, clocks())
    return result


def _cool_main(spec: Spec, result: Result, clock: Clocks) -> None:
    """Our own process ran out of memory (loading the build machinery, say): that cools down
    like a step's memory failure, or every session would fail the same way again."""
    if result.failure is None or not result.failure.arms_cooldown or safefs.foreign(spec.root):
        return
    try:
        safefs.make_private_dirs(spec.root)
        cooldown.arm(Layout(spec.root), clock(), None, Phase.MAIN.label, state.fingerprint(spec), clock.boot())
    except Exception:  # still out of memory, or a read-only dir: the failure stands
        pass


def _finished(result: Result, session: Session, started: float) -> Result:
    return dataclasses.replace(
        result, duration=time.monotonic() - started, subprocesses=session.spawned, durations=dict(session.durations)
    )


def _interrupted(spec: Spec, session: Session, exc: BaseException) -> Result:
    """The result of a call cut short by a signal (or a host's SystemExit); the Interrupted
    exception carries it, so that ``sdkboot hook`` can still answer with it."""
    from . import messages
    from .classify import Failure
    from .interrupts import Interrupted, signal_name, signum_of

    number = signum_of(exc)
    rc = -number if number else None
    failure = Failure(
        ErrKind.INTERRUPTED, f"interrupted:{signal_name(number) if number else type(exc).__name__}", kill_rc=rc
    )
    result = Result(Outcome.BUILD_FAILED, phase=session.current or Phase.PRE, failure=failure, rc=rc)
    result = messages.filled(result, spec, Layout(spec.root).events_file)
    if isinstance(exc, Interrupted):
        exc.result = result
    return result
