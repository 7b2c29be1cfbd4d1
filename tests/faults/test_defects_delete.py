"""Deletes stay inside sdkboot's own state dir, never follow a link, and leave no orphans behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot.cli import main
from tests.conftest import FaultLog
from tests.faults.fakes import FakeBuilds, fault_spec, healthy, tree

pytestmark = [
    pytest.mark.usefixtures("restored_sys_path"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks"),
]


def projects(tmp_path: Path) -> Path:
    """The victim's own data, outside the state dir."""
    top = tmp_path / "projects"
    (top / "work" / "src").mkdir(parents=True)
    (top / "work" / "src" / "main.py").write_text("print('mine')\n")
    (top / "notes.txt").write_text("precious\n")
    return top


def test_d1_cleanup_never_follows_a_builds_symlink(
    tmp_path: Path, fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("symlinked builds dir (D1)")
    root = tmp_path / "state"
    healthy(root)
    victim = projects(tmp_path)
    before = tree(victim)
    shutil.rmtree(root / "builds")
    (root / "builds").symlink_to(victim, target_is_directory=True)

    result = sdkboot.ensure(fault_spec(root, "other-dist"))  # a changed requirement: a rebuild

    log.trial(["the victim's projects were changed"] if tree(victim) != before else [])
    assert tree(victim) == before, result.message
    assert not result.ok
    log.check()


def test_d24_clean_deletes_nothing_in_a_dir_that_is_not_sdkboots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("clean in a foreign dir (D24)")
    project = projects(tmp_path)
    (project / "builds" / "release-1").mkdir(parents=True)
    (project / "builds" / "release-1" / "app.tar").write_text("artifact\n")
    before = tree(project)

    rc = main(["clean", "--yes", "--state-dir", str(project)])

    _out, err = capsys.readouterr()
    log.trial([] if tree(project) == before else ["clean deleted the project's builds"])
    assert tree(project) == before
    assert rc == 2 and "not an sdkboot state dir" in err and err.count("\n") == 1
    log.check()


def test_d22_orphaned_temp_files_are_swept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("temp files left by a kill mid-write (D22)")
    root = tmp_path / "state"
    spec = fault_spec(root)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    root.mkdir()
    # One from a dead writer, one from an older version (mkstemp's name: no pid, so age decides).
    orphans = [root / f".tmp-{dead}-0a1b2c.json", root / ".tmp-k3j4h5g6.json"]
    for orphan in orphans:
        orphan.write_text('{"half": ')
        old = time.time() - 3600
        os.utime(orphan, (old, old))
    assert sdkboot.ensure(spec).outcome is sdkboot.Outcome.BUILT
    left = [p.name for p in orphans if p.exists()]
    log.trial([f"ensure left {left}"] if left else [])
    for orphan in orphans:
        orphan.write_text('{"half": ')
        os.utime(orphan, (old, old))
    rc = main(["clean", "--yes", "--state-dir", str(root)])
    capsys.readouterr()
    left = [p.name for p in orphans if p.exists()]
    log.trial([f"clean left {left}"] if left else [])
    assert rc == 0
    log.check()
