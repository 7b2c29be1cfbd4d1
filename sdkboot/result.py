"""``Result`` and the contract's metrics object.

Host pipelines keep only bools and finite numbers, and at most 10 keys, so the
metrics hold numbers only; the strings go to the event log.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .codes import ErrKind, Outcome, Phase, Strategy

if TYPE_CHECKING:  # the classifier (re, hashlib) is only needed when something failed
    from .classify import Failure

MAX_METRIC_KEYS = 10
Metric = Union[int, bool]

# Exit codes of the CLI, by outcome family.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SKIPPED = 0, 1, 2, 3


def hook_py() -> int:
    return sys.version_info[0] * 100 + sys.version_info[1]


def _present(key: str, value: Metric | None, outcome: Outcome) -> bool:
    # Zero and absent are omitted; a probed bool is kept even when False, and so is
    # sdk_alt_py=0 on HOOK_PY_INCOMPATIBLE, where it means "no other interpreter found".
    if value is None:
        return False
    if isinstance(value, bool) or value != 0:
        return True
    return key == "sdk_alt_py" and outcome is Outcome.HOOK_PY_INCOMPATIBLE


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    phase: Phase = Phase.UNSET
    failure: Failure | None = None
    rc: int | None = None
    strategy: Strategy = Strategy.NONE
    env: str | None = None
    duration: float = 0.0
    subprocesses: int = 0
    has_pip: bool | None = None
    message: str = ""
    fallback_reason: str | None = None
    durations: dict[str, float] = field(default_factory=dict)
    stderr_tail: str = ""
    # major*100+minor of the best other interpreter found (0: none); None when not looked for.
    alt_py: int | None = None
    # The tightest memory limit the preflight saw, in MiB; None when nothing limits memory.
    mem_limit_mib: int | None = None
    # Each limit the preflight saw, in words (event log only).
    mem_limits: tuple[str, ...] = ()
    # "label: reason" for each strategy that could not run here (event log only).
    skipped: tuple[str, ...] = ()
    # The interpreter that built (or holds) the env: ``sdkboot run`` execs it or the env's own.
    python: str | None = None

    @property
    def err_kind(self) -> str | None:
        """The contract's string form, e.g. ``signal_killed:-9``; None on success."""
        return self.failure.text if self.failure else None

    @property
    def ok(self) -> bool:
        return self.outcome in (
            Outcome.NOOP_SYSTEM,
            Outcome.NOOP_VENV,
            Outcome.NOOP_TARGET,
            Outcome.BUILT,
            Outcome.BUILT_TARGET,
        )

    @property
    def exit_code(self) -> int:
        if self.ok:
            return EXIT_OK
        return EXIT_FAILED if self.outcome is Outcome.BUILD_FAILED else EXIT_SKIPPED

    def _ranked_metrics(self) -> list[tuple[str, Metric | None]]:
        """Every candidate key in the contract's priority order: the 10-key cap cuts from the end."""
        fail = self.failure
        return [
            ("sdk_bootstrap", int(self.outcome)),
            ("sdk_bootstrap_phase", int(self.phase)),
            ("sdk_bootstrap_err", int(fail.kind) if fail else int(ErrKind.NONE)),
            ("sdk_bootstrap_rc", fail.kill_rc if fail else None),
            ("sdk_bootstrap_exc", int(fail.exc_type) if fail and fail.exc_type else None),
            ("sdk_bootstrap_errno", fail.errno if fail else None),
            ("sdk_bootstrap_stderr_sig", fail.stderr_sig if fail else None),
            ("sdk_bootstrap_ms", round(self.duration * 1000)),
            ("sdk_has_pip", self.has_pip),
            ("sdk_hook_py", hook_py()),
            ("sdk_alt_py", self.alt_py),
            ("sdk_mem_limit_mib", self.mem_limit_mib),
            ("sdk_bootstrap_strategy", int(self.strategy)),
            ("sdk_bootstrap_spawns", self.subprocesses),
        ]

    def metrics(self) -> dict[str, Metric]:
        kept = [(key, value) for key, value in self._ranked_metrics() if _present(key, value, self.outcome)]
        return {key: value for key, value in kept[:MAX_METRIC_KEYS] if value is not None}

    def to_json(self) -> dict[str, object]:
        """The CLI's ``--json`` object."""
        return {
            "outcome": self.outcome.name,
            "outcome_code": int(self.outcome),
            "phase": self.phase.label if self.phase else None,
            "err_kind": self.err_kind,
            "rc": self.rc,
            "strategy": self.strategy.label if self.strategy else None,
            "env": self.env,
            "python": self.python,
            "duration_ms": round(self.duration * 1000),
            "subprocesses": self.subprocesses,
            "message": self.message,
            "metrics": self.metrics(),
        }
