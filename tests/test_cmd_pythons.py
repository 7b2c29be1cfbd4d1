"""``sdkboot pythons``: every candidate with what it can do and why it was or was not chosen."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from sdkboot.cli import main
from tests.fake_envs import child_env, sdkboot
from tests.fake_pythons import Tree
from tests.real_pythons import PYENV_ROOT, pyenv_versions, require_debian_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fake interpreters are sh scripts")
ROW_KEYS = {
    "path",
    "real_path",
    "aliases",
    "found_by",
    "cached",
    "error",
    "version",
    "implementation",
    "executable",
    "venv",
    "ensurepip",
    "pip",
    "tags",
    "can_build",
    "chosen",
    "reason",
}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    found = Tree(tmp_path)
    found.host = str(found.python("host/bin/python3.9", (3, 9, 18)))
    found.use(monkeypatch)
    return found


def pythons(capsys: pytest.CaptureFixture[str], tree: Tree, *extra: str) -> tuple[int, dict[str, Any]]:
    rc = main(["pythons", "--json", "--state-dir", str(tree.cache.parent), *extra])
    captured = capsys.readouterr()
    assert captured.err == ""
    return rc, json.loads(captured.out)


def test_json_lists_every_candidate_and_the_choice(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    newest = tree.python("bin1/python3.13", (3, 13, 0))
    tree.python("bin2/python3.12", (3, 12, 1), ensurepip=False)
    rc, data = pythons(capsys, tree)
    assert rc == 0 and data["chosen"] == str(newest) and data["problem"] is None
    assert data["min_python"] == "3.10" and data["spawned"] == 3
    rows = data["candidates"]
    assert all(set(row) == ROW_KEYS for row in rows)
    assert [(r["version"], r["can_build"], r["chosen"]) for r in rows] == [
        ("3.9.18", "venv", False),
        ("3.13.0", "venv", True),
        ("3.12.1", "target", False),
    ]
    assert [r["reason"] for r in rows] == [
        "too old: 3.9.18 is older than 3.10 (--min-python)",
        "chosen: the newest Python >= 3.10 that can build (with venv)",
        "can build (target); not chosen: 3.13.0 is newer",
    ]
    assert rows[0]["found_by"] == "host" and rows[0]["tags"]["interpreter"] == "cp39"


def test_min_python_moves_the_choice_to_the_host(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    tree.python("bin1/python3.13", (3, 13, 0))
    rc, data = pythons(capsys, tree, "--min-python", "3.9")
    assert rc == 0 and data["chosen"] == tree.host


def test_the_second_listing_comes_from_the_cache(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    tree.python("bin1/python3.13", (3, 13, 0))
    pythons(capsys, tree)
    _, again = pythons(capsys, tree)
    assert again["spawned"] == 0 and all(r["cached"] for r in again["candidates"])


def test_nothing_can_build_says_what_to_install(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tree.python("bin1/python3.11", (3, 11, 2), ensurepip=False, pip=False)
    rc, data = pythons(capsys, tree)
    assert rc == 1 and data["chosen"] is None
    assert data["problem"] == (
        f"no Python 3.10+ here can build the env: Python 3.11.2 at {bare} has neither ensurepip nor pip;"
        " install them (Debian/Ubuntu: apt install python3.11-venv python3-pip), or a Python 3.10+ that has them"
    )
    assert data["candidates"][1]["reason"] == (
        "cannot build: no ensurepip for a venv and no pip for the --target fallback"
    )


def test_nothing_recent_enough(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    rc, data = pythons(capsys, tree)
    assert rc == 1 and data["problem"].startswith("no Python 3.10+ was found on this machine")


def test_text_marks_the_choice(tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    newest = tree.python("bin1/python3.13", (3, 13, 0))
    assert main(["pythons", "--state-dir", str(tree.cache.parent)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2 candidates (0 answered from the cache, 2 processes started) in ")
    chosen = [line for line in lines if line.startswith("*")]
    assert len(chosen) == 1 and str(newest) in chosen[0] and "3.13.0" in chosen[0]
    assert lines[-1] == f"chosen: {newest}"


# -- on the real machine -----------------------------------------------------------------------


@pytest.mark.linux
def test_this_machine(tmp_path: Path) -> None:
    """pyenv's versions, Debian's python3, and why 3.6-3.9 were not chosen."""
    debian = require_debian_python()
    versions = pyenv_versions()
    old = [xy for xy in ("3.6", "3.7", "3.8", "3.9") if xy in versions]
    if not old or not any(xy in versions for xy in ("3.12", "3.13")):
        pytest.skip(f"pyenv under {PYENV_ROOT} lacks the versions this machine has (3.6-3.13)")
    done = sdkboot(
        "pythons", "--json", "--state-dir", str(tmp_path / "state"), env=child_env(PYENV_ROOT=str(PYENV_ROOT))
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = {row["real_path"]: row for row in json.loads(done.stdout)["candidates"]}
    for xy, python in versions.items():
        row = rows[os.path.realpath(python)]
        assert row["version"].startswith(xy + ".")
        if xy in old:
            assert row["reason"] == f"too old: {row['version']} is older than 3.10 (--min-python)"
            assert not row["chosen"]
    assert rows[os.path.realpath(debian)]["found_by"] in ("PATH", "distro")
    assert str(debian) in rows[os.path.realpath(debian)]["aliases"] + [rows[os.path.realpath(debian)]["path"]]
    assert sum(row["chosen"] for row in rows.values()) == 1
    shims = [row for row in rows.values() if "shims" in row["path"]]
    assert all(row["version"] is None and "shim" in row["error"] for row in shims)
