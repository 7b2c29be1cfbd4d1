"""``sdkboot clean``: asks (or refuses), dry-runs, removes only its own things, never follows links out."""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdkboot import cooldown, inuse, state
from sdkboot.cli import main
from sdkboot.layout import Layout
from sdkboot.lock import BuildLock
from tests.fake_envs import fake_env, lock_held, sdkboot, spec_for

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and POSIX locks")


def populated(root: Path) -> dict[str, Path]:
    """A state dir after some history: a published venv, a leftover stage, a cooldown, logs."""
    spec = spec_for(root)
    fake_env(root, spec=spec, name="venv-1")
    stage = root / "builds" / "target-2-leftover"
    (stage / "half").mkdir(parents=True)
    (stage / "half" / "file.py").write_text("x = 1\n")
    layout = Layout(str(root))
    cooldown.arm(layout, 1.0, -9, "pip", state.fingerprint(spec))
    (root / "events.jsonl").write_text('{"outcome": "BUILT"}\n')
    (root / "notices.json").write_text("{}")
    lock = BuildLock(layout.lock_file)
    assert lock.acquire()
    lock.release()
    return {
        "state": root / "install-state.json",
        "cooldown": root / "cooldown.json",
        "stage": stage,
        "env": root / "builds" / "venv-1",
        "builds": root / "builds",
        "events": root / "events.jsonl",
        "notices": root / "notices.json",
        "lock": root / "build.lock",
    }


REMOVED = ("state", "cooldown", "stage", "env", "builds")
KEPT = ("events", "notices", "lock")


def expected_targets(paths: dict[str, Path]) -> list[str]:
    return [str(paths[name]) for name in ("state", "cooldown", "stage", "env", "builds")]


def untouched(paths: dict[str, Path]) -> bool:
    return all(os.path.lexists(path) for path in paths.values())


