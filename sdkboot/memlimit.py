"""The memory limits in force: RLIMIT_AS, and cgroup v1/v2 limits along our cgroup path.

Every reader takes a filesystem ``root`` so tests can point it at a fixture tree.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import List, Optional, Tuple

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


def rlimit_as() -> Optional[Limit]:
    if sys.platform == "win32":
        return None
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else Limit("RLIMIT_AS", soft)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def _mount(line: str) -> Optional[Mount]:
    left, _, right = line.partition(" - ")
    fields, tail = left.split(), right.split()
    if len(fields) < 5 or len(tail) < 3:
        return None
    if tail[0] == "cgroup2":
        return Mount(2, fields[3], fields[4])
    if tail[0] == "cgroup" and "memory" in tail[2].split(","):
        return Mount(1, fields[3], fields[4])
    return None


def mounts(root: str = "/") -> List[Mount]:
    text = _read(os.path.join(root, "proc/self/mountinfo")) or ""
    return [m for m in map(_mount, text.splitlines()) if m is not None]


def cgroup_paths(root: str = "/") -> Tuple[Optional[str], Optional[str]]:
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


def _ancestors(path: str, mount_root: str) -> List[str]:
    """``path`` relative to the mount, then each parent up to the mount's own root.

    Empty when the cgroup is not inside what is mounted (a sibling whose name merely
    shares a prefix, e.g. /docker/abc vs /docker/abcdef): its files are not visible here.
    """
    base = mount_root.rstrip("/")
    if path != base and not path.startswith(base + "/"):
        return []
    parts = [part for part in path[len(base):].split("/") if part]
    return ["/".join(parts[:n]) for n in range(len(parts), -1, -1)]


def _value(text: Optional[str], version: int) -> Optional[int]:
    raw = (text or "").strip()
    if not raw.isdigit():
        return None  # absent, or v2's "max"
    value = int(raw)
    return None if version == 1 and value >= V1_UNLIMITED else value


def _mount_limits(mount: Mount, path: str, root: str) -> List[Limit]:
    name = "memory.limit_in_bytes" if mount.version == 1 else "memory.max"
    found = []
    for rel in _ancestors(path, mount.root):
        value = _value(_read(os.path.join(root, mount.point.lstrip("/"), rel, name)), mount.version)
        if value is not None:
            found.append(Limit(f"cgroup v{mount.version} /{rel}", value))
    return found


def cgroup_limits(root: str = "/") -> List[Limit]:
    """Every finite memory limit on our cgroup path, v1 and v2 alike."""
    v1, v2 = cgroup_paths(root)
    found: List[Limit] = []
    for mount in mounts(root):
        path = v1 if mount.version == 1 else v2
        if path is not None:
            found.extend(_mount_limits(mount, path, root))
    return found


def all_limits(root: str = "/") -> List[Limit]:
    limit = rlimit_as()
    return ([limit] if limit else []) + cgroup_limits(root)


def effective(limits: List[Limit]) -> Optional[int]:
    """The tightest limit in bytes, or None when nothing limits memory."""
    return min((limit.limit for limit in limits), default=None)
