"""Links planted in the state dir: nothing outside it is ever deleted, truncated or appended to."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot.cli import main
from tests.conftest import FaultLog
from tests.faults.fakes import IMPORT_NAME, FakeBuilds, fault_spec, healthy

pytestmark = [
    pytest.mark.usefixtures("restored_sys_path"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks"),
]


def test_d2_status_never_truncates_through_a_lock_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("symlinked build.lock (D2)")
    root = tmp_path / "state"
    spec = healthy(root)
    victim = tmp_path / "thesis.txt"
    victim.write_text("three years of work\n")
    (root / "build.lock").symlink_to(victim)

    main(["status", "--state-dir", str(root), "--import-name", IMPORT_NAME])
    log.trial([] if victim.read_text() == "three years of work\n" else ["status truncated the victim's file"])
    sdkboot.ensure(fault_spec(root, "other-dist"))  # the build path takes the lock
    log.trial([] if victim.read_text() == "three years of work\n" else ["ensure truncated the victim's file"])
    capsys.readouterr()
    assert victim.read_text() == "three years of work\n"
    assert spec.root == str(root)
    log.check()


def test_d4_the_event_log_is_never_appended_through_a_symlink(
    tmp_path: Path, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("symlinked events.jsonl (D4)")
    root = tmp_path / "state"
    spec = healthy(root)
    victim = tmp_path / "victim.conf"
    victim.write_text("setting = 1\n")
    (root / "events.jsonl").symlink_to(victim)

    result = sdkboot.ensure(spec)

    log.trial([] if victim.read_text() == "setting = 1\n" else ["appended to the victim's file"])
    assert result.outcome is sdkboot.Outcome.NOOP_VENV
    assert victim.read_text() == "setting = 1\n"
    log.check()
