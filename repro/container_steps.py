"""What a container scenario is made of: the step and scenario types, the commands they run, and the
paths every container mounts (repro.container_scenarios holds the scenarios themselves).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from repro.verdict import Expect, exact

REPO = Path(__file__).resolve().parent.parent
STATE = "/state"
WHEELS = "/wheels"
SCRIPTS = "/opt/repro"
WRAPPED_PYTHON = "/opt/wrap/python3"
MIB = 1024 * 1024

# An explicit cooldown, so the retry steps do not depend on the default window; --timeout makes
# a thrashing step end with sdkboot's own report, well before the container's time limit.
# One state volume and the mounted wheelhouse; both commands take the same options.
OPTIONS = ("--state-dir", STATE, "--no-index", "--find-links", WHEELS, "--cooldown", "3600", "--timeout", "240")
ENSURE = ("python3", "-m", "sdkboot", "ensure", "--json", *OPTIONS)
HOOK = ("python3", "-m", "sdkboot", "hook", *OPTIONS)
CONSUME = ("python3", f"{SCRIPTS}/consumer.py", STATE)
# The strategies the venv/target chain is about, without lean (first by default) in front.
VENV_CHAIN = ("--strategy", "venv", "--strategy", "target")
VENV = ("python3", "-m", "venv", "/tmp/env")
ENVIRONMENT = {
    "PYTHONPATH": "/src",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
}


def raw(argv: Sequence[str], as_kib: int | None = None, oom_adj: int | None = None) -> tuple[str, ...]:
    """``argv`` under the raw-signature parent (``docker/scripts/rawsig.py``)."""
    limit = ("--as-kib", str(as_kib)) if as_kib is not None else ()
    adj = ("--oom-score-adj", str(oom_adj)) if oom_adj is not None else ()
    return ("python3", f"{SCRIPTS}/rawsig.py", *limit, *adj, "--", *argv)


@dataclass(frozen=True)
class Step:
    label: str
    command: tuple[str, ...]
    expect: Expect
    mem_mib: float | None = None  # the container's memory limit: it holds the whole tree
    # Injects WRAPPED_PYTHON, running /usr/bin/python3 under this RLIMIT_AS (KiB): child-only.
    wrap_as_kib: int | None = None
    # RLIMIT_AS (KiB) set before the step's command execs: the whole tree, sdkboot included.
    tree_as_kib: int | None = None
    timeout: float = 420.0

    @property
    def argv(self) -> tuple[str, ...]:
        if self.tree_as_kib is None:
            return self.command
        # exec: the command itself is the container's PID 1, as it would be without the limit.
        return ("/bin/sh", "-c", f'ulimit -v {self.tree_as_kib} && exec "$@"', "sh", *self.command)

    @property
    def mode(self) -> str:
        if self.mem_mib is not None or self.tree_as_kib is not None:
            return "tree"
        if self.wrap_as_kib is not None or "--as-kib" in self.command:
            return "child"
        return "none"


@dataclass(frozen=True)
class Scenario:
    name: str
    image: str
    summary: str
    steps: tuple[Step, ...]


NO_TRACEBACK: Mapping[str, object] = {"traceback": False}
WARM = Step("warm", raw(VENV), exact({"signature": "0/E/E"}))
ENSURE_AS = (*ENSURE, "--python", WRAPPED_PYTHON)
