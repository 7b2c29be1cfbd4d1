"""The memory limits in force: RLIMIT_AS, and cgroup v1/v2 limits along our cgroup path.

Every reader takes a filesystem ``root`` so tests can point it at a fixture tree.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

# cgroup v1 reports "no limit" as a page-rounded LONG_MAX; anything this large is unlimited.
V1_UNLIMITED = 1 << 62


@dataclass(frozen=True)
class Limit:
    source: str  # e.g. "RLIMIT_AS" or "cgroup v1 /user.slice"
    limit: int  # bytes


@dataclass(frozen=True)
class Mount:
    version: int  # 1 or 2
    root: str  # the hierarchy path mounted there (mountinfo field 4)
    point: str


def rlimit_as() -> Limit | None:
    if sys.platform == "win32":
        return None
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else Limit("RLIMIT_AS", soft)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _mount(line: str) -> Mount | None:
    left, _, right = line.partition(" - ")
    fields, tail = left.split(), right.split()
    if len(fields) < 5 or len(tail) < 3:
        return None
    if tail[0] == "cgroup2":
        return Mount(2, fields[3], fields[4])
    if tail[0] == "cgroup" and "memory" in tail[2].split(","):
        return Mount(1, fields[3], fields[4])
    return None


def mounts(root: str = "/") -> list[Mount]:
    text = _read(os.path.join(root, "proc/self/mountinfo")) or ""
    return [m for m in map(_mount, text.splitlines()) if m is not None]


def cgroup_paths(root: str = "/") -> tuple[str | None, str | None]:
    """Our (v1 memory, v2) cgroup paths from /proc/self/cgroup."""
    v1 = v2 = None
    for line in (_read(os.path.join(root, "proc/self/cgroup")) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        elif "memory" in parts[1].split(","):
            v1 = parts[2]
    return v1, v2


def _ancestors(path: str, mount_root: str) -> list[str]:
    """``path`` relative to the mount, then each parent up to the mount's own root.

    Empty when the cgroup is not inside what is mounted (a sibling whose name merely
    shares a prefix, e.g. /docker/abc vs /docker/abcdef): its files are not visible here.
    """
    base = mount_root.rstrip("/")
    if path != base and not path.startswith(base + "/"):
        return []
    parts = [part for part in path[len(base) :].split("/") if part]
    return ["/".join(parts[:n]) for n in range(len(parts), -1, -1)]


def _value(text: str | None, version: int) -> int | None:
    raw = (text or "").strip()
    if not raw.isdigit():
        return None  # absent, or v2's "max"
    value = int(raw)
    return None if version == 1 and value >= V1_UNLIMITED else value


@dataclass(frozen=True)
class Room:
    """One cgroup level with a limit, and what of it the rest of the tree holds for good."""

    source: str
    limit: int  # bytes
    held: int  # bytes the kernel cannot reclaim (no page cache), our own process excluded

    @property
    def free(self) -> int:
        """What a build started by us may use here: the limit less what others hold."""
        return max(0, self.limit - self.held)


# Unreclaimable usage per level: v1 anonymous + mapped file pages (the hierarchical totals when
# the kernel reports them), v2 anonymous memory. Page cache is freed under pressure: not counted.
_HELD_KEYS = {1: (("total_rss", "total_mapped_file"), ("rss", "mapped_file")), 2: (("anon",),)}


def _stat(text: str | None) -> dict[str, int]:
    found = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            found[parts[0]] = int(parts[1])
    return found


def _held(version: int, stat: dict[str, int]) -> int:
    for keys in _HELD_KEYS[version]:
        if keys[0] in stat:
            return sum(stat.get(key, 0) for key in keys)
    return 0


def own_held(version: int, root: str = "/") -> int:
    """Our own process's share of that usage (bytes): the floors already include it."""
    status = _read(os.path.join(root, "proc/self/status")) or ""
    keys = ("RssAnon:", "RssFile:") if version == 1 else ("RssAnon:",)
    total = 0
    for line in status.splitlines():
        parts = line.split()
        if parts and parts[0] in keys and len(parts) >= 2 and parts[1].isdigit():
            total += int(parts[1]) * 1024
    return total


def _mount_rooms(mount: Mount, path: str, root: str) -> list[Room]:
    name = "memory.limit_in_bytes" if mount.version == 1 else "memory.max"
    found = []
    own = None
    for rel in _ancestors(path, mount.root):
        level = os.path.join(root, mount.point.lstrip("/"), rel)
        value = _value(_read(os.path.join(level, name)), mount.version)
        if value is None:
            continue
        own = own_held(mount.version, root) if own is None else own
        held = _held(mount.version, _stat(_read(os.path.join(level, "memory.stat"))))
        found.append(Room(f"cgroup v{mount.version} /{rel}", value, max(0, held - own)))
    return found


def cgroup_rooms(root: str = "/") -> list[Room]:
    """Every level with a finite memory limit on our cgroup path (v1 and v2), deepest first."""
    v1, v2 = cgroup_paths(root)
    found: list[Room] = []
    for mount in mounts(root):
        path = v1 if mount.version == 1 else v2
        if path is not None:
            found.extend(_mount_rooms(mount, path, root))
    return found


def cgroup_limits(root: str = "/") -> list[Limit]:
    """Every finite memory limit on our cgroup path, v1 and v2 alike."""
    return [Limit(room.source, room.limit) for room in cgroup_rooms(root)]


def all_limits(root: str = "/") -> list[Limit]:
    limit = rlimit_as()
    return ([limit] if limit else []) + cgroup_limits(root)


def effective(limits: list[Limit]) -> int | None:
    """The tightest limit in bytes, or None when nothing limits memory."""
    return min((limit.limit for limit in limits), default=None)
