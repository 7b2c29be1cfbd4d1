"""``lean``: the memory-lean build. pip only resolves; sdkboot's streaming installer installs.

1. The closure and where each wheel is. Offline from local dirs, ``sdkboot.localresolve``
   walks the wheels without starting pip; otherwise (or when it cannot be sure)
   ``pip install --dry-run --ignore-installed --report -`` in the build interpreter, which
   installs nothing. Remote wheels are then fetched with ``pip download --no-deps``.
2. ``python -m venv --without-pip STAGE``: a real venv, without ensurepip's ~110 MiB peak.
3. ``sdkboot.wheelinstall`` in the env's own interpreter (so byte-code and paths are its
   own): streams each wheel into the env, writes RECORD, INSTALLER, entry points.
4. The sealed verification import, last.
A closure with an sdist needs a build step this strategy cannot run: it is unavailable, and
the next strategy builds with pip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..codes import ErrKind, Outcome, Phase, Strategy
from ..session import Session, StepFailed, succeeded
from ..spec import Spec
from .base import PIP_FLAGS, REPORT, Built, Unavailable, venv_python, verify

if TYPE_CHECKING:
    from ..runner import Completed

DOWNLOADS = ".sdkboot-wheels"
# Runs sdkboot's installer from this very checkout, whatever the env's own sys.path says.
_INSTALL = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); from sdkboot.wheelinstall import main;"
    " sys.exit(main(sys.argv[1:]))"
)
# The build interpreter's own pip vendors packaging: imported in that child (never by sdkboot).
_RESOLVE = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); from sdkboot.localresolve import PACKAGING, main\n"
    "try:\n"
    "    found = [__import__('pip._vendor.packaging.' + n, fromlist=['_']) for n in PACKAGING]\n"
    "except ImportError:\n"
    "    found = None\n"
    "sys.exit(main(sys.argv[1:], found))\n"
)


@dataclass(frozen=True)
class Planned:
    """One distribution of the resolved closure: its name, where its wheel is, whether asked for."""

    name: str
    url: str
    sha256: str
    requested: bool

    @property
    def local(self) -> str:
        """The wheel's path if the URL is a local file, else ''."""
        # Imported here: urllib.request loads ssl, http and email, and the registry (hence this
        # module) is read on every hook start, where memory may be tight.
        from urllib.request import url2pathname

        parts = urlsplit(self.url)
        return url2pathname(unquote(parts.path)) if parts.scheme == "file" else ""


def _planned(item: dict[str, Any]) -> Planned:
    info = item["download_info"]
    hashes = info.get("archive_info", {}).get("hashes", {})
    return Planned(item["metadata"]["name"], info["url"], hashes.get("sha256", ""), bool(item.get("requested")))


def parse_plan(out: bytes) -> list[Planned]:
    """pip's installation report (``--report -``); ValueError if it is not one."""
    report = json.loads(out.decode("utf-8"))
    try:
        return [_planned(item) for item in report["install"]]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a pip installation report: {exc!r}") from None


def _wheels_only(plan: Sequence[Planned]) -> None:
    built = [p.name for p in plan if not urlsplit(p.url).path.endswith(".whl")]
    if built:
        raise Unavailable(f"{', '.join(built)} has no wheel here (an sdist needs pip to build it)")


def local_dirs(spec: Spec) -> list[str]:
    """The find-links dirs when they are the only source (offline, local), else []."""
    index = spec.index
    links = list(index.find_links)
    if not index.no_index or not links or any("://" in link for link in links):
        return []
    return [os.path.abspath(os.path.expanduser(link)) for link in links]


def _resolve_locally(session: Session) -> Completed | None:
    """sdkboot.localresolve in the build interpreter: offline wheels only, a fraction of pip's memory.

    None when it does not apply or cannot be sure; pip then resolves. A kill is a kill.
    """
    from ..classify import classify
    from ..localresolve import UNDECIDED

    spec = session.spec
    dirs = local_dirs(spec)
    if not dirs or spec.pip_args:
        return None
    links = [arg for d in dirs for arg in ("--find-links", d)]
    argv = [spec.python, "-I", "-c", _RESOLVE, _sdkboot_root(), *links, "--", *spec.requirements]
    done = session.run(Phase.RESOLVE, argv, "resolving from the local wheels")
    if succeeded(done):
        return done
    if done.rc == UNDECIDED and not done.timed_out:
        return None
    raise StepFailed(Phase.RESOLVE, done, classify(Phase.RESOLVE, done, places=session.places()))


