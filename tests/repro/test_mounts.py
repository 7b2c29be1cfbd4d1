"""The one mount-table parser."""

from __future__ import annotations

from pathlib import Path

from repro import mounts


def test_parse_mountinfo_unescapes_paths_and_reads_the_super_options() -> None:
    text = r"41 31 0:38 / /sys/fs/my\040cgroup rw,relatime shared:9 - cgroup cgroup rw,memory" + "\n"
    (mount,) = mounts.parse_mountinfo(text)
    assert (mount.fstype, mount.root, mount.point) == ("cgroup", "/", Path("/sys/fs/my cgroup"))
    assert mount.options == {"rw", "memory"}


def test_a_line_without_the_separator_is_skipped() -> None:
    assert mounts.parse_mountinfo("41 31 0:38 / /x rw\n") == []


def test_an_unreadable_table_reads_as_empty(tmp_path: Path) -> None:
    assert mounts.read_mountinfo(tmp_path / "missing") == ""
