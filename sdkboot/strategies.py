"""Build strategies, behind one small Protocol so more can be added.

- ``venv``: ``python -m venv STAGE``, then the env's own pip installs into it.
- ``target``: the host's pip installs into a flat ``--target`` dir; the fallback
  for interpreters whose venv cannot bootstrap pip (no ensurepip).
Both finish with a sealed verification import that also reports where the module
landed, so the install-state can list the paths the no-op check will stat.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import List, Protocol, Sequence

from .codes import Phase, Strategy
from .classify import from_exception
from .runner import Completed
from .session import Session, StepFailed
from .spec import Spec

PIP_FLAGS = ("--disable-pip-version-check", "--prefer-binary", "--no-cache-dir")

# Printed by the verification child: where the module and the env's purelib are.
_REPORT = (
    "import json, sys, sysconfig\n"
    "m = __import__({name!r})\n"
    "f = getattr(m, '__file__', None) or list(getattr(m, '__path__', []))[0]\n"
    "print(json.dumps({{'file': f, 'purelib': sysconfig.get_paths()['purelib'],"
    " 'version': '%d.%d.%d' % sys.version_info[:3]}}))\n"
)
# The target dir is checked the way activate() will use it: -I -S so neither
# PYTHONPATH nor the host's site-packages can make a broken install look healthy.
_TARGET_PRELUDE = (
    "import site, sys\n"
    "n = len(sys.path)\n"
    "site.addsitedir({stage!r})\n"
    "sys.path[:] = sys.path[n:] + sys.path[:n]\n"
)


@dataclass(frozen=True)
class Built:
    """What a verified build reports: the dir for sys.path and the paths to stat."""

    site: str
    version: str
    paths: Sequence[str]


def venv_python(env: str) -> str:
    if sys.platform == "win32":
        return os.path.join(env, "Scripts", "python.exe")
    return os.path.join(env, "bin", "python")


def pip_install(spec: Spec) -> List[str]:
    return ["-m", "pip", "install", *PIP_FLAGS, *spec.index_options(), *spec.pip_args]


def _verify(session: Session, phase: Phase, argv: Sequence[str], extra: Sequence[str]) -> Built:
    done = session.step(phase, argv, "verifying the import")
    try:
        report = json.loads(done.out.decode("utf-8", errors="replace").strip().splitlines()[-1])
        return Built(report["purelib"], report["version"], [report["file"], *extra])
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise StepFailed(phase, done, from_exception(exc)) from None


class BuildStrategy(Protocol):
    """A strategy installs the requirements into ``stage`` and verifies the import."""

    code: Strategy

    def build(self, session: Session, stage: str) -> Built: ...


class VenvStrategy:
    code = Strategy.VENV

    def build(self, session: Session, stage: str) -> Built:
        spec = session.spec
        session.step(Phase.VENV, [spec.python, "-m", "venv", stage], "creating the venv")
        python = venv_python(stage)
        session.step(Phase.PIP, [python, *pip_install(spec), *spec.requirements], "starting pip")
        code = _REPORT.format(name=spec.import_name)
        return _verify(session, Phase.PIP, [python, "-I", "-c", code], [python, stage])


class TargetStrategy:
    code = Strategy.TARGET

    def build(self, session: Session, stage: str) -> Built:
        spec = session.spec
        install = pip_install(spec) + ["--target", stage, "--upgrade"]
        session.step(Phase.PIP_TARGET, [spec.python, *install, *spec.requirements], "starting pip")
        code = _TARGET_PRELUDE.format(stage=stage) + _REPORT.format(name=spec.import_name)
        built = _verify(session, Phase.PIP_TARGET, [spec.python, "-I", "-S", "-c", code], [stage])
        return Built(stage, built.version, built.paths)


def pip_probe(session: Session) -> Completed:
    """Can the build interpreter run ``-m pip``? Decides the ``--target`` fallback."""
    return session.run(Phase.VENV, [session.spec.python, "-m", "pip", "--version"], "probing for pip")
