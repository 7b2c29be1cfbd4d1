"""What every strategy shares: the Protocol, the verified-build record and the sealed verify.

Nothing here imports the build machinery (subprocess, threads, the classifier) at module
level: the no-op path reads the registry's facts and must stay cheap.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..codes import ErrKind, Outcome, Phase, Strategy
from ..session import Session, StepFailed
from ..spec import Spec

if TYPE_CHECKING:
    from ..runner import Completed

PIP_FLAGS = ("--disable-pip-version-check", "--prefer-binary", "--no-cache-dir")

# Printed by the verification child: where the module and the env's purelib are.
REPORT = (
    "import json, sys, sysconfig\n"
    "m = __import__({name!r})\n"
    "f = getattr(m, '__file__', None) or list(getattr(m, '__path__', []))[0]\n"
    "print(json.dumps({{'file': f, 'purelib': sysconfig.get_paths()['purelib'],"
    " 'version': '%d.%d.%d' % sys.version_info[:3]}}))\n"
)


@dataclass(frozen=True)
class Built:
    """What a verified build reports: the dir for sys.path and the paths to stat."""

    site: str
    version: str
    paths: Sequence[str]


class Unavailable(Exception):
    """This strategy cannot run here (a tool is missing, the closure needs a build step...).

    Raised before anything irreversible; the build moves on to the next strategy and the
    reason goes to the event log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BuildStrategy(Protocol):
    """A strategy installs the requirements into ``stage`` and verifies the import."""

    label: str  # the install-state's and event log's name; also the floors file's key
    code: Strategy  # metric sdk_bootstrap_strategy
    built: Outcome  # the outcome of a build by this strategy...
    noop: Outcome  # ...and of a later session that finds it healthy
    needs: str  # what it needs, in words (doctor, --help)
    modules: tuple[str, ...]  # what it needs of the build interpreter, by module (doctor's verdict)
    where: str  # how the message names what it built ("the new venv /path")
    # True: a flat dir put on sys.path, run by the build interpreter (-S, PRELUDE); False: a venv
    # with its own interpreter (`sdkboot run` and `status --deep` use that).
    flat: bool
    passes_on: frozenset[ErrKind]  # failures after which the next strategy may still succeed

    def build(self, session: Session, stage: str) -> Built: ...


def venv_python(env: str) -> str:
    if sys.platform == "win32":
        return os.path.join(env, "Scripts", "python.exe")
    return os.path.join(env, "bin", "python")


def pip_install(spec: Spec) -> list[str]:
    return ["-m", "pip", "install", *PIP_FLAGS, *spec.index_options(), *spec.pip_args]


def verify(session: Session, phase: Phase, argv: Sequence[str], extra: Sequence[str]) -> Built:
    """Run the verification child and parse its report line."""
    return parse_report(phase, session.step(phase, argv, "verifying the import"), extra)


def parse_report(phase: Phase, done: Completed, extra: Sequence[str]) -> Built:
    """The last stdout line of a verification child, as a Built; StepFailed if garbled."""
    from ..classify import from_exception

    try:
        report = json.loads(done.out.decode("utf-8", errors="replace").strip().splitlines()[-1])
        return Built(report["purelib"], report["version"], [report["file"], *extra])
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise StepFailed(phase, done, from_exception(exc)) from None


def pip_probe(session: Session) -> Completed:
    """Can the build interpreter run ``-m pip``? Decides the ``--target`` fallback."""
    return session.run(Phase.VENV, [session.spec.python, "-m", "pip", "--version"], "probing for pip")
