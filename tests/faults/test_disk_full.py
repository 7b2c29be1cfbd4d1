"""A disk that fills up mid-rebuild (a small tmpfs, as root): the build fails and says why, the
published env still activates, no stage, temp file or lock is left, and space freed means a build."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from tests.conftest import PROBE_DIST, FaultLog, require_capability
from tests.faults import real

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.linux]
# Bytes left free before each rebuild: from nothing at all to enough for the whole tiny build.
LEFT_FREE = (0, 4096, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024)
DISK_FULL_KINDS = ("disk_full", "exc:OSError:28")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        require_capability("needs root on Linux to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        require_capability(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A filler file that leaves ``leave`` bytes free on ``disk``."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    size = max(0, st.f_bavail * st.f_frsize - leave)
    with open(filler, "wb") as handle:
        if size:
            try:
                os.posix_fallocate(handle.fileno(), 0, size)
            except OSError:
                pass  # as full as it gets
    return filler


def test_disk_full_mid_rebuild_loses_nothing(
    small_disk: Path, probe_wheelhouse: Path, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("disk full during a rebuild")
    root = small_disk / "state"
    assert real.ensure(root, probe_wheelhouse)["outcome"] == "BUILT"
    for trial, leave in enumerate(LEFT_FREE):
        filler = fill(small_disk, leave)
        result = real.ensure(root, probe_wheelhouse, f"{PROBE_DIST}>=0.{trial}")
        filler.unlink()
        outcome, kind = result.get("outcome"), str(result.get("err_kind"))
        lost = (
            []
            if outcome == "BUILT" or (outcome == "BUILD_FAILED" and kind in DISK_FULL_KINDS)
            else [f"{leave} bytes free: {outcome} {kind} {result.get('stderr', '')}"]
        )
        lost += [] if real.activates(root) is None else [f"{leave} bytes free: {real.activates(root)}"]
        lost += [] if real.lock_free(root) else [f"{leave} bytes free: the lock stayed held"]
        lost += [f"{leave} bytes free: left {real.strays(root)}"] if real.strays(root) else []
        lost += [f"{leave} bytes free: temp files {real.temp_files(root)}"] if real.temp_files(root) else []
        log.trial(lost)
    # With the space back, the rebuild goes through.
    assert real.ensure(root, probe_wheelhouse, f"{PROBE_DIST}>=1")["outcome"] == "BUILT"
    log.check()


def test_a_signal_kill_on_a_full_disk_still_cools_down(
    small_disk: Path, probe_wheelhouse: Path, tmp_path: Path, fault_log: Callable[[str], FaultLog]
) -> None:
    """The step fills the disk, then dies by SIGKILL (a memory kill as the disk ran out): the
    result is the signal kill, not errno 28, and the cooldown is armed (D12's behaviour)."""
    from tests.interpreters import write_wrapper

    log = fault_log("signal kill on a full disk")
    filler = small_disk / "filler"
    fills_then_dies = f'if [ "$2" = "venv" ]; then cat /dev/zero > "{filler}" 2>/dev/null; kill -9 $$; fi\n'
    python = write_wrapper(tmp_path / "py-fills-then-dies", fills_then_dies)
    for trial in range(3):
        root = small_disk / f"state-{trial}"
        result = real.ensure(root, probe_wheelhouse, PROBE_DIST, "--python", str(python), "--strategy", "venv")
        record = (root / "cooldown.json").read_text() if (root / "cooldown.json").exists() else ""
        filler.unlink(missing_ok=True)
        lost = [] if result.get("err_kind") == "signal_killed:-9" else [f"reported as {result.get('err_kind')}"]
        lost += [] if '"rc": -9' in record else [f"no cooldown armed ({record[:80]!r})"]
        lost += [] if real.lock_free(root) else ["the lock stayed held"]
        lost += [] if not real.builds(root) else [f"the stage was left: {real.builds(root)}"]
        log.trial(lost)
    log.check()
