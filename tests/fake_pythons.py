"""Fake interpreter trees for discovery tests: small executables that print a probe answer.

Each fake is a POSIX sh script. It refuses to run unless started in isolated mode
(``-I`` and a probe script), appends its own path to a log (so a test can count real
spawns), then prints the JSON answer sdkboot's probe would print.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sdkboot import discovery
from sdkboot.discovery import Places

_SCRIPT = """\
#!/bin/sh
echo "$0" >> {log}
if [ "$1" != "-I" ]; then echo "expected isolated mode, got: $*" >&2; exit 2; fi
cat <<'ANSWER'
{answer}
ANSWER
"""


def answer(
    path: Path, version: Sequence[int], venv: bool = True, ensurepip: bool = True, pip: bool = True
) -> dict[str, Any]:
    return {
        "executable": str(path),
        "version": list(version),
        "implementation": "CPython",
        "prefix": str(path.parent.parent),
        "base_prefix": str(path.parent.parent),
        "venv": venv,
        "ensurepip": ensurepip,
        "pip": pip,
        "tags": {
            "interpreter": "cp%d%d" % tuple(version[:2]),
            "abi": "cp%d%d" % tuple(version[:2]),
            "platform": "linux_x86_64",
        },
    }


def fake_python(path: Path, version: Sequence[int], log: Path, **flags: bool) -> Path:
    """Write a fake interpreter at ``path`` that answers as ``version`` with ``flags``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_SCRIPT.format(log=log, answer=json.dumps(answer(path, version, **flags))))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def shim(path: Path, log: Path) -> Path:
    """A version-manager shim: it must never be run (it logs if it is, then fails like pyenv's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "SHIM $0" >> {log}\necho "pyenv: version not installed" >&2\nexit 127\n')
    path.chmod(0o755)
    return path


def link(path: Path, target: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def spawned(log: Path) -> list[str]:
    """The paths of the fakes that really ran, in order."""
    return log.read_text().split() if log.exists() else []


class Tree:
    """A fake machine under one temp dir: PATH dirs, well-known places and a spawn log."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "spawned.log"
        self.bin1, self.bin2 = root / "bin1", root / "bin2"
        self.cache = root / "state" / "interpreters.json"
        self.cache.parent.mkdir()
        self.host = ""

    def places(self, **changes: object) -> Places:
        r = self.root
        base = Places(
            host=self.host,
            path=(str(self.bin1), str(self.bin2)),
            platform="linux",
            pyenv_root=str(r / "pyenv"),
            uv_dir=str(r / "uv"),
            asdf_dir=str(r / "asdf"),
            mise_dir=str(r / "mise"),
            system_bin=str(r / "usr" / "bin"),
            homebrew=(str(r / "opt" / "homebrew" / "bin"), str(r / "usr" / "local" / "bin")),
            frameworks=str(r / "Frameworks" / "Versions"),
        )
        return Places(**{**base.__dict__, **changes})

    def python(self, rel: str, version: Sequence[int], **flags: bool) -> Path:
        return fake_python(self.root / rel, version, self.log, **flags)

    def discover(self, **changes: object) -> discovery.Discovery:
        return discovery.discover(self.places(**changes), cache_file=str(self.cache))

    def use(self, monkeypatch: pytest.MonkeyPatch, **changes: object) -> Places:
        """Make every discovery in this test (ensure, pythons, doctor) see this tree."""
        places = self.places(**changes)
        monkeypatch.setattr(Places, "from_env", classmethod(lambda cls, *a, **k: places))
        return places
