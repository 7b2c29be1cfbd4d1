"""The ownership rule: a state dir another user could write is refused by ensure, activate and clean alike."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot import events
from sdkboot.cli import main
from sdkboot.layout import Layout
from tests.conftest import FaultLog
from tests.fake_envs import fake_env
from tests.faults.fakes import FILES, IMPORT_NAME, FakeBuilds, healthy, tree

pytestmark = [
    pytest.mark.usefixtures("restored_sys_path"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners and modes"),
]
NOBODY = 65534


def refused_everywhere(spec: sdkboot.Spec, at_fault: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What each entry point did wrong, if anything: each must refuse, naming ``at_fault``."""
    wrong = []
    result = sdkboot.ensure(spec)
    if result.ok or result.err_kind != "perm_denied" or str(at_fault) not in result.message:
        wrong.append(f"ensure: {result.outcome.name} {result.err_kind} {result.message}")
    act = sdkboot.activate(spec)
    if act.ok or str(at_fault) not in act.reason:
        wrong.append(f"activate: {act.reason}")
    rc = main(["clean", "--yes", "--state-dir", spec.root])
    _, err = capsys.readouterr()
    if rc != 2 or str(at_fault) not in err:
        wrong.append(f"clean: rc {rc} {err.strip()}")
    return wrong


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_d8_a_writable_state_dir_is_refused_by_ensure_activate_and_clean(
    tmp_path: Path,
    mode: int,
    capsys: pytest.CaptureFixture[str],
    fake_builds: FakeBuilds,
    fault_log: Callable[[str], FaultLog],
) -> None:
    log = fault_log("group/world-writable state dir (D8)")
    root = tmp_path / "state"
    spec = healthy(root)
    root.chmod(mode)
    before = tree(root)

    wrong = refused_everywhere(spec, root, capsys)

    log.trial(wrong + ([] if tree(root)[: len(before)] and _same_env(before, root) else ["the env changed"]))
    assert wrong == []
    [line] = [json.loads(line) for line in events.read_lines(Layout(str(root)).events_file)]
    assert line["err_kind"] == "perm_denied" and str(root) in line["message"]
    assert fake_builds.calls == []
    log.check()


def _same_env(before: list[str], root: Path) -> bool:
    return [entry for entry in tree(root) if entry.startswith("builds")] == [
        entry for entry in before if entry.startswith("builds")
    ]


def test_d8_a_writable_parent_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("group/world-writable parent dir (D3, D8)")
    shared = tmp_path / "shared"
    root = shared / "state"
    spec = healthy(root)
    shared.chmod(0o777)  # another user could rename `state` away and put their own in its place

    wrong = refused_everywhere(spec, shared, capsys)

    log.trial(wrong)
    assert wrong == []
    log.check()


def test_d8_an_env_outside_the_state_dir_is_not_a_noop(
    tmp_path: Path, fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("install-state pointing outside the state dir (D8)")
    root = tmp_path / "state"
    spec = healthy(root)
    elsewhere = fake_env(tmp_path / "elsewhere", spec=spec, files=FILES)
    data = json.loads((root / "install-state.json").read_text())
    data["builds"][0].update(env=elsewhere.env, site=elsewhere.site, paths=list(elsewhere.paths))
    (root / "install-state.json").write_text(json.dumps(data))

    before_activate = sdkboot.activate(spec)
    result = sdkboot.ensure(spec)  # must not call that healthy: it rebuilds inside the state dir
    after = sdkboot.activate(spec)

    log.trial([] if result.outcome is sdkboot.Outcome.BUILT and after.ok else [result.outcome.name])
    assert not before_activate.ok and "outside the state dir" in before_activate.reason
    assert result.outcome is sdkboot.Outcome.BUILT, result.message
    assert after.ok and after.path is not None and after.path.startswith(str(root))
    log.check()


@pytest.mark.root
@pytest.mark.linux
def test_d3_a_state_dir_owned_by_another_user_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    if os.geteuid() != 0:
        from tests.conftest import require_capability

        require_capability("needs root to chown a state dir to another user")
    log = fault_log("state dir owned by another user (D3)")
    victim_file = tmp_path / "victim.txt"
    victim_file.write_text("mine\n")
    projects = tmp_path / "projects"
    (projects / "work").mkdir(parents=True)
    (projects / "work" / "a.py").write_text("x = 1\n")
    before = tree(projects)
    # Another user pre-creates the shared path: its lock links to the victim's file, its builds to
    # the victim's projects.
    root = tmp_path / "state"
    spec = healthy(root)
    (root / "build.lock").symlink_to(victim_file)
    for entry in [root, *root.rglob("*")]:
        os.lchown(entry, NOBODY, NOBODY)

    main(["status", "--state-dir", str(root), "--import-name", IMPORT_NAME])
    wrong = refused_everywhere(spec, root, capsys)

    wrong += [] if victim_file.read_text() == "mine\n" else ["the victim's file was truncated"]
    wrong += [] if tree(projects) == before else ["the victim's projects changed"]
    log.trial(wrong)
    assert wrong == []
    log.check()
