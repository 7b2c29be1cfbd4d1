"""Building under the lock: stage, verify, publish; or classify, clean up and cool down.

Nothing here touches the published env until a new build has passed its
verification import, so a failed, timed-out or killed build loses nothing.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Optional

from . import cooldown, state
from .classify import classify, collapse
from .codes import ErrKind, Outcome, Phase, Strategy
from .events import tail
from .layout import Layout
from .messages import advice, no_pip_advice
from .result import Result
from .runner import Completed
from .session import Session, StepFailed, succeeded
from .strategies import BuildStrategy, Built, TargetStrategy, VenvStrategy, pip_probe

_BUILT = {Strategy.VENV: Outcome.BUILT, Strategy.TARGET: Outcome.BUILT_TARGET}


def prune(layout: Layout, keep: Optional[str]) -> None:
    """Remove every build dir but ``keep``: leftovers of killed or superseded builds."""
    try:
        names = os.listdir(layout.builds)
    except OSError:
        return
    for name in names:
        path = os.path.join(layout.builds, name)
        if path != keep:
            shutil.rmtree(path, ignore_errors=True)


def _publish(layout: Layout, fp: state.Fingerprint, code: Strategy, stage: str, built: Built) -> None:
    state.publish(layout, state.new_state(code.label, stage, built.site, built.version, built.paths, fp))
    cooldown.clear(layout)
    prune(layout, keep=stage)


def attempt(session: Session, layout: Layout, fp: state.Fingerprint, strategy: BuildStrategy) -> Result:
    """One strategy, start to finish. On StepFailed the stage is already removed."""
    stage = layout.new_build(strategy.code.label)
    os.makedirs(layout.builds, mode=0o700, exist_ok=True)
    try:
        built = strategy.build(session, stage)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _publish(layout, fp, strategy.code, stage, built)
    return Result(_BUILT[strategy.code], strategy=strategy.code, env=stage, message=f"built {stage}")


def failed(error: StepFailed, strategy: Strategy, message: str = "", **extra: object) -> Result:
    done, failure = error.done, error.failure
    return Result(
        Outcome.BUILD_FAILED, phase=error.phase, failure=failure, rc=done.rc, strategy=strategy,
        stderr_tail=tail(done.err) or tail(done.out), message=message or advice(failure),
        **extra,  # type: ignore[arg-type]
    )


def _no_pip(session: Session, first: StepFailed, probe: Completed) -> Result:
    """The probe failed. Only a genuine "No module named pip" earns the what-to-install advice:
    a probe killed by a memory limit is a signal kill (and cools down), not a missing package."""
    failure = classify(Phase.VENV, probe)
    if failure.kind is not ErrKind.NO_PIP:
        return failed(StepFailed(Phase.VENV, probe, failure), Strategy.VENV, has_pip=False)
    hint = no_pip_advice(collapse(first.done.out, first.done.err))
    return failed(first, Strategy.VENV, hint, has_pip=False)


def _fallback(session: Session, layout: Layout, fp: state.Fingerprint, first: StepFailed) -> Result:
    """ensurepip is missing: use ``pip --target`` if this interpreter has pip at all."""
    probe = pip_probe(session)
    if not succeeded(probe):
        return _no_pip(session, first, probe)
    reason = first.failure.text
    try:
        result = attempt(session, layout, fp, TargetStrategy())
    except StepFailed as error:
        return failed(error, Strategy.TARGET, has_pip=True, fallback_reason=reason)
    return dataclasses.replace(result, has_pip=True, fallback_reason=reason)


def build(session: Session, layout: Layout, fp: state.Fingerprint, now: float) -> Result:
    """Build with the venv strategy, falling back to ``--target`` only when ensurepip is missing."""
    try:
        result = attempt(session, layout, fp, VenvStrategy())
    except StepFailed as error:
        if error.failure.kind is not ErrKind.VENV_ENSUREPIP_FAIL:
            result = failed(error, Strategy.VENV)
        else:
            result = _fallback(session, layout, fp, error)
    failure = result.failure
    if failure is not None and failure.is_signal_kill:
        cooldown.arm(layout, now, failure.kill_rc, result.phase.label, fp)
    return result
