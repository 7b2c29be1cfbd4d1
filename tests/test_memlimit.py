"""Memory limits from fixture trees: /proc/self/{mountinfo,cgroup} and cgroup files under tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sdkboot import memlimit
from sdkboot.memlimit import Limit, Mount, Room

MiB = 1024 * 1024
# What cgroup v1 reports for "no limit": LONG_MAX rounded down to a 4 KiB page.
V1_NO_LIMIT = "9223372036854771712"

V1_MEMORY = "34 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory"
V1_CPU = (
    "33 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct"
)
V2 = "35 25 0:31 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate"
V2_UNIFIED = "36 25 0:32 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw"
ROOTFS = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro"
PROC = "23 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw"
TMPFS = "24 22 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755"


def tree(base: Path, mountinfo: str | None, cgroup: str | None, files: dict[str, str]) -> str:
    """A fake filesystem root: ``proc/self/*`` plus cgroup files at root-relative paths."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "proc" / "self").mkdir(parents=True, exist_ok=True)
    if mountinfo is not None:
        (base / "proc" / "self" / "mountinfo").write_text(mountinfo + "\n")
    if cgroup is not None:
        (base / "proc" / "self" / "cgroup").write_text(cgroup + "\n")
    for rel, text in files.items():
        path = base / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(base)


def lines(*items: str) -> str:
    return "\n".join(items)


# --- parsing -----------------------------------------------------------------------------------


def test_mounts_keeps_v1_memory_and_v2_only(tmp_path: Path) -> None:
    root = tree(tmp_path, lines(ROOTFS, PROC, TMPFS, V1_CPU, V1_MEMORY, V2_UNIFIED), None, {})
    assert memlimit.mounts(root) == [
        Mount(1, "/", "/sys/fs/cgroup/memory"),
        Mount(2, "/", "/sys/fs/cgroup/unified"),
    ]


def test_mounts_tolerates_garbage_and_a_missing_file(tmp_path: Path) -> None:
    root = tree(tmp_path, lines("", "garbage", "1 2 3 - cgroup", " - cgroup2 cgroup2 rw", V2), None, {})
    assert memlimit.mounts(root) == [Mount(2, "/", "/sys/fs/cgroup")]
    assert memlimit.mounts(str(tmp_path / "nothing-here")) == []


def test_cgroup_paths_v1_named_and_v2(tmp_path: Path) -> None:
    cgroup = lines("12:pids:/x", "4:memory:/a/b", "3:cpu,cpuacct:/c", "1:name=systemd:/s", "0::/u/v", "junk")
    assert memlimit.cgroup_paths(tree(tmp_path, None, cgroup, {})) == ("/a/b", "/u/v")


def test_cgroup_paths_with_memory_in_a_joined_hierarchy(tmp_path: Path) -> None:
    assert memlimit.cgroup_paths(tree(tmp_path, None, "7:cpu,memory:/j", {})) == ("/j", None)


def test_cgroup_paths_when_absent(tmp_path: Path) -> None:
    assert memlimit.cgroup_paths(str(tmp_path)) == (None, None)


# --- cgroup v1 ---------------------------------------------------------------------------------

V1_DIR = "sys/fs/cgroup/memory"


@pytest.mark.parametrize(
    "leaf, middle, top, expected",
    [
        # The 2^63-ish "unlimited" at two levels; a real limit in between.
        (V1_NO_LIMIT, str(512 * MiB), V1_NO_LIMIT, [Limit("cgroup v1 /a", 512 * MiB)]),
        # Limits at every level, deepest first.
        (
            str(256 * MiB),
            str(512 * MiB),
            str(1024 * MiB),
            [Limit("cgroup v1 /a/b", 256 * MiB), Limit("cgroup v1 /a", 512 * MiB), Limit("cgroup v1 /", 1024 * MiB)],
        ),
        # LONG_MAX itself (some kernels) and everything unlimited.
        ("9223372036854775807", V1_NO_LIMIT, V1_NO_LIMIT, []),
    ],
)
def test_v1_limits_at_several_levels(tmp_path: Path, leaf: str, middle: str, top: str, expected: list[Limit]) -> None:
    root = tree(
        tmp_path,
        lines(ROOTFS, V1_CPU, V1_MEMORY),
        lines("5:cpu,cpuacct:/a/b", "4:memory:/a/b"),
        {
            f"{V1_DIR}/a/b/memory.limit_in_bytes": leaf + "\n",
            f"{V1_DIR}/a/memory.limit_in_bytes": middle + "\n",
            f"{V1_DIR}/memory.limit_in_bytes": top + "\n",
            # The cpu hierarchy has no memory files; a decoy there must never be read.
            "sys/fs/cgroup/cpu,cpuacct/a/b/memory.limit_in_bytes": "1\n",
        },
    )
    assert memlimit.cgroup_limits(root) == expected


def test_v1_limit_just_below_the_unlimited_threshold_counts(tmp_path: Path) -> None:
    value = memlimit.V1_UNLIMITED - 4096
    root = tree(tmp_path, V1_MEMORY, "4:memory:/", {f"{V1_DIR}/memory.limit_in_bytes": f"{value}\n"})
    assert memlimit.cgroup_limits(root) == [Limit("cgroup v1 /", value)]


def test_v1_missing_and_unreadable_levels_are_skipped(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        V1_MEMORY,
        "4:memory:/a/b/c",
        {
            f"{V1_DIR}/a/b/memory.limit_in_bytes": "not a number\n",
            f"{V1_DIR}/a/memory.limit_in_bytes": f"{300 * MiB}\n",
        },
    )
    assert memlimit.cgroup_limits(root) == [Limit("cgroup v1 /a", 300 * MiB)]


# --- cgroup v2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "leaf, middle, expected",
    [
        ("max", str(100 * MiB), [Limit("cgroup v2 /a", 100 * MiB)]),
        (str(50 * MiB), str(100 * MiB), [Limit("cgroup v2 /a/b", 50 * MiB), Limit("cgroup v2 /a", 100 * MiB)]),
        ("max", "max", []),
    ],
)
def test_v2_max_and_numbers(tmp_path: Path, leaf: str, middle: str, expected: list[Limit]) -> None:
    # The real root cgroup has no memory.max at all.
    root = tree(
        tmp_path,
        lines(ROOTFS, V2),
        "0::/a/b",
        {
            "sys/fs/cgroup/a/b/memory.max": leaf + "\n",
            "sys/fs/cgroup/a/memory.max": middle + "\n",
        },
    )
    assert memlimit.cgroup_limits(root) == expected
    assert memlimit.effective(memlimit.cgroup_limits(root)) == (min(x.limit for x in expected) if expected else None)


def test_v2_very_large_number_is_a_real_limit(tmp_path: Path) -> None:
    """Only v1 encodes "unlimited" as a huge number; v2 says "max"."""
    root = tree(tmp_path, V2, "0::/a", {"sys/fs/cgroup/a/memory.max": V1_NO_LIMIT + "\n"})
    assert memlimit.cgroup_limits(root) == [Limit("cgroup v2 /a", int(V1_NO_LIMIT))]


def test_hybrid_v1_memory_and_v2_unified(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        lines(V1_MEMORY, V2_UNIFIED),
        lines("4:memory:/user.slice", "0::/user.slice"),
        {
            f"{V1_DIR}/user.slice/memory.limit_in_bytes": f"{700 * MiB}\n",
            "sys/fs/cgroup/unified/user.slice/memory.max": f"{600 * MiB}\n",
        },
    )
    assert memlimit.cgroup_limits(root) == [
        Limit("cgroup v1 /user.slice", 700 * MiB),
        Limit("cgroup v2 /user.slice", 600 * MiB),
    ]


# --- containers: the mount's root is not "/" ---------------------------------------------------


def test_v1_container_mount_reads_the_mount_point_itself(tmp_path: Path) -> None:
    container = "1234 1200 0:30 /docker/abc123 /sys/fs/cgroup/memory ro,nosuid master:16 - cgroup cgroup rw,memory"
    root = tree(
        tmp_path,
        container,
        "4:memory:/docker/abc123",
        {
            f"{V1_DIR}/memory.limit_in_bytes": f"{256 * MiB}\n",
            # The host-side path does not exist inside the container; a decoy there must be ignored.
            f"{V1_DIR}/docker/abc123/memory.limit_in_bytes": "4096\n",
        },
    )
    assert memlimit.mounts(root) == [Mount(1, "/docker/abc123", "/sys/fs/cgroup/memory")]
    assert memlimit.cgroup_limits(root) == [Limit("cgroup v1 /", 256 * MiB)]


def test_v2_container_mount_with_a_child_cgroup(tmp_path: Path) -> None:
    container = "900 800 0:40 /docker/abc /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw"
    root = tree(
        tmp_path,
        container,
        "0::/docker/abc/worker",
        {
            "sys/fs/cgroup/worker/memory.max": "max\n",
            "sys/fs/cgroup/memory.max": f"{64 * MiB}\n",
            "sys/fs/cgroup/docker/abc/worker/memory.max": "4096\n",
        },
    )
    assert memlimit.cgroup_limits(root) == [Limit("cgroup v2 /", 64 * MiB)]


def test_v2_cgroup_namespace(tmp_path: Path) -> None:
    """With a cgroup namespace both the mount root and our path read as "/"."""
    root = tree(tmp_path, V2, "0::/", {"sys/fs/cgroup/memory.max": f"{128 * MiB}\n"})
    assert memlimit.cgroup_limits(root) == [Limit("cgroup v2 /", 128 * MiB)]


def test_a_sibling_cgroup_whose_name_shares_the_mount_roots_prefix_is_not_read_as_ours(tmp_path: Path) -> None:
    """Mount root /docker/abc is not an ancestor of our /docker/abcdef, though the strings share
    a prefix: what is mounted is a sibling's tree, so none of its levels (its own root, nor a
    "def" child that a bare prefix test would find) is a limit on us."""
    container = "900 800 0:40 /docker/abc /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw"
    root = tree(
        tmp_path,
        container,
        "0::/docker/abcdef",
        {
            "sys/fs/cgroup/cgroup.controllers": "memory\n",
            "sys/fs/cgroup/memory.max": f"{1 * MiB}\n",
            "sys/fs/cgroup/def/memory.max": f"{2 * MiB}\n",
        },
    )
    assert memlimit.cgroup_limits(root) == []
    assert memlimit.cgroup_rooms(root) == []


# --- no limit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mountinfo, cgroup, files",
    [
        (None, None, {}),  # not Linux, or no /proc
        (lines(ROOTFS, PROC), "0::/", {}),  # no cgroup fs mounted
        (lines(ROOTFS, V2), "0::/a", {"sys/fs/cgroup/a/memory.max": "max\n"}),
        (lines(ROOTFS, V1_MEMORY), "4:memory:/", {f"{V1_DIR}/memory.limit_in_bytes": V1_NO_LIMIT + "\n"}),
        (lines(ROOTFS, V1_MEMORY), "5:cpu:/a", {f"{V1_DIR}/a/memory.limit_in_bytes": "4096\n"}),  # not in memory
    ],
    ids=["no-proc", "no-cgroup-mount", "v2-max", "v1-unlimited", "no-memory-controller-line"],
)
def test_no_limit_at_all(tmp_path: Path, mountinfo: str | None, cgroup: str | None, files: dict[str, str]) -> None:
    root = tree(tmp_path, mountinfo, cgroup, files)
    assert memlimit.cgroup_limits(root) == []
    assert memlimit.effective(memlimit.cgroup_limits(root)) is None


# --- RLIMIT_AS and the combination -------------------------------------------------------------

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the resource module is POSIX-only")


@posix_only
def test_rlimit_as_infinite_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert memlimit.rlimit_as() is None


@posix_only
def test_rlimit_as_soft_limit_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    seen = []

    def fake(which: int) -> tuple[int, int]:
        seen.append(which)
        return 900 * MiB, resource.RLIM_INFINITY

    monkeypatch.setattr(resource, "getrlimit", fake)
    assert memlimit.rlimit_as() == Limit("RLIMIT_AS", 900 * MiB)
    assert seen == [resource.RLIMIT_AS]


def test_all_limits_puts_rlimit_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memlimit, "rlimit_as", lambda: Limit("RLIMIT_AS", 2048 * MiB))
    root = tree(tmp_path, V2, "0::/a", {"sys/fs/cgroup/a/memory.max": f"{80 * MiB}\n"})
    limits = memlimit.all_limits(root)
    assert limits == [Limit("RLIMIT_AS", 2048 * MiB), Limit("cgroup v2 /a", 80 * MiB)]
    assert memlimit.effective(limits) == 80 * MiB


def test_all_limits_without_any(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memlimit, "rlimit_as", lambda: None)
    assert memlimit.all_limits(tree(tmp_path, None, None, {})) == []


def test_effective_is_the_tightest() -> None:
    assert memlimit.effective([]) is None
    assert memlimit.effective([Limit("a", 3), Limit("b", 1), Limit("c", 2)]) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="reads the real /proc of a Linux host")
def test_the_real_machine_reads_without_error() -> None:
    for limit in memlimit.all_limits():
        assert isinstance(limit.limit, int) and limit.limit > 0 and limit.source


# --- unreclaimable usage: what a build cannot count on -----------------------------------------


def v1_stat(rss: int, mapped: int, cache: int, total: bool = False) -> str:
    prefix = "total_" if total else ""
    return f"{prefix}cache {cache}\n{prefix}rss {rss}\n{prefix}mapped_file {mapped}\n{prefix}swap 0\n"


def own_status(anon_kib: int, file_kib: int) -> str:
    return f"Name:\tpython3\nVmRSS:\t{anon_kib + file_kib} kB\nRssAnon:\t{anon_kib} kB\nRssFile:\t{file_kib} kB\n"


def test_v1_subtracts_rss_and_mapped_file_never_the_page_cache(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        V1_MEMORY,
        "4:memory:/a",
        {
            f"{V1_DIR}/a/memory.limit_in_bytes": f"{100 * MiB}\n",
            f"{V1_DIR}/a/memory.stat": v1_stat(rss=30 * MiB, mapped=5 * MiB, cache=60 * MiB),
        },
    )
    assert memlimit.cgroup_rooms(root) == [Room("cgroup v1 /a", 100 * MiB, 35 * MiB)]
    assert memlimit.cgroup_rooms(root)[0].free == 65 * MiB


def test_v1_prefers_the_hierarchical_totals(tmp_path: Path) -> None:
    """A parent's own rss leaves out its children's; its total_rss counts them, as its limit does."""
    root = tree(
        tmp_path,
        V1_MEMORY,
        "4:memory:/a",
        {
            f"{V1_DIR}/a/memory.limit_in_bytes": f"{100 * MiB}\n",
            f"{V1_DIR}/a/memory.stat": v1_stat(1 * MiB, 0, 0) + v1_stat(40 * MiB, 2 * MiB, 9 * MiB, total=True),
        },
    )
    assert memlimit.cgroup_rooms(root)[0].held == 42 * MiB


def test_v2_subtracts_anon_only(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        V2,
        "0::/a",
        {
            "sys/fs/cgroup/a/memory.max": f"{64 * MiB}\n",
            "sys/fs/cgroup/a/memory.stat": f"anon {20 * MiB}\nfile {30 * MiB}\nfile_mapped {4 * MiB}\nshmem 0\n",
        },
    )
    assert memlimit.cgroup_rooms(root) == [Room("cgroup v2 /a", 64 * MiB, 20 * MiB)]


def test_our_own_process_is_added_back_the_floors_include_it(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        lines(V1_MEMORY, V2_UNIFIED),
        lines("4:memory:/a", "0::/a"),
        {
            "proc/self/status": own_status(anon_kib=8 * 1024, file_kib=4 * 1024),
            f"{V1_DIR}/a/memory.limit_in_bytes": f"{100 * MiB}\n",
            f"{V1_DIR}/a/memory.stat": v1_stat(rss=30 * MiB, mapped=5 * MiB, cache=0),
            "sys/fs/cgroup/unified/a/memory.max": f"{90 * MiB}\n",
            "sys/fs/cgroup/unified/a/memory.stat": f"anon {6 * MiB}\n",
        },
    )
    v1, v2 = memlimit.cgroup_rooms(root)
    assert v1.held == 35 * MiB - 12 * MiB  # v1 charges our anon and mapped pages
    assert v2.held == 0  # v2 counts anon only, and ours (8 MiB) is more than all the level holds


def test_the_tightest_level_of_a_nested_path_decides(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        V2,
        "0::/a/b/c",
        {
            "sys/fs/cgroup/a/b/c/memory.max": "max\n",
            "sys/fs/cgroup/a/b/memory.max": f"{200 * MiB}\n",
            "sys/fs/cgroup/a/b/memory.stat": f"anon {190 * MiB}\n",
            "sys/fs/cgroup/a/memory.max": f"{100 * MiB}\n",
            "sys/fs/cgroup/a/memory.stat": f"anon {10 * MiB}\n",
        },
    )
    rooms = memlimit.cgroup_rooms(root)
    assert [(room.source, room.free) for room in rooms] == [("cgroup v2 /a/b", 10 * MiB), ("cgroup v2 /a", 90 * MiB)]
    assert min(room.free for room in rooms) == 10 * MiB  # the larger limit, nearly full, is the tighter room
    assert memlimit.effective(memlimit.cgroup_limits(root)) == 100 * MiB


def test_no_stat_file_means_nothing_held(tmp_path: Path) -> None:
    root = tree(tmp_path, V2, "0::/a", {"sys/fs/cgroup/a/memory.max": f"{64 * MiB}\n"})
    assert memlimit.cgroup_rooms(root) == [Room("cgroup v2 /a", 64 * MiB, 0)]
