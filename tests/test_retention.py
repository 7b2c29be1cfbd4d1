"""Retention: superseded, unnamed, surplus and long-unused builds go; a build in use never does."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdkboot import inuse, state
from sdkboot.layout import Layout
from sdkboot.retention import KEEP_BUILDS, MAX_UNUSED_SECONDS, sweep
from tests.fake_envs import fake_env, spec_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock")
NOW = time.time()


@pytest.fixture(autouse=True)
def released() -> Iterator[None]:
    yield
    inuse.release_all()


def built(root: Path, n: int, used: float = NOW) -> state.InstallState:
    record = fake_env(root, spec=spec_for(root, requirements=(f"pkg=={n}.0",)), name=f"venv-{n}")
    os.utime(inuse.use_file(record.env), (used, used))
    return record


def names(root: Path) -> list[str]:
    return sorted(os.listdir(root / "builds"))


def test_superseded_and_unnamed_dirs_go_and_the_builds_stay(tmp_path: Path) -> None:
    root = tmp_path / "state"
    one = built(root, 1)
    stray = root / "builds" / "venv-killed-stage"
    stray.mkdir()
    state.retire(Layout(str(root)), str(root / "builds" / "venv-superseded"))
    (root / "builds" / "venv-superseded").mkdir()

    done = sweep(Layout(str(root)), now=NOW)

    assert sorted(done.removed) == [str(root / "builds" / name) for name in ("venv-killed-stage", "venv-superseded")]
    assert names(root) == ["venv-1"] and state.load(Layout(str(root))) == state.Installs((one,))


def test_beyond_the_bound_the_least_recently_used_go(tmp_path: Path) -> None:
    root = tmp_path / "state"
    records = [built(root, n, used=NOW - 100 * n) for n in range(KEEP_BUILDS + 2)]
    done = sweep(Layout(str(root)), now=NOW)
    assert done.removed == [records[-2].env, records[-1].env]
    assert [b.env for b in state.load(Layout(str(root))).builds] == [r.env for r in records[:KEEP_BUILDS]]


def test_keep_is_kept_even_when_it_is_the_oldest(tmp_path: Path) -> None:
    root = tmp_path / "state"
    records = [built(root, n, used=NOW - 100 * (KEEP_BUILDS - n)) for n in range(KEEP_BUILDS + 1)]
    done = sweep(Layout(str(root)), keep=records[0].env, now=NOW)
    assert records[0].env not in done.removed and len(done.removed) == 1


def test_a_build_unused_for_too_long_goes(tmp_path: Path) -> None:
    root = tmp_path / "state"
    fresh, stale = built(root, 1), built(root, 2, used=NOW - MAX_UNUSED_SECONDS - 60)
    assert sweep(Layout(str(root)), now=NOW).removed == [stale.env]
    assert sweep(Layout(str(root)), now=NOW, max_age=0).removed == [fresh.env]


def test_a_build_in_use_is_never_removed(tmp_path: Path) -> None:
    root = tmp_path / "state"
    stale = built(root, 1, used=NOW - MAX_UNUSED_SECONDS - 60)
    superseded = built(root, 2)
    state.save(Layout(str(root)), state.Installs((stale,), (superseded.env,)))
    assert inuse.hold(stale.env) is None and inuse.hold(superseded.env) is None
    # hold() marked them used now; make the stale one stale again
    os.utime(inuse.use_file(stale.env), (NOW - MAX_UNUSED_SECONDS - 60,) * 2)

    done = sweep(Layout(str(root)), now=NOW)

    assert done.removed == [] and sorted(done.in_use) == sorted([stale.env, superseded.env])
    assert names(root) == ["venv-1", "venv-2"]
    assert state.load(Layout(str(root))) == state.Installs((stale,), (superseded.env,)), "kept on the lists"
    inuse.release_all()
    assert sorted(sweep(Layout(str(root)), now=NOW).removed) == sorted([stale.env, superseded.env])


def test_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "state"
    stale = built(root, 1, used=NOW - MAX_UNUSED_SECONDS - 60)
    before = Path(root / "install-state.json").read_bytes()
    assert sweep(Layout(str(root)), now=NOW, dry_run=True).removed == [stale.env]
    assert names(root) == ["venv-1"] and Path(root / "install-state.json").read_bytes() == before


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_only_real_dirs_under_builds_are_deleted(tmp_path: Path) -> None:
    root = tmp_path / "state"
    built(root, 1)
    victim = tmp_path / "projects"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    (root / "builds" / "link").symlink_to(victim, target_is_directory=True)
    state.retire(Layout(str(root)), str(victim), str(root / "builds" / "link"))

    sweep(Layout(str(root)), now=NOW)

    assert (victim / "precious").read_text() == "keep me"


class Killed(BaseException):
    """A SIGKILL stand-in: raised from inside the sweep, caught by nobody in sdkboot."""


def test_a_kill_between_forgetting_and_deleting_leaves_the_dir_retired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen for real: a rebuild killed mid-prune left a build that no record named, and the
    # next session's no-op sweeps only ``retired``, so the dir stayed for good.
    from sdkboot import safefs

    root = tmp_path / "state"
    records = [built(root, n, used=NOW - 100 * n) for n in range(KEEP_BUILDS + 1)]
    doomed = records[-1].env

    def killed(path: str, root: str) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(safefs, "remove_quietly", killed)
        with pytest.raises(Killed):
            sweep(Layout(str(root)), now=NOW)
    after_kill = state.load(Layout(str(root)))
    assert doomed not in [b.env for b in after_kill.builds] and doomed in after_kill.retired

    sweep(Layout(str(root)), now=NOW, listing=False)  # what the next no-op runs
    assert not os.path.exists(doomed) and state.load(Layout(str(root))).retired == ()


def test_a_retired_dir_leaves_the_list_once_deleted(tmp_path: Path) -> None:
    root = tmp_path / "state"
    built(root, 1)
    gone = root / "builds" / "venv-superseded"
    gone.mkdir()
    state.retire(Layout(str(root)), str(gone))
    sweep(Layout(str(root)), now=NOW, listing=False)
    assert not gone.exists() and state.load(Layout(str(root))).retired == ()
