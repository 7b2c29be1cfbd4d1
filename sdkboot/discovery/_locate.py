"""Where interpreters may be: the host, PATH, then well-known places that may be off PATH.

Nothing here spawns a process: it lists directories and resolves links. Each candidate
appears once, under the first path that led to it (dedup by resolved path).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

# A python3.N name (POSIX; on Windows the launcher and fixed dirs are used instead).
_VERSIONED = re.compile(r"^python3\.(\d+)$")
_VERSION_IN_NAME = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
# What a host binary must be called for us to run it: an embedding host's sys.executable
# can be the host application itself, which must never be started with our probe.
_PYTHON_NAME = re.compile(r"^(python|pypy)[\d.]*w?(\.exe)?$", re.IGNORECASE)
# Version managers' shims: slow (pyenv's costs about 220 ms) and they exit 127 when the
# version they stand for is not selected. The real binaries are found under the versions.
_SHIM_DIRS = ("shims",)
_STORE_DIR = "windowsapps"  # Windows' App Execution Aliases open the Store instead of Python


@dataclass(frozen=True)
class Candidate:
    """One interpreter to ask: the path we run, its resolved path, and how we found it."""

    path: str
    real: str
    source: str
    skip: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Places:
    """Where to look. ``from_env`` reads the real machine; tests point it at fake trees."""

    host: str
    path: tuple[str, ...]
    platform: str
    pyenv_root: str
    uv_dir: str
    asdf_dir: str
    mise_dir: str
    local_programs: str = ""
    system_bin: str = "/usr/bin"
    homebrew: tuple[str, ...] = ("/opt/homebrew/bin", "/usr/local/bin")
    frameworks: str = "/Library/Frameworks/Python.framework/Versions"
    launcher: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, host: str = sys.executable) -> Places:
        home = os.path.expanduser("~")
        data = environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
        if sys.platform == "win32":
            data = environ.get("APPDATA") or os.path.join(home, "AppData", "Roaming")
        return cls(
            host=host or "",
            path=tuple(p for p in environ.get("PATH", "").split(os.pathsep) if p),
            platform=sys.platform,
            pyenv_root=environ.get("PYENV_ROOT") or os.path.join(home, ".pyenv"),
            uv_dir=environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(data, "uv", "python"),
            asdf_dir=environ.get("ASDF_DATA_DIR") or os.path.join(home, ".asdf"),
            mise_dir=environ.get("MISE_DATA_DIR") or os.path.join(data, "mise"),
            local_programs=os.path.join(environ.get("LOCALAPPDATA", ""), "Programs", "Python"),
        )

    @property
    def windows(self) -> bool:
        return self.platform == "win32"


def version_key(name: str) -> tuple[int, ...]:
    """(3, 12, 1) from names like ``3.12.1``, ``cpython-3.12.1-linux``; () when none."""
    match = _VERSION_IN_NAME.search(name)
    return tuple(int(part) for part in match.groups() if part is not None) if match else ()


def _listdir(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def _runnable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _on_path(places: Places) -> Iterator[str]:
    """python3.N names newest first (PATH order breaks ties), then python3, then python."""
    if places.windows:
        for name in ("python.exe", "python3.exe"):
            yield from (os.path.join(d, name) for d in places.path)
        return
    versioned: list[tuple[int, int, str]] = []
    for index, directory in enumerate(places.path):
        for name in _listdir(directory):
            match = _VERSIONED.match(name)
            if match:
                versioned.append((-int(match.group(1)), index, os.path.join(directory, name)))
    yield from (path for _, _, path in sorted(versioned))
    for name in ("python3", "python"):
        yield from (os.path.join(d, name) for d in places.path)


def _versioned_in(directory: str) -> list[str]:
    """python3.N in one directory, newest first, then python3."""
    names = [(int(m.group(1)), n) for n in _listdir(directory) for m in [_VERSIONED.match(n)] if m]
    return [os.path.join(directory, n) for _, n in sorted(names, reverse=True)] + [os.path.join(directory, "python3")]


def _under(root: str, *tail: str) -> list[str]:
    """``root/<version>/<tail>`` for each version dir, newest first."""
    names = sorted(_listdir(root), key=version_key, reverse=True)
    return [os.path.join(root, name, *tail) for name in names]


def _well_known(places: Places) -> Iterator[tuple[str, str]]:
    if places.windows:
        yield from ((p, "py launcher") for _, p in places.launcher)
        yield from ((p, "python.org") for p in _under(places.local_programs, "python.exe"))
        yield from ((p, "uv") for p in _under(places.uv_dir, "python.exe"))
        return
    for directory in places.homebrew:
        yield from ((p, "homebrew") for p in _versioned_in(directory))
    yield from ((p, "python.org") for p in _under(places.frameworks, "bin", "python3"))
    yield from ((p, "distro") for p in _versioned_in(places.system_bin)[:-1])
    yield from ((p, "pyenv") for p in _under(os.path.join(places.pyenv_root, "versions"), "bin", "python3"))
    yield from ((p, "uv") for p in _under(places.uv_dir, "bin", "python3"))
    yield from ((p, "asdf") for p in _under(os.path.join(places.asdf_dir, "installs", "python"), "bin", "python3"))
    yield from ((p, "mise") for p in _under(os.path.join(places.mise_dir, "installs", "python"), "bin", "python3"))


def shim_reason(path: str) -> str | None:
    """Why ``path`` is a stand-in we must not run, or None for a real interpreter."""
    parts = [part.lower() for part in os.path.normpath(path).split(os.sep)]
    parent = parts[-2] if len(parts) > 1 else ""
    if parent in _SHIM_DIRS:
        manager = next((m for m in ("pyenv", "asdf", "mise", "rtx") if any(m in p for p in parts)), "version-manager")
        return f"a {manager} shim (slow; it fails when its version is not selected)"
    if parent == _STORE_DIR:
        return "a Microsoft Store alias (it opens the Store when Python is not installed)"
    return None


def _found(places: Places) -> Iterator[tuple[str, str]]:
    if places.host and _PYTHON_NAME.match(os.path.basename(places.host)):
        yield places.host, "host"
    yield from ((path, "PATH") for path in _on_path(places))
    yield from _well_known(places)


def dedup(found: Iterable[tuple[str, str]]) -> list[Candidate]:
    """Keep the first path to each resolved file; later paths to it become its aliases."""
    seen: dict[str, Candidate] = {}
    for path, source in found:
        if not _runnable(path):
            continue
        path, real, skip = os.path.abspath(path), os.path.realpath(path), shim_reason(path)
        key = os.path.dirname(path) if skip else real  # a shim dir is one entry, whatever its names
        first = seen.get(key)
        if first is None:
            seen[key] = Candidate(path, real, source, skip)
        elif path != first.path and path not in first.aliases:
            seen[key] = replace(first, aliases=(*first.aliases, path))
    return list(seen.values())


def candidates(places: Places) -> list[Candidate]:
    return dedup(_found(places))


def parse_launcher(text: str) -> tuple[tuple[str, str], ...]:
    """``py -0p`` lines (``-V:3.12 *  C:\\...\\python.exe`` or ``-3.12-64  C:\\...``) as (tag, path)."""
    found = []
    for line in text.splitlines():
        match = re.match(r"^\s*(-\S+)\s+(?:\*\s+)?(.+?)(?:\s+\*)?\s*$", line)
        if match and match.group(2).lower().endswith(".exe"):
            found.append((match.group(1).lstrip("-").replace("V:", ""), match.group(2)))
    return tuple(found)