def clean(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    rc = main(["clean", "--state-dir", str(root), *args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_refuses_without_yes_when_stdin_is_not_a_terminal(tmp_path: Path) -> None:
    paths = populated(tmp_path / "state")
    done = sdkboot("clean", "--state-dir", str(tmp_path / "state"))  # stdin is /dev/null
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "pass --yes" in done.stderr and "Traceback" not in done.stderr
    assert untouched(paths)


def test_dry_run_lists_and_removes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = populated(tmp_path / "state")
    rc, out, err = clean(capsys, tmp_path / "state", "--dry-run")
    assert (rc, err) == (0, "")
    assert out.splitlines() == [f"would remove {path}" for path in expected_targets(paths)]
    assert untouched(paths)

    rc, out, err = clean(capsys, tmp_path / "state", "--dry-run", "--json")
    assert (rc, err) == (0, "")
    assert json.loads(out) == {"paths": expected_targets(paths), "removed": False, "dry_run": True, "in_use": []}
    assert untouched(paths)


def test_yes_removes_builds_state_and_cooldown_but_keeps_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = populated(tmp_path / "state")
    rc, out, err = clean(capsys, tmp_path / "state", "--yes", "--json")
    assert (rc, err) == (0, "")
    assert json.loads(out) == {"paths": expected_targets(paths), "removed": True, "dry_run": False, "in_use": []}
    assert [name for name in REMOVED if os.path.lexists(paths[name])] == []
    assert [name for name in KEPT if not paths[name].exists()] == []
    assert paths["events"].read_text() == '{"outcome": "BUILT"}\n'


def test_yes_text_output_and_a_second_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = populated(tmp_path / "state")
    rc, out, _ = clean(capsys, tmp_path / "state", "-y")
    assert rc == 0 and out.splitlines() == [f"removed {path}" for path in expected_targets(paths)]
    rc, out, err = clean(capsys, tmp_path / "state", "-y")
    assert (rc, out, err) == (0, "nothing to clean\n", "")


def test_nothing_to_clean_needs_no_confirmation(tmp_path: Path) -> None:
    done = sdkboot("clean", "--state-dir", str(tmp_path / "never-built"))
    assert (done.returncode, done.stdout, done.stderr) == (0, "nothing to clean\n", "")
    assert not (tmp_path / "never-built").exists()


class Terminal(io.StringIO):
    """A stdin that says it is a terminal and holds one typed answer."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer, removed", [("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False)])
def test_asks_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, answer: str, removed: bool
) -> None:
    paths = populated(tmp_path / "state")
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    rc, out, _ = clean(capsys, tmp_path / "state")
    assert rc == 0
    assert f"remove 5 item(s) under {tmp_path / 'state'}? [y/N]" in out
    assert (not os.path.lexists(paths["state"])) is removed
    assert out.splitlines()[-1].startswith("removed " if removed else "kept ")
    assert paths["events"].exists()


class EndOfInput(Terminal):
    """A terminal on which the user pressed Ctrl-D: every read is end of input."""

    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]  # typeshed: _IOBase
        return ""


def test_end_of_input_at_the_prompt_removes_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = populated(tmp_path / "state")
    monkeypatch.setattr(sys, "stdin", EndOfInput())
    rc, out, err = clean(capsys, tmp_path / "state")
    assert rc == 2
    assert out.endswith("[y/N] \n"), "the prompt's line is ended before the message"
    assert (
        err == "sdkboot clean: no answer (end of input), nothing removed; `sdkboot clean --yes` removes"
        " without asking\n"
    )
    assert untouched(paths)


def test_a_closed_stdin_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = populated(tmp_path / "state")
    monkeypatch.setattr(sys, "stdin", None)  # what Python makes of `sdkboot clean <&-`
    rc, out, err = clean(capsys, tmp_path / "state")
    assert (rc, out) == (2, "")
    assert err == "sdkboot clean: stdin is not a terminal; pass --yes to remove without asking\n"
    assert untouched(paths)


# --- symlinks ------------------------------------------------------------------------------------


def outside_dir(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("do not delete\n")
    return outside


@posix_only
@pytest.mark.parametrize("which", ["builds", "build entry", "state file", "cooldown file"])
def test_refuses_when_a_link_points_outside(tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str) -> None:
    root = tmp_path / "state"
    paths = populated(root)
    outside = outside_dir(tmp_path)
    if which == "builds":
        link = paths["builds"]
        os.rename(link, tmp_path / "moved-builds")
        link.symlink_to(outside, target_is_directory=True)
    elif which == "build entry":
        link = paths["builds"] / "venv-9"
        link.symlink_to(outside, target_is_directory=True)
    else:
        link = paths["state" if which == "state file" else "cooldown"]
        link.unlink()
        link.symlink_to(outside / "precious.txt")
    before = sorted(str(p) for p in root.rglob("*"))

    rc, out, err = clean(capsys, root, "--yes")

    assert (rc, out) == (2, "")
    assert err.count("\n") == 1 and f"refusing: {link} is a symlink pointing outside the state dir" in err
    assert sorted(str(p) for p in root.rglob("*")) == before, "nothing removed"
    assert (outside / "precious.txt").read_text() == "do not delete\n"
    assert os.path.islink(link)


@posix_only
def test_an_inside_link_is_removed_as_a_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "state"
    paths = populated(root)
    keep = root / "keep-me"
    keep.mkdir()
    (keep / "data.txt").write_text("still here\n")
    to_dir = paths["builds"] / "link-to-dir"
    to_dir.symlink_to(keep, target_is_directory=True)
    to_log = paths["builds"] / "link-to-log"
    to_log.symlink_to(paths["events"])

    rc, out, err = clean(capsys, root, "--yes", "--json")

    assert (rc, err) == (0, "")
    assert str(to_dir) in json.loads(out)["paths"]
    assert not os.path.lexists(to_dir) and not os.path.lexists(to_log) and not paths["builds"].exists()
    assert (keep / "data.txt").read_text() == "still here\n"
    assert paths["events"].read_text() == '{"outcome": "BUILT"}\n'


@posix_only
def test_a_link_deep_inside_a_build_is_not_followed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """venvs hold symlinks (lib64 -> lib, bin/python -> ...): removal unlinks them, never follows."""
    root = tmp_path / "state"
    paths = populated(root)
    outside = outside_dir(tmp_path)
    (paths["env"] / "escape").symlink_to(outside, target_is_directory=True)

    rc, _, err = clean(capsys, root, "--yes")

    assert (rc, err) == (0, "")
    assert not paths["env"].exists()
    assert (outside / "precious.txt").read_text() == "do not delete\n"


# --- the build lock ----------------------------------------------------------------------------


@posix_only
def test_refuses_while_a_build_holds_the_lock(tmp_path: Path) -> None:
    root = tmp_path / "state"
    paths = populated(root)
    with lock_held(paths["lock"]) as pid:
        done = sdkboot("clean", "--state-dir", str(root), "--yes")
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr == f"sdkboot clean: a build is running now (pid {pid}); try again later\n"
    assert untouched(paths)


@posix_only
def test_dry_run_works_while_a_build_runs(tmp_path: Path) -> None:
    root = tmp_path / "state"
    paths = populated(root)
    with lock_held(paths["lock"]):
        done = sdkboot("clean", "--state-dir", str(root), "--dry-run")
    assert (done.returncode, done.stderr) == (0, "")
    assert untouched(paths)


# -- builds in use, and --unused -------------------------------------------------------------------


@pytest.fixture
def release_locks() -> Iterator[None]:
    yield None
    inuse.release_all()


@posix_only
def test_a_build_in_use_is_kept_and_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], release_locks: None
) -> None:
    paths = populated(tmp_path / "state")
    assert inuse.hold(str(paths["env"])) is None  # this process has activated it
    rc, out, err = clean(capsys, tmp_path / "state", "--yes", "--json")
    assert (rc, err) == (0, "")
    data = json.loads(out)
    assert data["in_use"] == [str(paths["env"])] and data["removed"] is True
    assert str(paths["env"]) not in data["paths"] and str(paths["builds"]) not in data["paths"]
    assert (paths["env"] / "lib").is_dir(), "the env a live process imports from is intact"
    assert not paths["stage"].exists() and not paths["state"].exists()


@posix_only
def test_unused_removes_only_what_nobody_used_lately(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], release_locks: None
) -> None:
    root = tmp_path / "state"
    recent = fake_env(root, spec=spec_for(root, requirements=("a",)), name="venv-recent")
    old = fake_env(root, spec=spec_for(root, requirements=("b",)), name="venv-old")
    held = fake_env(root, spec=spec_for(root, requirements=("c",)), name="venv-held")
    week_ago = time.time() - 8 * 86400
    for record in (old, held):
        os.utime(inuse.use_file(record.env), (week_ago, week_ago))
    assert inuse.hold(held.env) is None
    os.utime(inuse.use_file(held.env), (week_ago, week_ago))

    rc, out, err = clean(capsys, root, "--unused", "--dry-run")
    assert (rc, err) == (0, "") and out.splitlines() == [
        f"would remove {old.env}",
        f"kept {held.env} (a live process uses it)",
    ]
    rc, out, err = clean(capsys, root, "--unused", "--yes", "--json")
    assert (rc, err) == (0, "")
    assert json.loads(out) == {"paths": [old.env], "removed": True, "dry_run": False, "in_use": [held.env]}
    assert sorted(os.listdir(root / "builds")) == ["venv-held", "venv-recent"]
    assert {b.env for b in state.load(Layout(str(root))).builds} == {recent.env, held.env}


def test_unused_with_nothing_built(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = clean(capsys, tmp_path / "never", "--unused", "--yes")
    assert (rc, out, err) == (0, "nothing to clean\n", "")


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_older_than_must_be_days(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    rc, out, err = clean(capsys, tmp_path / "state", "--unused", "--older-than", value)
    assert rc == 2 and out == "" and err.count("\n") == 1 and "days" in err
