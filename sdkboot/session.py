"""One ``ensure()`` call's bookkeeping: every child it spawns goes through here."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .codes import Phase
from .spec import Spec

if TYPE_CHECKING:
    from .classify import Failure, Places
    from .progress import ProgressSink
    from .runner import Completed, LineSink, Tick


class StepFailed(Exception):
    """A step exited non-zero, timed out, or could not start."""

    def __init__(self, phase: Phase, done: Completed, failure: Failure) -> None:
        super().__init__(failure.text)
        self.phase, self.done, self.failure = phase, done, failure


def succeeded(done: Completed) -> bool:
    return done.rc == 0 and not done.timed_out and done.error is None


class Session:
    """Counts subprocesses, sums per-phase durations and feeds progress (``tick()`` too, if it has one)."""

    def __init__(self, spec: Spec, progress: ProgressSink | None = None, budget: float | None = None) -> None:
        self.spec = spec
        self.progress = progress
        self.deadline = None if budget is None else time.monotonic() + budget
        self.spawned = 0
        self.durations: dict[str, float] = {}
        # A pip probe's answer, once a strategy made one (metric sdk_has_pip); None: never probed.
        self.has_pip: bool | None = None
        # The phase of the step running now (or last): where an interruption is reported.
        self.current = Phase.UNSET
        # May the last step (the verification) be handed off to an exec'd verifier? (sdkboot.handoff)
        self.handoff = False
        self.started = time.time()

    def _on_line(self, phase: Phase) -> LineSink | None:
        sink = self.progress
        if sink is None:
            return None
        from .progress import pip_detail

        def forward(line: bytes) -> None:
            detail = pip_detail(line)
            if detail:
                sink(phase.label, detail)

        return forward

    def timeout(self) -> float:
        """The step limit, shortened so the whole call fits its budget (a host's async timeout)."""
        if self.deadline is None:
            return self.spec.step_timeout
        return max(0.01, min(self.spec.step_timeout, self.deadline - time.monotonic()))

    def _on_tick(self) -> Tick | None:
        # A progress object may redraw while a step is quiet (TerminalProgress does).
        tick = getattr(self.progress, "tick", None)
        return tick if callable(tick) else None

    def run(self, phase: Phase, argv: Sequence[str], what: str = "", timeout: float | None = None) -> Completed:
        """Run one child; ``timeout`` shortens the step limit (an interpreter probe is short)."""
        # Imported here: every ensure() makes a Session, but only a build spawns anything.
        from . import runner
        from .index import child_environ

        self.spawned += 1
        self.current = phase
        if self.progress is not None:
            self.progress(phase.label, what)
        # The index settings reach the child as options (spec.index): not a second time as variables.
        limit = self.timeout() if timeout is None else min(timeout, self.timeout())
        done = runner.run(
            argv,
            limit,
            env=child_environ(os.environ),
            on_line=self._on_line(phase),
            on_tick=self._on_tick(),
            own_group=not self.spec.share_process_group,
        )
        self.durations[phase.label] = self.durations.get(phase.label, 0.0) + done.seconds
        return done

    def step(self, phase: Phase, argv: Sequence[str], what: str = "", relaunched: bool = False) -> Completed:
        """Run ``argv``; raise StepFailed, already classified, unless it succeeded."""
        from .classify import classify

        done = self.run(phase, argv, what)
        if not succeeded(done):
            raise StepFailed(phase, done, classify(phase, done, relaunched, self.places()))
        return done

    def places(self) -> Places:
        """What differs between users in a failure's text (its ``stderr_sig`` must not)."""
        from .classify import user_places

        return user_places(self.spec.root, self.spec.python)
