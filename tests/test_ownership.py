"""The ownership rule: the state dir and its parents up to home (or a root-owned sticky dir)
belong to this user or root and are not writable by others; below it, no links."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sdkboot import ownership

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX owners and modes")
NOBODY = 65534


def chain(tmp_path: Path, *names: str) -> Path:
    path = tmp_path
    for name in names:
        path = path / name
        path.mkdir()
        path.chmod(0o755)
    return path


def test_a_private_chain_is_fine(tmp_path: Path) -> None:
    root = chain(tmp_path, "a", "state")
    assert ownership.dir_problem(str(root)) is None
    assert ownership.dir_problem(str(root / "not" / "yet" / "created")) is None


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757, 0o1777])
def test_a_writable_state_dir_is_named(tmp_path: Path, mode: int) -> None:
    root = chain(tmp_path, "state")
    root.chmod(mode)
    assert ownership.dir_problem(str(root)) == (
        f"{root} is group- or world-writable ({__import__('stat').filemode(root.stat().st_mode)})"
    )


def test_a_writable_parent_is_named_even_before_the_state_dir_exists(tmp_path: Path) -> None:
    shared = chain(tmp_path, "shared")
    shared.chmod(0o777)
    reason = ownership.dir_problem(str(shared / "state"))
    assert reason is not None and reason.startswith(f"{shared} is group- or world-writable")


def test_the_walk_stops_at_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = chain(tmp_path, "top")
    home = chain(top, "home")
    top.chmod(0o777)  # above home: not this rule's business (the admin's)
    monkeypatch.setenv("HOME", str(home))
    assert ownership.dir_problem(str(home / ".local" / "state")) is None
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    assert ownership.dir_problem(str(home / ".local" / "state")) is not None


def test_a_sticky_parent_stops_the_walk_only_when_root_owns_it(tmp_path: Path) -> None:
    public = chain(tmp_path, "public")
    public.chmod(0o1777)
    root = chain(public, "mine")
    reason = ownership.dir_problem(str(root))
    if os.geteuid() == 0:
        assert reason is None  # like /tmp: others may add entries, never replace ours
    else:
        assert reason is not None and str(public) in reason


def test_tmp_itself_is_a_stop() -> None:
    import tempfile

    private = tempfile.mkdtemp()
    try:
        assert ownership.dir_problem(private) is None
    finally:
        os.rmdir(private)


def test_a_link_in_the_chain_is_followed_and_its_target_checked(tmp_path: Path) -> None:
    good = chain(tmp_path, "good", "state")
    bad_parent = chain(tmp_path, "bad")
    bad = chain(bad_parent, "state")
    bad_parent.chmod(0o777)
    (tmp_path / "to-good").symlink_to(good, target_is_directory=True)
    (tmp_path / "to-bad").symlink_to(bad, target_is_directory=True)
    assert ownership.dir_problem(str(tmp_path / "to-good")) is None
    reason = ownership.dir_problem(str(tmp_path / "to-bad" / "sub"))
    assert reason is not None and str(bad_parent) in reason


def test_an_entry_owned_by_another_user_is_named_without_root() -> None:
    # The same rule as the root test below, on a stat result: it runs in the unit tier everywhere.
    st = os.stat_result((0o40700, 1, 1, 1, 4321, 4321, 0, 0, 0, 0))
    assert ownership.entry_problem("/s", st, me=1234) == "/s is owned by uid 4321, not by this user"
    assert ownership.entry_problem("/s", os.stat_result((0o40700, 1, 1, 1, 0, 0, 0, 0, 0, 0)), me=1234) is None


@pytest.mark.root
@pytest.mark.linux
def test_a_dir_owned_by_another_user_is_named(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        from tests.conftest import require_capability

        require_capability("needs root to chown a dir to another user")
    root = chain(tmp_path, "state")
    os.chown(root, NOBODY, NOBODY)
    assert ownership.dir_problem(str(root)) == f"{root} is owned by uid {NOBODY}, not by this user"


# -- below the state dir ----------------------------------------------------------------------


def test_tree_inside_the_state_dir(tmp_path: Path) -> None:
    root = chain(tmp_path, "state")
    site = chain(root, "builds", "venv-1", "lib")
    assert ownership.tree_problem(str(site), str(root)) is None
    assert ownership.tree_problem(str(tmp_path / "state-evil" / "x"), str(root)) == (
        f"{tmp_path / 'state-evil' / 'x'} is outside the state dir {root}"
    )
    assert ownership.tree_problem(str(root), str(root)) is not None  # the root is no site dir


def test_tree_refuses_a_link_and_a_writable_dir(tmp_path: Path) -> None:
    root = chain(tmp_path, "state")
    builds = chain(root, "builds")
    (builds / "link").symlink_to(tmp_path, target_is_directory=True)
    assert ownership.tree_problem(str(builds / "link" / "x"), str(root)) is not None
    assert ownership.tree_problem(str(builds / "link"), str(root)) == (
        f"{builds / 'link'} is a symlink inside the state dir (refused)"
    )
    env = chain(builds, "venv-1")
    builds.chmod(0o777)
    reason = ownership.tree_problem(str(env), str(root))
    assert reason is not None and reason.startswith(f"{builds} is group- or world-writable")


def test_tree_accepts_the_real_path_of_a_linked_state_dir(tmp_path: Path) -> None:
    """A build may report its site dir by the real path (macOS /var -> /private/var)."""
    real = chain(tmp_path, "real")
    site = chain(real, "builds", "venv-1")
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    assert ownership.tree_problem(str(site), str(tmp_path / "linked")) is None


def test_private_dir_creates_and_repairs_its_own_dir(tmp_path: Path) -> None:
    builds = tmp_path / "state" / "builds"
    ownership.private_dir(str(builds))
    assert builds.stat().st_mode & 0o777 == 0o700
    builds.chmod(0o777)
    ownership.private_dir(str(builds))
    assert builds.stat().st_mode & 0o777 == 0o700
    link = tmp_path / "state" / "linked"
    link.symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(PermissionError, match="symlink"):
        ownership.private_dir(str(link))


def test_startup_files_and_path_problem(tmp_path: Path) -> None:
    site = chain(tmp_path, "site")
    (site / "b.pth").write_text("x\n")
    (site / "a.pth").write_text("x\n")
    (site / "m.py").write_text("")
    assert ownership.startup_files(str(site)) == (str(site / "a.pth"), str(site / "b.pth"))
    assert ownership.startup_files(str(tmp_path / "absent")) == ()
    (site / "a.pth").chmod(0o666)
    assert ownership.path_problem(str(site / "a.pth")) is not None
    assert ownership.path_problem(str(site / "b.pth")) is None


def test_a_private_state_dir_shields_what_is_inside(tmp_path: Path) -> None:
    """0700 (as sdkboot makes it): nobody else can even enter, so a 0777 dir inside is nobody
    else's to write, and the no-op path need not lstat every level below."""
    root = chain(tmp_path, "state")
    site = chain(root, "builds", "env", "site")
    (root / "builds").chmod(0o777)
    assert ownership.site_problem(str(site), str(root)) is not None  # 0755: others may enter
    root.chmod(0o700)
    assert ownership.site_problem(str(site), str(root)) is None
    assert ownership.site_problem(str(tmp_path / "elsewhere"), str(root)) is not None  # still only inside
    root.chmod(0o777)
    assert ownership.site_problem(str(site), str(root)) is not None  # the state dir's own rule first
