"""The real interpreters of the Linux test machine: pyenv's versions and Debian's python3.

Read at import, before the autouse fixture hides the real $HOME and $PYENV_ROOT from the
tests; the Linux tests hand the root back to the child they start, explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import require_capability


def _home() -> str:
    """The user's real home, even where $HOME is not passed down (tox)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return os.path.expanduser("~")


PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or os.path.join(_home(), ".pyenv"))
DEBIAN_PYTHON = Path("/usr/bin/python3")


def pyenv_versions() -> dict[str, Path]:
    """``{"3.12": .../versions/3.12.1/bin/python3, ...}`` for every pyenv version with a python3."""
    found: dict[str, Path] = {}
    versions = PYENV_ROOT / "versions"
    for entry in sorted(versions.iterdir()) if versions.is_dir() else []:
        python = entry / "bin" / "python3"
        if python.exists():
            found[".".join(entry.name.split(".")[:2])] = python
    return found


def pyenv_python(xy: str) -> Path:
    """pyenv's interpreter for X.Y, or a capability skip naming what is missing."""
    python: Path | None = pyenv_versions().get(xy)
    if python is None:
        require_capability(f"no pyenv Python {xy} under {PYENV_ROOT}/versions (the Linux test machine has it)")
    assert python is not None
    return python


def require_debian_python() -> Path:
    if not DEBIAN_PYTHON.exists():
        require_capability(f"no {DEBIAN_PYTHON} (Debian's python3)")
    return DEBIAN_PYTHON