def _resolve_with_pip(session: Session) -> Completed:
    spec = session.spec
    argv = [
        spec.python,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--report",
        "-",
        *PIP_FLAGS,
        *spec.index_options(),
        *spec.pip_args,
        "--",
        *spec.requirements,
    ]
    try:
        return session.step(Phase.RESOLVE, argv, "resolving with pip")
    except StepFailed as error:
        if error.failure.kind is ErrKind.NO_PIP:
            raise Unavailable("the build interpreter has no pip to resolve with") from None
        raise


def _sdkboot_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# A second installer process costs several MiB. Under a cgroup limit this tight that is what
# kills the build (two were killed in the install at 54-57 MiB); there, success beats time.
PARALLEL_MIN_BYTES = 96 << 20


def jobs(root: str = "/") -> int:
    """Two installer processes where there are two cores and room: one inflates the huge wheel,
    one the rest. One under a tight cgroup limit (``root``: the filesystem root, for tests)."""
    from ..memlimit import cgroup_limits, effective

    tightest = effective(cgroup_limits(root))
    if tightest is not None and tightest < PARALLEL_MIN_BYTES:
        return 1
    return min(2, os.cpu_count() or 1)


class LeanStrategy:
    label = "lean"
    code = Strategy.LEAN
    built = Outcome.BUILT
    noop = Outcome.NOOP_VENV
    needs = "pip (to resolve) and venv (without ensurepip) in the build interpreter; wheels for the whole closure"
    modules: tuple[str, ...] = ("venv", "pip")
    where = "lean env"
    flat = False
    # An installer refusal or an unknown error: pip may still manage. Memory kills, timeouts
    # and index errors would fail the same way under pip, so they stop the build.
    passes_on = frozenset({ErrKind.UNCATEGORIZED})

    def build(self, session: Session, stage: str) -> Built:
        spec = session.spec
        plan = self._resolve(session)
        session.step(Phase.VENV, [spec.python, "-m", "venv", "--without-pip", stage], "creating the venv")
        python = venv_python(stage)
        wheels = self._fetch(session, stage, plan)
        self._install(session, python, plan, wheels)
        import shutil  # here: the no-op reads this module's facts, and on 3.9 shutil loads threading

        shutil.rmtree(os.path.join(stage, DOWNLOADS), ignore_errors=True)
        code = REPORT.format(name=spec.import_name)
        if session.handoff:  # the last step: sdkboot need not stay resident beside the import
            from ..handoff import HandOff

            raise HandOff([python], code, stage, [python, stage])
        return verify(session, Phase.VERIFY, [python, "-I", "-c", code], [python, stage])

    def _resolve(self, session: Session) -> list[Planned]:
        from ..classify import from_exception

        done = _resolve_locally(session) or _resolve_with_pip(session)
        try:
            plan = parse_plan(done.out)
        except ValueError as exc:
            raise StepFailed(Phase.RESOLVE, done, from_exception(exc)) from None
        _wheels_only(plan)
        return plan

    def _fetch(self, session: Session, stage: str, plan: Sequence[Planned]) -> list[str]:
        """Local wheels are used where they are; remote ones are fetched, hash-checked, by pip."""
        remote = [p for p in plan if not p.local]
        if remote:
            spec = session.spec
            where = os.path.join(stage, DOWNLOADS)
            urls = [f"{p.url}#sha256={p.sha256}" if p.sha256 else p.url for p in remote]
            argv = [
                spec.python,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "-d",
                where,
                *PIP_FLAGS,
                *spec.index_options(),
                *spec.pip_args,
                *urls,
            ]
            session.step(Phase.RESOLVE, argv, f"downloading {len(remote)} wheels")
        return [p.local or os.path.join(stage, DOWNLOADS, os.path.basename(urlsplit(p.url).path)) for p in plan]

    def _install(self, session: Session, python: str, plan: Sequence[Planned], wheels: Sequence[str]) -> None:
        requested: tuple[str, ...] = ()
        for p in plan:
            requested += ("--requested", p.name) if p.requested else ()
        argv = [python, "-I", "-c", _INSTALL, _sdkboot_root(), "--jobs", str(jobs()), *requested, "--", *wheels]
        session.step(Phase.INSTALL, argv, f"installing {len(wheels)} wheels")
