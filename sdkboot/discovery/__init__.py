"""Interpreter discovery: find the Pythons on this machine and what each can do.

``discover()`` lists candidates (``_locate``), asks each once through the probe
(``_interrogate``), remembering the answers in the state dir (``_cache``), and
``_choice`` ranks them. Only a build or a report calls it: the no-op path never does.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace

from ._cache import ProbeCache
from ._choice import MinPython, Verdict, alt_py, best_other, ranked, unusable, verdicts
from ._interrogate import Info, Interpreter, Interrogator, Spawn, probe_hash, probe_source
from ._locate import Candidate, Places, candidates, parse_launcher, shim_reason

__all__ = [
    "Candidate",
    "Discovery",
    "Info",
    "Interpreter",
    "MinPython",
    "Places",
    "Spawn",
    "Verdict",
    "alt_py",
    "best_other",
    "discover",
    "probe",
    "ranked",
    "unusable",
    "verdicts",
]

LAUNCHER_TIMEOUT = 10.0


@dataclass(frozen=True)
class Discovery:
    """Every candidate found, in discovery order, and what finding them cost."""

    interpreters: tuple[Interpreter, ...]
    spawned: int
    seconds: float

    def choice(self, min_python: MinPython) -> Interpreter | None:
        order = ranked(self.interpreters, min_python)
        return order[0] if order else None


def _default_spawn() -> Spawn:
    from ..runner import run

    return lambda argv, timeout: run(argv, timeout)


def _with_launcher(places: Places, ask: Interrogator) -> Places:
    """Windows: the ``py`` launcher's own list (``py -0p``) joins the well-known places."""
    if not places.windows or places.launcher:
        return places
    py = shutil.which("py")
    if py is None:
        return places
    done = ask.run([py, "-0p"], LAUNCHER_TIMEOUT)
    return replace(places, launcher=parse_launcher(done.out.decode("utf-8", errors="replace")))


def _interrogator(cache_file: str | None, spawn: Spawn | None, places: Places) -> Interrogator:
    source = probe_source()
    return Interrogator(places, ProbeCache(cache_file, probe_hash(source)), spawn or _default_spawn(), source)


def discover(places: Places | None = None, cache_file: str | None = None, spawn: Spawn | None = None) -> Discovery:
    """Find and probe every candidate. ``cache_file`` is written back only if its dir exists."""
    started = time.monotonic()
    places = places or Places.from_env()
    ask = _interrogator(cache_file, spawn, places)
    places = _with_launcher(places, ask)
    found = tuple(ask.ask(candidate) for candidate in candidates(places))
    ask.cache.save()
    return Discovery(found, ask.spawned, time.monotonic() - started)


def probe(
    path: str, cache_file: str | None = None, spawn: Spawn | None = None, places: Places | None = None
) -> tuple[Interpreter, int]:
    """One given interpreter (``--python``), through the same probe and cache; and the spawn count."""
    places = places or Places.from_env()
    ask = _interrogator(cache_file, spawn, places)
    source = "host" if places.host and os.path.realpath(path) == os.path.realpath(places.host) else "--python"
    found = ask.ask(Candidate(os.path.abspath(path), os.path.realpath(path), source, shim_reason(path)))
    ask.cache.save()
    return found, ask.spawned
