"""Asking one candidate what it is: the probe run once, under a short timeout, in isolated mode.

The probe is a real module file (``_probe.py``) run as a script; inside a zipapp there is
no file to run, so its source (``pkgutil.get_data``) is passed with ``-c`` instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import pkgutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

from ..codes import Strategy
from ..runner import Completed
from ._cache import ProbeCache
from ._locate import Candidate, Places

# (argv, timeout) -> Completed; never raises (the runner's contract).
Spawn = Callable[[Sequence[str], float], Completed]

PROBE_TIMEOUT = 10.0
GUARD_TIMEOUT = 5.0
_PROBE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_probe.py")
_MEMORY_TEXT = ("memoryerror", "cannot allocate memory", "failed to map segment")


def probe_source() -> bytes:
    data = pkgutil.get_data(__package__ or "sdkboot.discovery", "_probe.py")
    if data is None:
        raise RuntimeError("the interpreter probe is missing from this copy of sdkboot")
    return data


def probe_hash(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()[:16]


def probe_argv(python: str, source: bytes) -> list[str]:
    if os.path.isfile(_PROBE_FILE):
        return [python, "-I", _PROBE_FILE]
    return [python, "-I", "-c", source.decode("utf-8")]


@dataclass(frozen=True)
class Info:
    """What the probe reported."""

    version: tuple[int, int, int]
    implementation: str
    executable: str
    venv: bool
    ensurepip: bool
    pip: bool
    tags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Info:
        """Raise ValueError unless ``data`` is a probe answer of this shape."""
        version = data.get("version")
        flags = [data.get(name) for name in ("venv", "ensurepip", "pip")]
        tags = data.get("tags", {})
        if (
            not isinstance(version, list)
            or len(version) != 3
            or not all(isinstance(v, int) for v in version)
            or not all(isinstance(flag, bool) for flag in flags)
            or not isinstance(tags, dict)
        ):
            raise ValueError("not a probe answer")
        return cls(
            (version[0], version[1], version[2]),
            str(data.get("implementation", "?")),
            str(data.get("executable", "")),
            flags[0] is True,
            flags[1] is True,
            flags[2] is True,
            tuple(sorted((str(k), str(v)) for k, v in tags.items())),
        )

    @property
    def label(self) -> str:
        return "%d.%d.%d" % self.version

    @property
    def number(self) -> int:
        """major*100+minor, the contract's form (``sdk_hook_py``, ``sdk_alt_py``)."""
        return self.version[0] * 100 + self.version[1]

    @property
    def strategy(self) -> Strategy:
        """What it can build with: a venv (needs ensurepip), else pip --target, else nothing."""
        if self.venv and self.ensurepip:
            return Strategy.VENV
        return Strategy.TARGET if self.pip else Strategy.NONE

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.label,
            "implementation": self.implementation,
            "executable": self.executable,
            "venv": self.venv,
            "ensurepip": self.ensurepip,
            "pip": self.pip,
            "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class Interpreter:
    """A candidate and what we know of it: ``info``, or ``error`` saying why not."""

    candidate: Candidate
    info: Info | None = None
    error: str | None = None
    cached: bool = False

    @property
    def path(self) -> str:
        return self.candidate.path

    @property
    def is_host(self) -> bool:
        return self.candidate.source == "host"


def _transient(done: Completed) -> bool:
    """A failure that says nothing lasting about the interpreter: not worth caching."""
    text = (done.out + done.err).decode("utf-8", errors="replace").lower()
    return done.timed_out or done.error is not None or done.rc <= 0 or any(m in text for m in _MEMORY_TEXT)


def _failure_text(done: Completed) -> str:
    if done.error is not None:
        return f"cannot run it: {getattr(done.error, 'strerror', None) or done.error}"
    if done.timed_out:
        return "the probe did not answer in time"
    lines = (done.err or done.out).decode("utf-8", errors="replace").strip().splitlines()
    last = lines[0] if lines and "unknown option" in lines[0].lower() else (lines[-1] if lines else "")
    hint = " (too old for isolated mode: Python 2?)" if "unknown option: -i" in last.lower() else ""
    return f"the probe failed (exit {done.rc}): {last[:120]}{hint}"


def _from_entry(candidate: Candidate, entry: dict[str, Any]) -> Interpreter | None:
    if isinstance(entry.get("error"), str):
        return Interpreter(candidate, error=entry["error"], cached=True)
    try:
        return Interpreter(candidate, Info.parse(entry["answer"]), cached=True)
    except (ValueError, KeyError, TypeError):
        return None


class Interrogator:
    """Probes candidates through ``spawn``, answering from the cache when it can."""

    def __init__(self, places: Places, cache: ProbeCache, spawn: Spawn, source: bytes) -> None:
        self.places, self.cache, self.spawn, self.source = places, cache, spawn, source
        self.spawned = 0
        self._developer_dir: tuple[str | None, str] | None = None

    def run(self, argv: Sequence[str], timeout: float) -> Completed:
        self.spawned += 1
        return self.spawn(argv, timeout)

    def _is_apple_shim(self, candidate: Candidate) -> bool:
        shim = os.path.join(self.places.system_bin, "python3")
        return self.places.platform == "darwin" and shim in (candidate.path, candidate.real)

    def _developer(self) -> tuple[str | None, str]:
        """``xcode-select -p``: (developer dir, "") when the Command Line Tools are there, else (None, why)."""
        if self._developer_dir is None:
            done = self.run(["xcode-select", "-p"], GUARD_TIMEOUT)
            found = done.out.decode("utf-8", errors="replace").strip()
            ok = done.rc == 0 and not done.timed_out and done.error is None and bool(found)
            self._developer_dir = (
                (found, "")
                if ok
                else (
                    None,
                    (
                        "not run: without the Command Line Tools (`xcode-select -p` failed) /usr/bin/python3"
                        " is a shim that opens an install dialog"
                    ),
                )
            )
        return self._developer_dir

    def _cached(self, candidate: Candidate) -> Interpreter | None:
        entry = self.cache.get(candidate)
        if entry is None:
            return None
        developer = entry.get("developer_dir")
        if self._is_apple_shim(candidate) and not (isinstance(developer, str) and os.path.isdir(developer)):
            return None  # the Command Line Tools may be gone since: guard again
        return _from_entry(candidate, entry)

    def ask(self, candidate: Candidate) -> Interpreter:
        if candidate.skip:
            return Interpreter(candidate, error=f"skipped: {candidate.skip}")
        hit = self._cached(candidate)
        if hit is not None:
            return hit
        extra: dict[str, Any] = {}
        if self._is_apple_shim(candidate):
            developer, why = self._developer()
            if developer is None:
                return Interpreter(candidate, error=why)
            extra["developer_dir"] = developer
        return self._probe(candidate, extra)

    def _probe(self, candidate: Candidate, extra: dict[str, Any]) -> Interpreter:
        done = self.run(probe_argv(candidate.path, self.source), PROBE_TIMEOUT)
        if done.rc == 0 and not done.timed_out and done.error is None:
            try:
                answer = json.loads(done.out.decode("utf-8", errors="replace").strip().splitlines()[-1])
                found = Interpreter(candidate, Info.parse(answer))
            except (ValueError, IndexError, TypeError, AttributeError):
                return Interpreter(candidate, error="the probe's answer was not understood")
            self.cache.put(candidate, answer, **extra)
            return found
        error = _failure_text(done)
        if not _transient(done):
            self.cache.put(candidate, {}, error=error, **extra)
        return Interpreter(candidate, error=error)
