"""Hostile files in place of sdkboot's own: no hang, no crash, no exception into the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot import state
from sdkboot.cli import main
from tests.conftest import REPO, FaultLog
from tests.faults.deadline import deadline
from tests.faults.fakes import IMPORT_NAME, FakeBuilds, fault_spec, healthy

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, /dev/zero")

pytestmark = pytest.mark.usefixtures("restored_sys_path")


def test_d5_deeply_nested_install_state_is_corrupt_not_a_recursion_error(
    tmp_path: Path, fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("deeply nested install-state (D5)")
    root = tmp_path / "state"
    spec = healthy(root)
    (root / "install-state.json").write_text("[" * 100000)

    act = sdkboot.activate(spec)  # must answer, not raise into the host
    result = sdkboot.ensure(spec)

    log.trial([] if result.ok and not act.ok else [f"ensure: {result.err_kind}"])
    assert not act.ok and "corrupt" in act.reason
    assert result.outcome is sdkboot.Outcome.BUILT, result.err_kind
    log.check()


def test_d5_a_huge_cooldown_stamp_is_corrupt_not_an_overflow(
    tmp_path: Path, fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("huge numbers in the cooldown (D5)")
    root = tmp_path / "state"
    spec = fault_spec(root)
    root.mkdir()
    fp = state.fingerprint(spec)
    (root / "cooldown.json").write_text(
        '{"time": %s, "rc": -9, "phase": "pip", "fingerprint": %s}' % ("1" + "0" * 400, json.dumps(fp))
    )

    result = sdkboot.ensure(spec)

    log.trial([] if result.outcome is sdkboot.Outcome.BUILT else [f"ensure: {result.err_kind}"])
    assert result.outcome is sdkboot.Outcome.BUILT, result.err_kind
    log.check()


@posix_only
@pytest.mark.parametrize("name", ["install-state.json", "cooldown.json", "events.jsonl"])
def test_d6_a_fifo_never_hangs_ensure(
    tmp_path: Path, fake_builds: FakeBuilds, name: str, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("FIFO in place of a state file (D6)")
    root = tmp_path / "state"
    spec = healthy(root)
    if name == "cooldown.json":
        (root / "install-state.json").unlink()  # so that ensure() consults the cooldown
    (root / name).unlink(missing_ok=True)
    os.mkfifo(root / name)

    with deadline(10):
        result = sdkboot.ensure(spec)
        act = sdkboot.activate(spec)

    log.trial([] if result.ok else [f"{name}: {result.outcome.name} {result.err_kind}"])
    assert result.ok, (result.outcome, result.err_kind, result.message)
    assert act.ok or name == "install-state.json"
    log.check()


# /dev/zero is read in a child under a 1 GiB address-space limit: before the fix, a read of it
# grows until memory runs out, and that must not happen to the machine running the tests.
_ZERO = textwrap.dedent("""
    import resource, sys, json
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    sys.path.insert(0, {repo!r})
    import sdkboot
    from tests.faults.fakes import FakeBuilds, fault_spec
    import sdkboot.runner
    sdkboot.runner.run = FakeBuilds()
    spec = fault_spec(__import__("pathlib").Path({root!r}))
    try:
        act = sdkboot.activate(spec)
        activate = "ok" if act.ok else "refused"
    except BaseException as exc:
        activate = "raised " + type(exc).__name__
    result = sdkboot.ensure(spec)
    print(json.dumps({{"activate": activate, "ok": result.ok, "err": result.err_kind}}))
""")


@posix_only
@pytest.mark.parametrize("name", ["install-state.json", "cooldown.json", "events.jsonl"])
def test_d6_a_link_to_dev_zero_is_refused_not_read(
    tmp_path: Path, name: str, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("symlink to /dev/zero (D6)")
    root = tmp_path / "state"
    healthy(root)
    if name == "cooldown.json":
        (root / "install-state.json").unlink()  # so that ensure() consults the cooldown
    (root / name).unlink(missing_ok=True)
    (root / name).symlink_to("/dev/zero")

    done = subprocess.run(
        [sys.executable, "-c", _ZERO.format(repo=str(REPO), root=str(root))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(REPO),
    )

    answer = json.loads(done.stdout or "{}")
    lost = [] if answer.get("ok") and not str(answer.get("activate")).startswith("raised") else [str(answer)]
    log.trial(lost)
    assert answer.get("ok") is True, done.stderr[-500:] or answer
    assert not str(answer.get("activate")).startswith("raised"), answer
    log.check()


def test_d7_a_nul_byte_in_the_site_path_is_refused_not_raised(
    tmp_path: Path, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("NUL byte in a recorded path (D7)")
    root = tmp_path / "state"
    spec = healthy(root)
    data = json.loads((root / "install-state.json").read_text())
    data["builds"][0]["site"] = data["builds"][0]["site"] + "\0x"
    (root / "install-state.json").write_text(json.dumps(data))

    try:
        act = sdkboot.activate(spec)
    except ValueError as exc:
        log.trial([f"activate raised {exc!r}"])
        raise
    log.trial([] if not act.ok else ["activated a path with a NUL byte"])
    assert not act.ok
    log.check()


def test_d13_a_directory_named_like_the_state_file_does_not_waste_every_build(
    tmp_path: Path, fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("directory in place of install-state.json (D13)")
    root = tmp_path / "state"
    spec = fault_spec(root)
    (root / "install-state.json").mkdir(parents=True)

    first = sdkboot.ensure(spec)
    second = sdkboot.ensure(spec)

    log.trial([] if second.outcome is sdkboot.Outcome.NOOP_VENV else [f"{first.err_kind}, then {second.err_kind}"])
    assert first.outcome is sdkboot.Outcome.BUILT, first.err_kind
    assert second.outcome is sdkboot.Outcome.NOOP_VENV, second.err_kind
    log.check()


def test_d19_status_survives_a_huge_built_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("huge built_at (D19)")
    root = tmp_path / "state"
    healthy(root)
    text = (root / "install-state.json").read_text()
    data = json.loads(text)
    built_at = json.dumps(data["builds"][0]["built_at"])
    (root / "install-state.json").write_text(text.replace(built_at, "1" + "0" * 400))

    rc = main(["status", "--json", "--state-dir", str(root), "--import-name", IMPORT_NAME])

    out, err = capsys.readouterr()
    log.trial([] if rc == 1 and not err else [err.strip()])
    assert err == "" and rc == 1
    assert json.loads(out)["healthy"] is False
    log.check()
