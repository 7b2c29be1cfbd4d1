"""Start the consumer on the env's interpreter, replacing this process (``sdkboot run``).

``os.execv`` keeps the pid, stdin, signals and the exit code exactly the consumer's. A venv
env runs its own ``bin/python``; a ``--target`` env runs the interpreter that built it with
the target dir put first on ``sys.path`` the way activate() does. On Windows, where exec
is only an imitation, a child process runs and its exit code is returned.
"""

from __future__ import annotations

import os
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from .codes import Outcome, Strategy
from .result import Result
from .strategies.base import venv_python


@dataclass(frozen=True)
class Consumer:
    """What to run: a script path (``-- SCRIPT``) or a module (``-m MODULE``), and its arguments."""

    target: str
    module: bool
    args: Sequence[str] = ()

    def words(self) -> list[str]:
        return ["-m", self.target, *self.args] if self.module else [self.target, *self.args]


def _target_main() -> str:
    data = pkgutil.get_data("sdkboot", "_run_target.py")
    if data is None:
        raise RuntimeError("the --target entry is missing from this copy of sdkboot")
    return data.decode("utf-8")


def _flat(strategy: Strategy) -> bool:
    """A flat dir on sys.path (``target``), not a venv with an interpreter of its own."""
    from .strategies.all_strategies import STRATEGIES

    return strategy is not Strategy.NONE and STRATEGIES[strategy.label].flat


def argv_for(result: Result, consumer: Consumer) -> list[str]:
    """The command line that runs ``consumer`` where ``result`` says the package is importable."""
    if result.outcome is Outcome.NOOP_SYSTEM or result.env is None:
        return [sys.executable, *consumer.words()]
    if _flat(result.strategy):
        python = result.python or sys.executable
        mode = ["-m", consumer.target] if consumer.module else ["--", consumer.target]
        return [python, "-c", _target_main(), result.env, *mode, *consumer.args]
    return [venv_python(result.env), *consumer.words()]


def execute(argv: list[str]) -> int:
    """Replace this process with ``argv`` (POSIX); on Windows run it and return its exit code."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    if sys.platform == "win32":
        import subprocess

        return subprocess.call(argv)
    os.execv(argv[0], argv)
    raise AssertionError("os.execv returned")  # pragma: no cover - execv never returns
