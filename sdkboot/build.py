"""Building under the lock: stage, verify, publish; or classify, clean up and cool down.

Nothing here touches the published env until a new build has passed its
verification import, so a failed, timed-out or killed build loses nothing.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass, field

from . import cooldown, inuse, messages, ownership, retention, seal, state
from .codes import Outcome, Phase, Strategy
from .events import tail
from .handoff import HandOff, context_of
from .layout import Layout
from .result import Result
from .session import Session, StepFailed
from .spec import Spec
from .strategies.all_strategies import STRATEGIES
from .strategies.base import BuildStrategy, Built, Unavailable


def _publish(layout: Layout, fp: state.Fingerprint, code: Strategy, stage: str, built: Built) -> None:
    # The .pth files are recorded too: the health check then sees one made writable by others.
    paths = [*built.paths, *ownership.startup_files(built.site)]
    try:
        # The use-lock and the seal are written first: for --target builds they sit in the site dir,
        # whose stamp must be taken after the last write into it.
        inuse.create(stage)
        seal.write(stage, built.site)
        stamp = seal.stamp(built.site) or ()
        state.publish(layout, state.new_state(code.label, stage, built.site, built.version, paths, fp, stamp))
    except BaseException:
        # Not published (say, no space left for the state file): the stage is nobody's now.
        shutil.rmtree(stage, ignore_errors=True)
        raise
    cooldown.clear(layout)
    retention.sweep(layout, keep=stage)


def attempt(session: Session, layout: Layout, fp: state.Fingerprint, strategy: BuildStrategy) -> Result:
    """One strategy, start to finish. On StepFailed or Unavailable the stage is already removed."""
    stage = layout.new_build(strategy.code.label)
    os.makedirs(layout.builds, mode=0o700, exist_ok=True)
    # Retired before anything is written into it: if this process is killed, the next run removes it.
    state.retire(layout, stage)
    try:
        built = strategy.build(session, stage)
    except HandOff:
        raise  # the stage is the verifier's now
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _publish(layout, fp, strategy.code, stage, built)
    message = messages.built(session.spec, strategy.where, stage)
    return Result(strategy.built, strategy=strategy.code, env=stage, message=message)


def failed(error: StepFailed, strategy: Strategy, **extra: object) -> Result:
    """The failed result; its message is written by ``messages.explain`` from the whole result."""
    done, failure = error.done, error.failure
    return Result(
        Outcome.BUILD_FAILED,
        phase=error.phase,
        failure=failure,
        rc=done.rc,
        strategy=strategy,
        stderr_tail=tail(done.err) or tail(done.out),
        **extra,  # type: ignore[arg-type]
    )


@dataclass
class _Chain:
    """What the strategies tried so far left behind: the last failure and the skips."""

    last: tuple[StepFailed, Strategy] | None = None
    passed_on: StepFailed | None = None  # the failure that handed the build to a later strategy
    skipped: list[str] = field(default_factory=list)

    def extra(self, session: Session) -> dict[str, object]:
        # has_pip is only known where a strategy probed for pip (after venv_ensurepip_fail).
        reason = self.passed_on.failure.text if self.passed_on else None
        return {"skipped": tuple(self.skipped), "has_pip": session.has_pip, "fallback_reason": reason}


def _end(session: Session, chain: _Chain) -> Result:
    """Every strategy failed or was unavailable: report the last real failure."""
    if chain.last is None:
        reasons = "; ".join(chain.skipped) or "no strategy selected"
        return Result(
            Outcome.BUILD_FAILED,
            phase=Phase.PRE,
            message=f"no build strategy can run here: {reasons}",
            skipped=tuple(chain.skipped),
        )
    error, code = chain.last
    extra = chain.extra(session)
    if chain.passed_on is error:
        extra["fallback_reason"] = None  # nothing later ran: it is the failure itself
    return failed(error, code, **extra)  # explained from the whole result (messages.explain)


def order(spec: Spec) -> list[BuildStrategy]:
    """The strategies to try, in order: ``spec.strategies`` by label, else all registered."""
    return [STRATEGIES[name] for name in spec.strategies] if spec.strategies else list(STRATEGIES.values())


def _run_chain(session: Session, layout: Layout, fp: state.Fingerprint) -> Result:
    chain = _Chain()
    for strategy in order(session.spec):
        try:
            result = attempt(session, layout, fp, strategy)
            return dataclasses.replace(result, **chain.extra(session))  # type: ignore[arg-type]
        except HandOff as handoff:
            handoff.context = context_of(
                layout.root,
                strategy.label,
                fp,
                session.started,
                session.spawned,
                dict(session.durations),
                chain.skipped,
            )
            raise
        except Unavailable as skip:
            chain.skipped.append(f"{strategy.label}: {skip.reason}")
        except StepFailed as error:
            chain.last = (error, strategy.code)
            if error.failure.kind not in strategy.passes_on:
                break
            chain.passed_on = error
    return _end(session, chain)


def _cool_down(
    layout: Layout, result: Result, now: float, fp: state.Fingerprint, boot: cooldown.BootTime | None
) -> Result:
    """Arm the cooldown for a memory or signal death. A write that fails (a full disk) must not
    turn that failure into ``exc:OSError:28``: the result stays what it was, and says so."""
    failure = result.failure
    if failure is None or not failure.arms_cooldown:
        cooldown.release(layout)
        return result
    try:
        cooldown.arm(layout, now, failure.kill_rc, result.phase.label, fp, boot)
    except OSError as exc:
        return dataclasses.replace(result, message=f"{result.message} (cooldown not recorded: {exc})")
    return result


def build(
    session: Session, layout: Layout, fp: state.Fingerprint, now: float, boot: cooldown.BootTime | None = None
) -> Result:
    """Try each strategy in order; a memory or signal death arms the cooldown."""
    cooldown.reserve(layout)
    try:
        result = messages.filled(_run_chain(session, layout, fp), session.spec, layout.events_file)
    except BaseException:  # interrupted: not a reason to cool down
        cooldown.release(layout)
        raise
    return _cool_down(layout, result, now, fp, boot)
