"""A read-only state dir with a healthy env is a no-op, for ensure and hook alike (D17)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import pytest

from sdkboot.cli import main
from tests.conftest import FaultLog, made_read_only
from tests.fake_envs import fake_env
from tests.faults.fakes import FILES, IMPORT_NAME, fault_spec

pytestmark = pytest.mark.usefixtures("restored_sys_path")


def test_d17_a_read_only_state_dir_with_a_healthy_env_is_a_noop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("read-only state dir with a healthy env (D17)")
    root = tmp_path / "state"
    fake_env(root, spec=fault_spec(root), files=FILES)
    argv = [
        "--state-dir",
        str(root),
        "--import-name",
        IMPORT_NAME,
        "--min-python",
        "%d.%d" % sys.version_info[:2],
        "sdkboot-fault-dist",
    ]
    with made_read_only(root):
        ensure_rc = main(["ensure", *argv])
        ensure_out = capsys.readouterr()
        hook_rc = main(["hook", *argv])
        hook_out = capsys.readouterr()
    lines = hook_out.out.splitlines()
    wrong = [] if ensure_rc == 0 else [f"ensure exit {ensure_rc}: {ensure_out.err.strip()}"]
    wrong += [] if hook_rc == 0 and len(lines) == 2 else [f"hook exit {hook_rc}, {len(lines)} lines"]
    log.trial(wrong)
    assert wrong == []
    assert json.loads(lines[1])["metrics"]["sdk_bootstrap"] == 1  # NOOP_VENV
    log.check()
