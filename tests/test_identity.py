"""Interpreter identity: what the binary is, not what it is called."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sdkboot import identity

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks to interpreters")


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    path = tmp_path / "versions" / "3.11.7" / "bin" / "python3.11"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x7fELF interpreter")
    return path


@posix_only
def test_every_spelling_of_one_binary_is_one_interpreter(binary: Path, tmp_path: Path) -> None:
    (binary.parent / "python3").symlink_to("python3.11")
    (binary.parent / "python").symlink_to("python3")  # a link to a link
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python3").symlink_to(binary)
    names = [binary, binary.parent / "python3", binary.parent / "python", shims / "python3"]
    found = [identity.interpreter(str(name)) for name in names]
    assert all(one == found[0] for one in found)
    assert found[0]["path"] == str(binary)


@posix_only
def test_a_venv_linked_to_its_base_is_its_base_and_a_copied_one_is_not(binary: Path, tmp_path: Path) -> None:
    linked = tmp_path / "venv" / "bin"
    linked.mkdir(parents=True)
    (linked / "python").symlink_to(binary)
    copied = tmp_path / "venv-copies" / "bin"
    copied.mkdir(parents=True)
    (copied / "python").write_bytes(binary.read_bytes())
    assert identity.interpreter(str(linked / "python")) == identity.interpreter(str(binary))
    assert identity.interpreter(str(copied / "python")) != identity.interpreter(str(binary))


def test_an_upgrade_in_place_changes_the_file_identity(binary: Path) -> None:
    before = identity.interpreter(str(binary))
    binary.unlink()
    binary.write_bytes(b"\x7fELF a newer interpreter")  # what a package upgrade does: a new file
    after = identity.interpreter(str(binary))
    assert after["path"] == before["path"] and after["file"] != before["file"]


def test_the_same_file_on_a_new_mount_is_the_same_interpreter(binary: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarted container mounts its image afresh: same file, another st_dev."""
    before = identity.interpreter(str(binary))
    real_stat = os.stat

    def remounted(path: os.PathLike[str] | str, *args: object, **kw: object) -> os.stat_result:
        st = real_stat(path)
        fields = list(st)
        fields[2] = st.st_dev + 1  # st_dev
        return os.stat_result(tuple(fields), {"st_mtime_ns": st.st_mtime_ns, "st_ctime_ns": st.st_ctime_ns})

    monkeypatch.setattr(os, "stat", remounted)
    assert os.stat(binary).st_dev != real_stat(binary).st_dev
    assert identity.interpreter(str(binary)) == before


def test_a_missing_interpreter_has_a_stable_identity(tmp_path: Path) -> None:
    gone = tmp_path / "gone" / "python3"
    assert identity.interpreter(str(gone)) == {"path": str(gone), "file": "missing"}


@posix_only
def test_a_relinked_name_is_resolved_again(binary: Path, tmp_path: Path) -> None:
    other = binary.parent / "python3.12"
    other.write_bytes(b"another")
    link = tmp_path / "python3"
    link.symlink_to(binary)
    assert identity.interpreter(str(link))["path"] == str(binary)
    link.unlink()
    link.symlink_to(other)  # a venv recreated on another base
    assert identity.interpreter(str(link))["path"] == str(other)


def test_the_host_is_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    host = identity.host()
    assert host["path"] == os.path.realpath(sys.executable)
    assert host["version"] == "%d.%d.%d" % sys.version_info[:3]
    assert host["abi"].startswith(sys.implementation.cache_tag)
    monkeypatch.setattr(sys, "executable", "")
    assert identity.host()["file"] == "missing"
