"""The survivor census: every descendant that outlives a run is counted, wherever it went."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from repro import limits, survivors
from tests.repro.conftest import gone_within


def _fake_proc(root: Path, pid: int, environ: list[str], state: str = "S") -> None:
    entry = root / str(pid)
    entry.mkdir()
    (entry / "environ").write_bytes(b"\0".join(v.encode() for v in environ) + b"\0")
    (entry / "stat").write_text(f"{pid} (python3 x) {state} 1 1 1 0\n")
    (entry / "cmdline").write_bytes(b"python3\0-m\0pip\0")


def test_marked_finds_live_processes_with_the_mark_only(tmp_path: Path) -> None:
    mark = f"{survivors.MARK_VARIABLE}=abc"
    _fake_proc(tmp_path, 10, ["HOME=/root", mark])
    _fake_proc(tmp_path, 11, [mark], state="Z")  # dead, not yet reaped
    _fake_proc(tmp_path, 12, [f"{mark}d"])  # another run's mark
    _fake_proc(tmp_path, 13, ["HOME=/root"])
    (tmp_path / "self").mkdir()
    found = survivors.marked("abc", tmp_path)
    assert [(s.pid, s.command) for s in found] == [(10, "python3 -m pip")]
    assert survivors.marked("abc", tmp_path / "absent") == []


def test_census_waits_out_the_grace_only_while_someone_is_alive(tmp_path: Path) -> None:
    started = time.monotonic()
    assert survivors.census("abc", grace=5.0, proc=tmp_path) == []
    assert time.monotonic() - started < 5.0  # nobody alive: no waiting at all
    _fake_proc(tmp_path, 10, [f"{survivors.MARK_VARIABLE}=abc"])
    assert [s.pid for s in survivors.census("abc", grace=0.1, proc=tmp_path)] == [10]


@pytest.mark.linux
def test_a_run_counts_the_orphan_that_escaped_its_session(tmp_path: Path) -> None:
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc: the census reads /proc/*/environ")
    pid_file = tmp_path / "orphan.pid"
    # The child starts a grandchild in a session of its own (as pip's runner does), then exits.
    code = (
        "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(120)'], start_new_session=True); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))"
    )
    run = limits.run([sys.executable, "-c", code], timeout=60, mark=survivors.new_mark())
    assert run.rc == 0
    orphan = int(pid_file.read_text())
    assert [int(s.split()[0]) for s in run.survivors] == [orphan]
    assert gone_within(orphan, 30.0)  # counted, then killed by the harness


@pytest.mark.linux
def test_a_clean_run_has_no_survivors_and_costs_no_grace() -> None:
    started = time.monotonic()
    run = limits.run([sys.executable, "-c", "pass"], timeout=60, mark=survivors.new_mark())
    assert (run.rc, run.survivors) == (0, ())
    assert time.monotonic() - started < 30  # no 1 s grace per run... with room for a loaded machine
