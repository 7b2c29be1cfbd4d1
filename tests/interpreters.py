"""Wrapper interpreters for e2e tests: real processes that fail the way real machines do."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

# Debian's python3 without python3-venv: rc 1, this text on STDOUT (line-wrapped), stderr empty.
DEBIAN_NO_ENSUREPIP = """\
The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python3.11-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.

Failing command: @ENV@/bin/python3
"""

_DEBIAN_VENV = """\
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"   # Debian leaves a partial env behind
  cat <<'MSG' | sed "s#@ENV@#$3#"
{message}MSG
  exit 1
fi
"""


def write_wrapper(path: Path, *cases: str, real: str = sys.executable) -> Path:
    """A POSIX sh script that runs each case snippet, then execs the real interpreter."""
    body = "#!/bin/sh\n" + "".join(cases) + f'exec "{real}" "$@"\n'
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def debian_venv() -> str:
    """Case: ``-m venv`` fails exactly as Debian's does without python3-venv."""
    return _DEBIAN_VENV.format(message=DEBIAN_NO_ENSUREPIP)


def sigkill_once(marker: Path) -> str:
    """Case: the first ``pip install`` is killed by a real SIGKILL; later ones run."""
    return f'case "$*" in *"-m pip install"*)\n  if [ ! -e "{marker}" ]; then : > "{marker}"; kill -9 $$; fi ;;\nesac\n'


def hang_in_venv(pidfile: Path) -> str:
    """Case: ``-m venv`` records its PID and hangs, so a test can kill the builder mid-build."""
    return f'if [ "$2" = "venv" ]; then echo $$ > "{pidfile}"; exec sleep 60; fi\n'


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
