"""What an interpreter is, whatever it is called: its resolved real path and its file identity.

``python``, ``python3`` and ``python3.11`` links to one binary are one interpreter, and so is
a venv's ``bin/python`` where it is a link to its base: the env it builds or imports is the
same, because only the binary decides the ABI and the stdlib (a venv's own site-packages
sit behind an activated env on ``sys.path``). A venv made with ``--copies`` has a binary of
its own and counts as another interpreter. A hard link elsewhere counts as another one too:
Python finds its stdlib from its real path.

The no-op path computes this on every call, so it costs two stats, not a realpath walk.
"""

from __future__ import annotations

import os
import sys
from typing import Any

Identity = dict[str, Any]
# path -> (the lstat of the name that validates the entry, its realpath).
_REAL: dict[str, tuple[tuple[int, int, int], str]] = {}


def _link_key(path: str) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns


def realpath(path: str) -> str:
    """``os.path.realpath``, remembered per name while the name itself is unchanged.

    A relinked name (a venv recreated on another base) gets a new inode, so it is walked
    again; a parent dir relinked under an unchanged name is not noticed within one process.
    """
    try:
        key = _link_key(path)
    except OSError:
        return os.path.abspath(path)
    known = _REAL.get(path)
    if known is not None and known[0] == key:
        return known[1]
    real = os.path.realpath(path)
    _REAL[path] = (key, real)
    return real


def file_id(path: str) -> str:
    """Inode, size and mtime of the file ``path`` resolves to: an upgrade changes them.

    Not the device: it names a mount, not a file. Every container of one image mounts its
    overlay afresh, under a new device number, so a plugin data dir shared by the sessions of
    a restarted container would rebuild every time; the real path already names the file.
    """
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def interpreter(path: str) -> Identity:
    """The identity of the interpreter at ``path`` (which may not exist any more)."""
    real = realpath(os.path.abspath(path))
    return {"path": real, "file": file_id(real)}


def abi_tag() -> str:
    """What an env's compiled files depend on: implementation, X.Y and ABI flags (``cpython-311``)."""
    tag = sys.implementation.cache_tag or sys.implementation.name
    return tag + getattr(sys, "abiflags", "")


def host() -> Identity:
    """This process's interpreter: the one that imports the env."""
    # An embedded interpreter may have no executable: an identity that matches no file.
    found = interpreter(sys.executable) if sys.executable else {"path": "", "file": "missing"}
    found.update(version="%d.%d.%d" % sys.version_info[:3], abi=abi_tag())
    return found
