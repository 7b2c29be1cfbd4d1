"""Hostile permissions and links around a healthy env: ensure and activate() agree on every one
(both refuse, or ensure repairs by rebuilding and activate() then accepts), and nothing outside
the state dir is ever touched."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

import sdkboot
from tests.conftest import FaultLog
from tests.fake_envs import fake_env
from tests.faults.fakes import FILES, FakeBuilds, fault_spec, tree

pytestmark = [
    pytest.mark.usefixtures("restored_sys_path"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners, modes and links"),
]
NOBODY = 65534


def _site(root: Path) -> Path:
    return Path(sdkboot.state.load(sdkboot.layout.Layout(str(root))).builds[0].site)


def _relink_builds(root: Path, victim: Path) -> None:
    shutil.rmtree(root / "builds")
    (root / "builds").symlink_to(victim, target_is_directory=True)


def _site_link(root: Path, victim: Path) -> None:
    site = _site(root)
    real = site.with_name("real-site")
    site.rename(real)
    site.symlink_to(real, target_is_directory=True)


# name -> (how to spoil a healthy state dir, what ensure must do: "refuse" or "rebuild")
SCENARIOS: dict[str, tuple[Any, ...]] = {
    "state dir 0777": (lambda root, victim: root.chmod(0o777), "refuse"),
    "state dir 0775": (lambda root, victim: root.chmod(0o775), "refuse"),
    "state dir 1777": (lambda root, victim: root.chmod(0o1777), "refuse"),
    "parent 0777": (lambda root, victim: root.parent.chmod(0o777), "refuse"),
    "parent 0757": (lambda root, victim: root.parent.chmod(0o757), "refuse"),
    "builds a link to the user's dir": (_relink_builds, "refuse"),
    "builds 0777": (lambda root, victim: (root / "builds").chmod(0o777), "rebuild"),
    "env dir 0775": (lambda root, victim: _site(root).parent.parent.parent.chmod(0o775), "rebuild"),
    "site dir 0777": (lambda root, victim: _site(root).chmod(0o777), "rebuild"),
    "site dir a link inside the env": (_site_link, "rebuild"),
}


def _agree(root: Path, expect: str) -> list[str]:
    spec = fault_spec(root)
    before = sdkboot.activate(spec)
    result = sdkboot.ensure(spec)
    after = sdkboot.activate(spec)
    wrong = [] if not before.ok else [f"activate() accepted the spoiled env: {before.path}"]
    if expect == "refuse":
        wrong += (
            []
            if result.err_kind == "perm_denied" or (result.phase.label == "pre" and not result.ok)
            else [f"ensure: {result.outcome.name} {result.err_kind}"]
        )
        wrong += [] if not after.ok else ["activate() accepted it after ensure refused"]
    else:
        wrong += [] if result.outcome is sdkboot.Outcome.BUILT else [f"ensure: {result.outcome.name} {result.err_kind}"]
        wrong += [] if after.ok else [f"activate() refused the rebuilt env: {after.reason}"]
    return wrong


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_ensure_and_activate_agree(
    tmp_path: Path, scenario: str, fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    log = fault_log("hostile permissions and links")
    spoil, expect = SCENARIOS[scenario]
    victim = tmp_path / "user"
    (victim / "work").mkdir(parents=True)
    (victim / "work" / "a.txt").write_text("mine\n")
    before = tree(victim)
    top = tmp_path / "top"
    top.mkdir(mode=0o755)
    root = top / "state"
    fake_env(root, spec=fault_spec(root), files=FILES)
    spoil(root, victim)
    wrong = _agree(root, expect)
    wrong += [] if tree(victim) == before else ["the user's dir changed"]
    log.trial([f"{scenario}: {w}" for w in wrong])
    top.chmod(0o755)
    log.check()


@pytest.mark.root
@pytest.mark.linux
@pytest.mark.parametrize("which", ["state dir", "builds", "env dir"])
def test_another_users_entries(
    tmp_path: Path, which: str, fake_builds: FakeBuilds, fault_log: Callable[[str], FaultLog]
) -> None:
    if os.geteuid() != 0:
        from tests.conftest import require_capability

        require_capability("needs root to give an entry to another user")
    log = fault_log("hostile permissions and links")
    root = tmp_path / "state"
    record = fake_env(root, spec=fault_spec(root), files=FILES)
    target = {"state dir": root, "builds": root / "builds", "env dir": Path(record.env)}[which]
    os.chown(target, NOBODY, NOBODY)
    # Another user's state dir or builds dir is refused; their env dir inside ours is rebuilt around.
    expect = "rebuild" if which == "env dir" else "refuse"
    log.trial([f"{which} owned by uid {NOBODY}: {w}" for w in _agree(root, expect)])
    log.check()
