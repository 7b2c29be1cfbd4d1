"""Print the path of a runnable Python X.Y, or say where none was found (exit 1).

One finder for both places that need an exact version: tox's ``py39`` env (through
``toxfile.py``) and ``.ci/run``. pyenv's shims are on PATH but refuse to run a version that is
not selected, so every candidate is run once (``--version``) before it counts, and pyenv's own
``versions/`` dir is searched directly. Standard library only; Python 3.9+.

    python3 .ci/find_python.py 3.9
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from typing import Iterator, List, Mapping, Optional, Tuple

WELL_KNOWN = ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin", "/opt/local/bin")


def _version(path: str) -> Optional[Tuple[int, int]]:
    """X.Y of ``path`` when it really runs (a refusing shim does not)."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    words = (done.stdout or done.stderr).split()
    if done.returncode != 0 or len(words) != 2 or words[0] != "Python":
        return None
    parts = words[1].split(".")
    return (int(parts[0]), int(parts[1])) if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else None


def candidates(want: str, environ: Mapping[str, str] = os.environ) -> Iterator[str]:
    """Where a ``pythonX.Y`` may be, most likely first."""
    name = f"python{want}"
    on_path = shutil.which(name, path=environ.get("PATH"))
    if on_path:
        yield on_path
    home = os.path.expanduser("~")
    managed = (  # version managers keep one dir per release: X.Y.Z (pyenv, asdf), cpython-X.Y.Z-... (uv)
        os.path.join(environ.get("PYENV_ROOT") or os.path.join(home, ".pyenv"), "versions", f"{want}*"),
        os.path.join(environ.get("ASDF_DATA_DIR") or os.path.join(home, ".asdf"), "installs", "python", f"{want}*"),
        os.path.join(environ.get("UV_PYTHON_INSTALL_DIR") or os.path.join(home, ".local", "share", "uv", "python"),
                     f"cpython-{want}*"),
    )
    for pattern in managed:
        yield from sorted(glob.glob(os.path.join(pattern, "bin", name)), reverse=True)  # newest patch first
    yield from (os.path.join(directory, name) for directory in WELL_KNOWN)
    yield f"/Library/Frameworks/Python.framework/Versions/{want}/bin/{name}"


def find(want: str, environ: Mapping[str, str] = os.environ) -> Tuple[Optional[str], List[str]]:
    """(the first candidate that runs as Python ``want``, every place looked at)."""
    wanted = tuple(int(part) for part in want.split("."))
    looked: List[str] = []
    for path in candidates(want, environ):
        looked.append(path)
        if os.path.isfile(path) and os.access(path, os.X_OK) and _version(path) == wanted:
            return os.path.abspath(path), looked
    return None, looked


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: find_python.py X.Y", file=sys.stderr)
        return 2
    found, looked = find(argv[0])
    if found is None:
        print(f"no runnable python{argv[0]} here (looked at: {', '.join(looked)}); install one, e.g."
              f" `pyenv install {argv[0]}` or `uv python install {argv[0]}`", file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
