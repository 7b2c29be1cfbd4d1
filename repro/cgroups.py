"""Find this process's memory cgroup, make limited children under it, read their counters.

Every reader takes its inputs (the text of /proc/self/cgroup and /proc/self/mountinfo, or a
directory) as arguments, so fixture trees can stand in for the kernel's files in tests.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from repro import Unsupported
from repro.mounts import Mount, parse_mountinfo
from sdkboot import memlimit


@dataclass(frozen=True)
class Flavor:
    """The files one cgroup version uses for the same ideas."""

    version: int
    limit_files: tuple[str, ...]  # all get the limit, in this order (memsw must not go below mem)
    fixed: tuple[tuple[str, str], ...]  # other settings: (file, value)
    peak_file: str
    events_file: str  # a "key value" file with an oom_kill line


FLAVORS = {
    1: Flavor(
        1,
        ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
        (),
        "memory.max_usage_in_bytes",
        "memory.oom_control",
    ),
    2: Flavor(2, ("memory.max",), (("memory.swap.max", "0"),), "memory.peak", "memory.events"),
}


@dataclass(frozen=True)
class Hierarchy:
    flavor: Flavor
    own: Path  # the directory of the cgroup this process is in
    mount: Path  # where that hierarchy is mounted (ancestors stop here)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map each controller (and "" for the v2 line) to this process's cgroup path."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def _under(mount: Mount, cgroup_path: str) -> Path:
    relative = os.path.relpath(cgroup_path, mount.root)
    if relative.startswith(".."):
        raise Unsupported(f"cgroup {cgroup_path} is outside the mount of {mount.root}")
    return mount.point / relative if relative != "." else mount.point


def _v1(paths: dict[str, str], mounts: list[Mount]) -> Hierarchy | None:
    for mount in mounts:
        if mount.fstype == "cgroup" and "memory" in mount.options and "memory" in paths:
            return Hierarchy(FLAVORS[1], _under(mount, paths["memory"]), mount.point)
    return None


def _v2(paths: dict[str, str], mounts: list[Mount]) -> Hierarchy | None:
    for mount in mounts:
        if mount.fstype == "cgroup2" and "" in paths and _has_memory(mount.point):
            return Hierarchy(FLAVORS[2], _under(mount, paths[""]), mount.point)
    return None


def _has_memory(v2_root: Path) -> bool:
    return "memory" in read_text(v2_root / "cgroup.controllers").split()


def locate(proc_cgroup: str, mountinfo: str) -> Hierarchy:
    """This process's memory cgroup; v1 first, since on hybrid hosts it holds the controller."""
    paths, mounts = parse_proc_cgroup(proc_cgroup), parse_mountinfo(mountinfo)
    found = _v1(paths, mounts) or _v2(paths, mounts)
    if found is None:
        raise Unsupported("no memory controller (neither a v1 memory mount nor cgroup2 with memory)")
    return found


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def own_limit_kib() -> int | None:
    """The cgroup memory limit this process already runs under, in KiB (None: none).

    Recorded with results: a limit swept above it measures the host's limit, not the step's.
    Read with sdkboot's own reader, so v1/v2/"no limit" parsing exists once.
    """
    limit = memlimit.effective(memlimit.cgroup_limits())
    return None if limit is None else limit // 1024


def read_oom_kills(directory: Path, flavor: Flavor) -> int:
    for line in read_text(directory / flavor.events_file).splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


def read_peak_kib(directory: Path, flavor: Flavor) -> int | None:
    raw = read_text(directory / flavor.peak_file).strip()
    return int(raw) // 1024 if raw.isdigit() else None


def apply_limit(directory: Path, flavor: Flavor, kib: int) -> None:
    """Write the limit to every limit file present (memsw/swap accounting may be off)."""
    for name in flavor.limit_files:
        _write_if_present(directory / name, str(kib * 1024), required=name == flavor.limit_files[0])
    for name, value in flavor.fixed:
        _write_if_present(directory / name, value, required=False)


def _write_if_present(path: Path, value: str, required: bool) -> None:
    if required or path.exists():
        path.write_text(value)


@dataclass(frozen=True)
class Group:
    """One limited child cgroup."""

    directory: Path
    flavor: Flavor

    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the caller) in; plain os calls, so usable as a preexec hook."""
        fd = os.open(str(self.directory / "cgroup.procs"), os.O_WRONLY)
        try:
            os.write(fd, str(pid or os.getpid()).encode())
        finally:
            os.close(fd)

    def pids(self) -> list[int]:
        return [int(p) for p in read_text(self.directory / "cgroup.procs").split()]

    def kill_all(self) -> None:
        for pid in self.pids():
            _kill(pid)

    def peak_kib(self) -> int | None:
        return read_peak_kib(self.directory, self.flavor)

    def oom_kills(self) -> int:
        return read_oom_kills(self.directory, self.flavor)


def _kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def detect() -> Hierarchy:
    """The real hierarchy of this process, or Unsupported naming what is missing."""
    if sys.platform != "linux":
        raise Unsupported(f"not Linux ({sys.platform}): cgroups are a Linux feature")
    hierarchy = locate(read_text(Path("/proc/self/cgroup")), read_text(Path("/proc/self/mountinfo")))
    if not os.access(hierarchy.own, os.W_OK):
        raise Unsupported(f"not root: cannot create cgroups under {hierarchy.own}")
    _delegate_memory(hierarchy)
    return hierarchy


def _delegate_memory(hierarchy: Hierarchy) -> None:
    # v2 children only get memory files when the parent enables the controller for them.
    control = hierarchy.own / "cgroup.subtree_control"
    if hierarchy.flavor.version == 1 or "memory" in read_text(control).split():
        return
    try:
        control.write_text("+memory")
    except OSError as exc:
        raise Unsupported(f"memory controller not delegated below {hierarchy.own}: {exc}") from exc


@contextmanager
def limited(kib: int, hierarchy: Hierarchy | None = None) -> Iterator[Group]:
    """A fresh child cgroup limited to ``kib``; killed empty and removed on exit."""
    hierarchy = hierarchy or detect()
    directory = hierarchy.own / f"repro-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        directory.mkdir()
    except OSError as exc:
        raise Unsupported(f"cannot create a cgroup at {directory}: {exc}") from exc
    group = Group(directory, hierarchy.flavor)
    try:
        _apply_or_explain(group, kib)
        yield group
    finally:
        _remove(group)


def _apply_or_explain(group: Group, kib: int) -> None:
    try:
        apply_limit(group.directory, group.flavor, kib)
    except OSError as exc:
        raise Unsupported(f"cannot set a memory limit in {group.directory}: {exc}") from exc


def _remove(group: Group, attempts: int = 50) -> None:
    # rmdir fails with EBUSY until the last killed task is gone; that takes a moment.
    for _ in range(attempts):
        group.kill_all()
        try:
            group.directory.rmdir()
            return
        except OSError:
            time.sleep(0.05)
