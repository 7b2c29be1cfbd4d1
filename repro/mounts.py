"""The mount table, from /proc/self/mountinfo: the one parser for cgroups and debootstrap."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class Mount:
    fstype: str
    root: str  # the path inside the filesystem shown at the mount point (a cgroup's, say)
    point: Path
    options: frozenset[str]  # the super options (for a v1 cgroup mount, its controllers)


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as 3-digit octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        fstype, options = fields[sep + 1], frozenset(fields[sep + 3].split(","))
        mounts.append(Mount(fstype, _unescape(fields[3]), Path(_unescape(fields[4])), options))
    return mounts


def read_mountinfo(path: Path = MOUNTINFO) -> str:
    """The table's text; empty when it cannot be read (not Linux, no /proc)."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
