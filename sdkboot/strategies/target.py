"""``target``: the build interpreter's pip installs into a flat ``--target`` dir.

The fallback for interpreters whose venv cannot bootstrap pip (no ensurepip). The dir is
checked the way activate() will use it: ``-I -S`` plus ``site.addsitedir``, so neither
PYTHONPATH nor the host's site-packages can make a broken install look healthy.
"""

from __future__ import annotations

from ..codes import ErrKind, Outcome, Phase, Strategy
from ..session import Session, StepFailed, succeeded
from .base import REPORT, Built, Unavailable, pip_install, pip_probe, verify

PRELUDE = "import site, sys\nn = len(sys.path)\nsite.addsitedir({stage!r})\nsys.path[:] = sys.path[n:] + sys.path[:n]\n"


def _require_pip(session: Session) -> None:
    """Only "No module named pip" proves pip absent. A probe that ran out of memory or was
    killed proves nothing: ``sdk_has_pip`` stays unknown, and the failure cools down."""
    from ..classify import classify

    probe = pip_probe(session)
    if succeeded(probe):
        session.has_pip = True
        return
    failure = classify(Phase.VENV, probe, places=session.places())
    if failure.kind is not ErrKind.NO_PIP:
        raise StepFailed(Phase.VENV, probe, failure)
    session.has_pip = False
    raise Unavailable("the build interpreter has no pip module")


class TargetStrategy:
    label = "target"
    code = Strategy.TARGET
    built = Outcome.BUILT_TARGET
    noop = Outcome.NOOP_TARGET
    needs = "pip in the build interpreter"
    modules: tuple[str, ...] = ("pip",)
    where = "--target dir"
    flat = True
    passes_on: frozenset[ErrKind] = frozenset()

    def build(self, session: Session, stage: str) -> Built:
        _require_pip(session)
        spec = session.spec
        install = [*pip_install(spec), "--target", stage, "--upgrade"]
        session.step(Phase.PIP_TARGET, [spec.python, *install, "--", *spec.requirements], "starting pip")
        code = PRELUDE.format(stage=stage) + REPORT.format(name=spec.import_name)
        built = verify(session, Phase.PIP_TARGET, [spec.python, "-I", "-S", "-c", code], [stage])
        return Built(stage, built.version, built.paths)
