"""In-process stand-ins for the build steps, and hostile things to plant in a state dir.

``FakeBuilds`` replaces ``sdkboot.runner.run``: venv, pip and the verification import
succeed at once and leave the files a real build would, so a fault test can run many
builds per second. The real-process faults (kills, races, disk full) use real pip.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdkboot.runner import Completed
from sdkboot.spec import Spec

RUNNER = importlib.import_module("sdkboot.runner")
IMPORT_NAME = "sdkboot_fault_mod"
DIST = "sdkboot-fault-dist"


def done(rc: int = 0, out: bytes = b"", err: bytes = b"") -> Completed:
    return Completed(rc, out, err, 0.001)


class FakeBuilds:
    """Plays venv, pip and the verification import; records every argv."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.stage = ""
        self.venv_result: Completed | None = None  # set it to make the venv step fail so

    def __call__(
        self, argv: Sequence[str], timeout: float | None = None, env: Any = None, on_line: Any = None, **more: Any
    ) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        if argv[1:3] == ["-m", "venv"]:
            if self.venv_result is not None:
                return self.venv_result
            self.stage = argv[3]
            (Path(self.stage) / "bin").mkdir(parents=True)
            (Path(self.stage) / "bin" / "python").write_text("#!fake\n")
            return done()
        if "-c" in argv:
            site = Path(self.stage) / "lib" / "site-packages"
            module = site / IMPORT_NAME / "__init__.py"
            module.parent.mkdir(parents=True)
            module.write_text("VALUE = 1\n")
            report = {
                "file": str(module),
                "purelib": str(site),
                "version": "%d.%d.%d" % tuple(__import__("sys").version_info[:3]),
            }
            return done(out=(json.dumps(report) + "\n").encode())
        return done(out=b"Successfully installed\n")


def fault_spec(root: Path, *requirements: str, **extra: Any) -> Spec:
    import sys

    # The venv strategy only: FakeBuilds plays its three steps (venv, pip, verification import).
    extra.setdefault("strategies", ("venv",))
    return Spec(
        requirements=requirements or (DIST,),
        import_name=IMPORT_NAME,
        state_dir=str(root),
        min_python=sys.version_info[:2],
        step_timeout=30.0,
        **extra,
    )


# The fake package every healthy fault-suite env holds.
FILES = {f"{IMPORT_NAME}/__init__.py": "VALUE = 1\n"}


def healthy(root: Path) -> Spec:
    """A state dir at ``root`` with a healthy fake env, and the spec it is healthy for."""
    from tests.fake_envs import fake_env

    spec = fault_spec(root)
    fake_env(root, spec=spec, files=FILES)
    return spec


def tree(path: Path) -> list[str]:
    """Every entry under ``path`` (links not followed), with file contents: a before/after snapshot."""
    found = []
    for directory, dirs, files in os.walk(path):
        for name in sorted(dirs + files):
            entry = Path(directory) / name
            content = entry.read_bytes().hex() if entry.is_file() and not entry.is_symlink() else ""
            found.append(f"{entry.relative_to(path)}:{content}")
    return sorted(found)
