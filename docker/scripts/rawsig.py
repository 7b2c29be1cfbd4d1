"""Run one command the way a bootstrapper does and print its raw failure signature as JSON.

Runs inside the repro containers (mounted read-only at /opt/repro). The parent is a Python
``subprocess.run(capture_output=True)``, as in signatures.md; ``--as-kib`` sets RLIMIT_AS in
the child before exec, so the limit hits the command and not this parent. ``--oom-score-adj``
raises the child's OOM score (no privilege needed), so that under a cgroup limit the kernel
kills the command rather than this parent, which is often the larger process early on.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Callable


def in_child(kib: int | None, oom_adj: int | None) -> Callable[[], None]:
    """What runs between fork and exec: the limits apply to the command only."""

    def setup() -> None:
        if oom_adj is not None:
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write(str(oom_adj))
        if kib is not None:
            resource.setrlimit(resource.RLIMIT_AS, (kib * 1024, kib * 1024))

    return setup


def mark(data: bytes) -> str:
    return "N" if data else "E"


def tail(data: bytes) -> str:
    lines = [line for line in data.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def measure(argv: list[str], setup: Callable[[], None], timeout: float) -> dict[str, object]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, timeout=timeout, preexec_fn=setup
        )
    except subprocess.TimeoutExpired:
        return {"signature": "timeout", "rc": None, "seconds": round(timeout, 1)}
    return {
        "signature": f"{done.returncode}/{mark(done.stdout)}/{mark(done.stderr)}",
        "rc": done.returncode,
        "stdout_bytes": len(done.stdout),
        "stderr_bytes": len(done.stderr),
        "stdout_tail": tail(done.stdout),
        "stderr_tail": tail(done.stderr),
        "seconds": round(time.monotonic() - started, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--as-kib", type=int, default=None, help="RLIMIT_AS for the child, KiB")
    parser.add_argument("--oom-score-adj", type=int, default=None, help="for the child")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    setup = in_child(args.as_kib, args.oom_score_adj)
    print(json.dumps(measure(argv, setup, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
