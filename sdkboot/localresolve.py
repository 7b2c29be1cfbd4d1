"""Resolve a closure from local wheel dirs without starting pip: the offline, wheels-only case.

pip's resolver costs ~40-60 MiB and seconds to start; a wheelhouse that ``pip download``
filled has one candidate per name, so a greedy walk finds the same closure pip would. The
version, tag, specifier and marker rules are not re-implemented here: they come from the
``packaging`` that the build interpreter's pip vendors, which the caller imports in that
child and hands in (sdkboot itself stays standard library only).
Whatever the walk cannot decide for sure (a conflict, an sdist, a URL requirement, no
packaging) exits ``UNDECIDED`` and the caller asks pip instead. The answer has the shape of
pip's installation report, so one parser reads both.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Sequence
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

UNDECIDED = 3


class Undecided(Exception):
    """The walk cannot be sure of pip's answer: let pip resolve."""


# What the child imports and passes to main(): packaging's modules, in this order.
PACKAGING = ("requirements", "specifiers", "tags", "utils", "version")


class Walk:
    """One resolution: the candidates found in the dirs, and what was chosen so far."""

    def __init__(self, dirs: Sequence[str], packaging: Sequence[Any]) -> None:
        self.requirements, self.specifiers, tags, self.utils, self.version = packaging
        self.rank = {tag: i for i, tag in enumerate(tags.sys_tags())}  # lower is better
        self.python = self.version.Version("%d.%d.%d" % sys.version_info[:3])
        self.candidates: dict[str, list[tuple[Any, int, str]]] = {}
        for directory in dirs:
            self._scan(directory)
        self.chosen: dict[str, tuple[Any, str, Any]] = {}  # name -> (version, path, metadata)
        self.extras: dict[str, set[str]] = {}
        self.requested: set[str] = set()
        self.parsed: dict[str, Any] = {}  # each Requires-Dist line is read for its marker, then added

    def _scan(self, directory: str) -> None:
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise Undecided(f"cannot list {directory}: {exc}") from None
        for name in names:
            if not name.endswith(".whl"):
                continue
            try:
                dist, version, _, tags = self.utils.parse_wheel_filename(name)
            except self.utils.InvalidWheelFilename:
                continue
            ranks = [self.rank[tag] for tag in tags if tag in self.rank]
            if ranks:
                self.candidates.setdefault(dist, []).append((version, min(ranks), os.path.join(directory, name)))

    def _metadata(self, path: str) -> Any:
        with zipfile.ZipFile(path) as zf:
            info = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(info) != 1:
                raise Undecided(f"{path}: no single METADATA")
            return HeaderParser().parsestr(zf.read(info[0]).decode("utf-8"))

    def _fits_python(self, metadata: Any) -> bool:
        needed = metadata.get("Requires-Python")
        return not needed or self.specifiers.SpecifierSet(needed).contains(self.python, prereleases=True)

    def _pick(self, name: str, specifier: Any) -> tuple[Any, str, Any]:
        found = self.candidates.get(name, [])
        allowed = set(specifier.filter([version for version, _, _ in found]))
        # Highest version first, then the most specific tag, as pip prefers.
        for version, _, path in sorted(
            (c for c in found if c[0] in allowed), key=lambda c: (c[0], -c[1]), reverse=True
        ):
            metadata = self._metadata(path)
            if self._fits_python(metadata):
                return version, path, metadata
        raise Undecided(f"no local wheel of {name} fits {specifier or 'any version'} on this Python")

    def _requirement(self, text: str) -> Any:
        """packaging's parse of one line, once: it is the resolve's largest cost (pyparsing)."""
        if text not in self.parsed:
            self.parsed[text] = self.requirements.Requirement(text)
        return self.parsed[text]

    def add(self, text: str, requested: bool = False) -> None:
        """Add one requirement (a Requires-Dist line or a user's) and all that it pulls in."""
        requirement = self._requirement(text)
        if requirement.url:
            raise Undecided(f"a URL requirement: {text}")
        name = self.utils.canonicalize_name(requirement.name)
        if requested:
            self.requested.add(name)
        if name in self.chosen:
            version = self.chosen[name][0]
            if not requirement.specifier.contains(version, prereleases=True):
                raise Undecided(f"{name} {version} conflicts with {text}")  # pip would backtrack
        else:
            self.chosen[name] = self._pick(name, requirement.specifier)
            self.extras[name] = set()
            self._depend(name, {""})
        new = set(requirement.extras) - self.extras[name]
        if new:
            self.extras[name] |= new
            self._depend(name, new)

    def _depend(self, name: str, extras: set[str]) -> None:
        for line in self.chosen[name][2].get_all("Requires-Dist") or []:
            dependency = self._requirement(line)
            marker = dependency.marker
            if (marker is None and "" in extras) or (
                marker is not None and any(marker.evaluate({"extra": extra}) for extra in extras)
            ):
                self.add(line)

    def report(self) -> dict[str, Any]:
        """pip's installation report, the fields sdkboot reads."""
        return {
            "version": "1",
            "resolver": "sdkboot-local",
            "install": [
                {
                    "metadata": {"name": metadata["Name"], "version": str(version)},
                    "requested": name in self.requested,
                    "download_info": {"url": Path(path).resolve().as_uri(), "archive_info": {}},
                }
                for name, (version, path, metadata) in self.chosen.items()
            ],
        }


def resolve(dirs: Sequence[str], requirements: Sequence[str], packaging: Sequence[Any]) -> dict[str, Any]:
    walk = Walk(dirs, packaging)
    for requirement in requirements:
        walk.add(requirement, requested=True)
    return walk.report()


def main(argv: Sequence[str], packaging: Sequence[Any] | None) -> int:
    """``--find-links DIR ... -- REQUIREMENT ...``: print the report, or exit UNDECIDED saying why.

    ``packaging`` is None when the child found no vendored packaging to import.
    """
    if packaging is None:
        print("sdkboot-resolve: undecided: the build interpreter's pip vendors no packaging", file=sys.stderr)
        return UNDECIDED
    args = list(argv)
    split = args.index("--") if "--" in args else len(args)
    dirs = [args[i + 1] for i, a in enumerate(args[:split]) if a == "--find-links"]
    try:
        found: dict[str, Any] | None = resolve(dirs, args[split + 1 :], packaging)
    except (Undecided, ValueError, OSError, zipfile.BadZipFile) as exc:
        print(f"sdkboot-resolve: undecided: {type(exc).__name__}: {exc}", file=sys.stderr)
        return UNDECIDED
    print(json.dumps(found))
    return 0
