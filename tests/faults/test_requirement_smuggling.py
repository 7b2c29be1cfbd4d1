"""Options smuggled in as requirements never reach pip (D20)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot.cli import main
from tests.conftest import FaultLog
from tests.faults.fakes import IMPORT_NAME, FakeBuilds, fault_spec

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="flock, POSIX processes")

pytestmark = pytest.mark.usefixtures("restored_sys_path")


def test_d20_an_option_smuggled_as_a_requirement_never_reaches_pip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("options smuggled as requirements (D20)")
    root = tmp_path / "state"
    for smuggled in (
        "--log=/tmp/x://y",
        "-r/etc/passwd",
        "--index-url=http://evil://x",
        "x; --y://z",
        "./local://dir",
        "https://example.org/a.whl",
    ):
        rc = main(["ensure", "--state-dir", str(root), "--import-name", IMPORT_NAME, "--", smuggled])
        _, err = capsys.readouterr()
        log.trial([] if rc == 2 and not fake_builds.calls else [f"{smuggled!r}: rc {rc} {err.strip()}"])
    assert fake_builds.calls == []
    # Through the API a bad requirement fails before any spawn, and good ones reach pip after `--`.
    bad = sdkboot.ensure(fault_spec(root, "--log=/tmp/x://y"))
    log.trial([] if not bad.ok and fake_builds.calls == [] else ["the API spawned pip for an option"])
    good = sdkboot.ensure(fault_spec(root, "sdkboot-fault-dist>=1"))
    [pip] = [argv for argv in fake_builds.calls if "install" in argv]
    log.trial([] if good.ok and pip[-2:] == ["--", "sdkboot-fault-dist>=1"] else [f"pip argv: {pip}"])
    assert good.ok and pip[-2:] == ["--", "sdkboot-fault-dist>=1"]
    log.check()
