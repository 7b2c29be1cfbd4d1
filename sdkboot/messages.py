"""One human line per outcome: what happened and, on failure, what to do."""
from __future__ import annotations

import errno
import re
from typing import Dict, Optional

from .classify import Failure
from .codes import ErrKind

_APT_HINT = re.compile(r"apt install (python3[\w.]*-venv)")
# pip's two wordings: "Requires-Python >=3.10" (index/links) and "3.9.18 not in '>=3.10'" (a file).
_REQUIRES_PYTHON = re.compile(r"requires-python[\s:]*([<>=!~][^\s;,]*(?:,[<>=!~][^\s;,]*)*)|not in '([^']+)'", re.I)

ADVICE: Dict[ErrKind, str] = {
    ErrKind.PIP_NO_MATCH: "pip found no matching distribution: check the requirement and --index-url/--find-links",
    ErrKind.DNS_FAIL: "the package index host did not resolve: check the network or --index-url",
    ErrKind.CONN_REFUSED: "the package index refused the connection: check the network or proxy",
    ErrKind.SSL_VERIFY: "TLS verification failed: set PIP_CERT or fix the system CA bundle",
    ErrKind.PERM_DENIED: "permission denied: make the state dir writable or pass --state-dir",
    ErrKind.NO_PIP: "this Python has no pip module: install pip for it or pass --python",
    ErrKind.DISK_FULL: "no space left: free disk space in the state dir's file system",
    ErrKind.PROXY_AUTH: "the proxy refused authentication: check HTTPS_PROXY credentials",
    ErrKind.STDERR_TIMEOUT: "the index timed out: retry later or use a closer --index-url",
    ErrKind.SUBPROCESS_TIMEOUT: "a step ran past its time limit and was stopped: retry with a larger --timeout",
    ErrKind.REQUIRES_PYTHON: (
        "pip rejected this Python for the package's Requires-Python: raise --min-python to what it needs,"
        " or build with a newer Python (--for-run, `sdkboot run`)"
    ),
    ErrKind.VENV_PATH_TOO_LONG: "the state dir path is too long: pass a shorter --state-dir",
    ErrKind.VENV_NO_MODULE: "this Python has no venv module: install python3-venv or pass --python",
    ErrKind.VENV_ALREADY_EXISTS: "a stale build dir was in the way: run `sdkboot clean` and retry",
    ErrKind.VENV_SETUP_FAILED: "python -m venv failed: run `sdkboot doctor` for details",
    ErrKind.OUT_OF_MEMORY: (
        "a build step ran out of memory under the limit in force (ulimit -v or a cgroup); retries pause for"
        " the cooldown window: raise the memory limit, then run `sdkboot ensure --cooldown 0`"
    ),
    ErrKind.SIGNAL_KILLED: (
        "a build step was killed by a signal (usually a memory limit); retries pause for the"
        " cooldown window: raise the memory limit, then run `sdkboot ensure --cooldown 0`"
    ),
}


def no_pip_advice(venv_output: str) -> str:
    """Say exactly what to install when the interpreter has neither ensurepip nor pip."""
    match = _APT_HINT.search(venv_output)
    venv_pkg = match.group(1) if match else "python3-venv"
    return (
        "this Python cannot create a venv (no ensurepip) and has no pip for the --target fallback:"
        f" install them (Debian/Ubuntu: apt install {venv_pkg} python3-pip), or pass --python"
        " with an interpreter that has them"
    )


# An exception's errno often names a cause the pattern table knows: give that advice.
ERRNO_KINDS: Dict[int, ErrKind] = {
    errno.EACCES: ErrKind.PERM_DENIED, errno.EPERM: ErrKind.PERM_DENIED, errno.EROFS: ErrKind.PERM_DENIED,
    errno.ENOSPC: ErrKind.DISK_FULL, errno.EDQUOT: ErrKind.DISK_FULL, errno.ENAMETOOLONG: ErrKind.VENV_PATH_TOO_LONG,
}


def advice(failure: Optional[Failure]) -> str:
    if failure is None:
        return ""
    if failure.text.startswith("exc:"):
        known = ERRNO_KINDS.get(failure.errno) if failure.errno is not None else None
        return f"{ADVICE[known]} ({failure.tail})" if known else f"unexpected error: {failure.tail}"
    return ADVICE.get(failure.kind, f"see `sdkboot report` and the event log ({failure.text})")


def requires_python(output: str, version: str) -> str:
    """pip refused the interpreter: name the package's Requires-Python and the interpreter's version."""
    match = _REQUIRES_PYTHON.search(output)
    wanted = (match.group(1) or match.group(2)) if match else "(see the event log)"
    return (f"pip rejected Python {version}: the package's Requires-Python is {wanted}; raise --min-python"
            " to match, or build with a newer Python (--for-run, `sdkboot run`)")


def too_old(version: str, need: str, import_name: str, found: Optional[str], run_line: str) -> str:
    """The host cannot import the package; say which interpreter can, and the line that uses it."""
    head = f"this Python is {version}; {import_name} needs {need} or newer"
    if found is None:
        return (f"{head}, and no Python {need}+ was found on this machine (`sdkboot pythons` shows where"
                " sdkboot looked): install one, or run the host with a newer Python")
    return f"{head}; Python {found} was found: start the consumer with `{run_line}`"


def foreign_python(python: str, version: str, host: str) -> str:
    """An explicit --python of another X.Y, for an in-process consumer that could never import its env."""
    return (f"--python {python} is Python {version}, but this Python is {host} and cannot import an env built"
            " with it: add --for-run and start the consumer with `sdkboot run`, or pass a Python of this version")
