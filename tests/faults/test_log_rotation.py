"""The event log rotated by many sessions at once (D21)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import REPO, FaultLog

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="flock, POSIX processes")

pytestmark = pytest.mark.usefixtures("restored_sys_path")


@posix_only
def test_d21_concurrent_rotation_never_replaces_the_history(
    tmp_path: Path, fault_log: Callable[[str], FaultLog]
) -> None:
    """16 processes append across the rotation limit: the rotated file is always a full one."""
    log = fault_log("concurrent log rotation (D21)")
    path = tmp_path / "events.jsonl"
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from sdkboot import events
        events.MAX_BYTES = 20000
        smallest = 10 ** 9
        for n in range(150):
            events.append({str(path)!r}, {{"n": n, "pad": "x" * 200}})
            try:
                smallest = min(smallest, os.stat({str(path) + ".1"!r}).st_size)
            except OSError:
                pass
        print(smallest)
    """)
    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(16)]
    smallest = [int((child.communicate(timeout=120)[0] or "0").strip() or 0) for child in children]
    for size in smallest:
        log.trial([f"the rotated history shrank to {size} bytes"] if size < 20000 else [])
    assert min(smallest) >= 20000
    log.check()
