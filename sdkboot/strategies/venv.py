"""``venv``: ``python -m venv STAGE`` (with ensurepip), then the env's own pip installs into it."""

from __future__ import annotations

from ..codes import ErrKind, Outcome, Phase, Strategy
from ..session import Session
from .base import REPORT, Built, pip_install, venv_python, verify


class VenvStrategy:
    label = "venv"
    code = Strategy.VENV
    built = Outcome.BUILT
    noop = Outcome.NOOP_VENV
    needs = "the venv module with ensurepip in the build interpreter"
    modules: tuple[str, ...] = ("venv", "ensurepip")
    where = "venv"
    flat = False
    # No ensurepip (Debian without python3-venv): a pip-free strategy may still work.
    passes_on = frozenset({ErrKind.VENV_ENSUREPIP_FAIL})

    def build(self, session: Session, stage: str) -> Built:
        spec = session.spec
        session.step(Phase.VENV, [spec.python, "-m", "venv", stage], "creating the venv")
        python = venv_python(stage)
        session.step(Phase.PIP, [python, *pip_install(spec), "--", *spec.requirements], "starting pip")
        code = REPORT.format(name=spec.import_name)
        return verify(session, Phase.PIP, [python, "-I", "-c", code], [python, stage])
