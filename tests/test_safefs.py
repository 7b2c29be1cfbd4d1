"""The file-access discipline: no link followed, nothing but regular files read, every read capped,
every parse total, every delete confined to sdkboot's own marked state dir."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdkboot import safefs

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks, FIFOs and POSIX modes")


# -- reading -----------------------------------------------------------------------------------


def test_reads_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text('{"a": 1}')
    assert safefs.read_json(str(tmp_path / "f.json")) == ({"a": 1}, None)
    assert safefs.read_bytes(str(tmp_path / "f.json"), 100) == (b'{"a": 1}', None)


def test_absent_is_a_reason(tmp_path: Path) -> None:
    assert safefs.read_json(str(tmp_path / "nope.json")) == (None, "absent")


@posix_only
def test_a_symlink_is_refused_even_to_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text('{"a": 1}')
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    data, reason = safefs.read_json(str(tmp_path / "link.json"))
    assert data is None and reason == "unreadable: is a symlink (refused)"


@posix_only
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    started = time.monotonic()
    data, reason = safefs.read_bytes(str(tmp_path / "fifo"), 100)
    assert data is None and reason is not None and "a FIFO" in reason
    assert time.monotonic() - started < 5


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    data, reason = safefs.read_bytes(str(tmp_path / "d"), 100)
    assert data is None and reason is not None and ("directory" in reason or "denied" in reason)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="a character device")
def test_a_device_is_refused() -> None:
    data, reason = safefs.read_bytes("/dev/null", 100)
    assert data is None and reason is not None and "a device" in reason


def test_a_file_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 101)
    assert safefs.read_bytes(str(tmp_path / "big"), 100) == (None, "too large (over 100 bytes)")
    (tmp_path / "ok").write_bytes(b"x" * 100)
    assert safefs.read_bytes(str(tmp_path / "ok"), 100) == (b"x" * 100, None)


@pytest.mark.parametrize(
    "raw, why",
    [
        (b"", "JSONDecodeError"),
        (b"{", "JSONDecodeError"),
        (b"\xff\xfe\x00", ""),
        (b"[" * 100000, "RecursionError"),
        (b'{"t": ' + b"1" * 400 + b"}", "number out of range"),
        (b'{"t": 1e400}', "number out of range"),
        (b'{"t": NaN}', "not a number"),
        (b'{"t": -Infinity}', "not a number"),
        (b"[]", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'"text"', "not a JSON object"),
    ],
)
def test_parsing_is_total(raw: bytes, why: str) -> None:
    data, reason = safefs.parse_json(raw)
    assert data is None and reason is not None and reason.startswith("corrupt")
    assert why in reason and "\n" not in reason


def test_big_but_plausible_numbers_still_parse() -> None:
    assert safefs.parse_json(b'{"t": 1700000000.25, "n": -999999999999999999}') == (
        {"t": 1700000000.25, "n": -999999999999999999},
        None,
    )


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200))
def test_no_bytes_make_the_parser_raise(raw: bytes) -> None:
    data, reason = safefs.parse_json(raw)
    assert (data is None) != (reason is None)


# -- writing -----------------------------------------------------------------------------------


def test_atomic_write_round_trips_and_leaves_no_temp(tmp_path: Path) -> None:
    path = str(tmp_path / "s.json")
    safefs.write_json_atomic(path, {"b": [1, 2], "a": "x"})
    assert json.loads(Path(path).read_text()) == {"a": "x", "b": [1, 2]}
    assert sorted(os.listdir(tmp_path)) == ["s.json"]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_non_finite_values_are_never_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        safefs.write_json_atomic(str(tmp_path / "s.json"), {"t": float("nan")})
    assert os.listdir(tmp_path) == []


@posix_only
def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "s.json").symlink_to(victim)
    safefs.write_json_atomic(str(tmp_path / "s.json"), {"a": 1})
    assert victim.read_text() == "keep"
    assert not (tmp_path / "s.json").is_symlink()


def test_a_directory_in_the_way_is_set_aside_not_deleted(tmp_path: Path) -> None:
    blocker = tmp_path / "s.json"
    blocker.mkdir()
    (blocker / "inside").write_text("kept")
    safefs.write_json_atomic(str(blocker), {"a": 1})
    assert json.loads(blocker.read_text()) == {"a": 1}
    [aside] = [p for p in tmp_path.iterdir() if ".set-aside-" in p.name]
    assert (aside / "inside").read_text() == "kept"


def test_temp_names_carry_the_pid(tmp_path: Path) -> None:
    name = os.path.basename(safefs.temp_name(str(tmp_path / "s.json")))
    assert name.startswith(f".tmp-{os.getpid()}-") and name.endswith(".json")


# -- opening to modify in place ------------------------------------------------------------------


@posix_only
def test_open_for_writing_refuses_a_hard_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.link(victim, tmp_path / "build.lock")
    with pytest.raises(PermissionError, match="hard-linked"):
        safefs.open_regular(str(tmp_path / "build.lock"), os.O_RDWR, for_writing=True)
    assert victim.read_text() == "keep"


@posix_only
def test_open_for_writing_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "events.jsonl")
    with pytest.raises(OSError):
        safefs.open_regular(str(tmp_path / "events.jsonl"), os.O_WRONLY | os.O_APPEND, for_writing=True)


# -- the marker, deleting, sweeping --------------------------------------------------------------


@pytest.fixture
def own(tmp_path: Path) -> Path:
    root = tmp_path / "state"
    root.mkdir()
    safefs.claim(str(root))
    return root


def test_claim_marks_the_dir(tmp_path: Path, own: Path) -> None:
    assert safefs.is_own(str(own))
    assert not safefs.is_own(str(tmp_path))
    assert (own / safefs.MARKER).read_bytes() == safefs.MARKER_TEXT


def test_foreign_names_what_is_not_sdkboots(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert safefs.foreign(str(project)) is None  # empty: may become a state dir
    assert safefs.foreign(str(tmp_path / "absent")) is None
    (project / "build.lock").write_text("")
    (project / "install-state.json").write_text("{}")
    assert safefs.foreign(str(project)) is None  # a state dir from before the marker
    (project / "README.md").write_text("mine")
    reason = safefs.foreign(str(project))
    assert reason is not None and "not an sdkboot state dir" in reason and "README.md" in reason
    safefs.claim(str(project))
    assert safefs.foreign(str(project)) is None


def test_remove_deletes_a_tree_and_a_file(own: Path) -> None:
    (own / "builds" / "venv-1" / "lib").mkdir(parents=True)
    (own / "builds" / "venv-1" / "lib" / "m.py").write_text("")
    (own / "cooldown.json").write_text("{}")
    safefs.remove(str(own / "builds" / "venv-1"), str(own))
    safefs.remove(str(own / "cooldown.json"), str(own))
    assert sorted(os.listdir(own)) == [safefs.MARKER, "builds"]


@posix_only
def test_remove_never_goes_through_a_linked_dir(tmp_path: Path, own: Path) -> None:
    victim = tmp_path / "projects"
    (victim / "work").mkdir(parents=True)
    (own / "builds").symlink_to(victim, target_is_directory=True)
    with pytest.raises(PermissionError, match="symlink"):
        safefs.remove(str(own / "builds" / "work"), str(own))
    assert (victim / "work").is_dir()


@posix_only
def test_remove_unlinks_a_link_and_keeps_its_target(tmp_path: Path, own: Path) -> None:
    victim = tmp_path / "projects"
    victim.mkdir()
    (victim / "keep").write_text("x")
    (own / "builds").mkdir()
    (own / "builds" / "venv-2").symlink_to(victim, target_is_directory=True)
    safefs.remove(str(own / "builds" / "venv-2"), str(own))
    assert not os.path.lexists(own / "builds" / "venv-2") and (victim / "keep").exists()


def test_remove_refuses_outside_the_root_and_in_an_unmarked_dir(tmp_path: Path, own: Path) -> None:
    (tmp_path / "other").mkdir()
    with pytest.raises(PermissionError):
        safefs.remove(str(tmp_path / "other"), str(own))
    with pytest.raises(PermissionError):
        safefs.remove(str(own), str(own))
    (tmp_path / "other" / "builds").mkdir()
    with pytest.raises(PermissionError):
        safefs.remove(str(tmp_path / "other" / "builds"), str(tmp_path / "other"))
    assert (tmp_path / "other" / "builds").is_dir()


def _dead_pid() -> int:
    import subprocess

    return int(
        subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    )


def test_sweep_removes_only_abandoned_temps(own: Path) -> None:
    now = time.time()
    dead = own / f".tmp-{_dead_pid()}-abc123.json"
    mine = own / f".tmp-{os.getpid()}-def456.json"
    legacy_fresh = own / ".tmp-ab12cd34.json"
    legacy_old = own / ".tmp-zz12cd34.json"
    other = own / "notes.tmp"
    for path in (dead, mine, legacy_fresh, legacy_old, other):
        path.write_text("{")
    os.utime(legacy_old, (now - 3600, now - 3600))
    safefs.sweep_temps(str(own), now)
    assert sorted(p.name for p in own.iterdir()) == sorted([safefs.MARKER, mine.name, legacy_fresh.name, other.name])


def test_make_private_dirs_makes_every_level_0700(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        safefs.make_private_dirs(str(tmp_path / "a" / "b" / "c"))
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert path.stat().st_mode & 0o777 == 0o700


def test_can_write(tmp_path: Path, read_only_dir: Path) -> None:
    assert safefs.can_write(str(tmp_path))
    assert os.listdir(tmp_path) == [read_only_dir.name]
    assert not safefs.can_write(str(read_only_dir))


def test_fast_numbers_still_refuse_nan_and_never_raise() -> None:
    """strict_numbers=False (the install-state, which checks each number itself) keeps json's fast
    number parsing: a huge number comes through as a number, NaN and Infinity still do not."""
    data, _ = safefs.parse_json(b'{"t": 1' + b"0" * 400 + b', "f": 1e400}', strict_numbers=False)
    assert data is not None and data["t"] == 10**400 and data["f"] == float("inf")
    assert safefs.parse_json(b'{"t": NaN}', strict_numbers=False)[0] is None
    assert safefs.parse_json(b"[" * 100000, strict_numbers=False)[0] is None
