"""Reading cgroup paths and limits from fixture trees (no real /proc or /sys: runs anywhere)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repro import Unsupported, cgroups
from sdkboot import memlimit

V1_NO_LIMIT = "9223372036854771712\n"
V1_PROC = """\
9:name=systemd:/
5:devices:/
4:memory:/process_api/abc
1:cpu,cpuacct:/
0::/
"""
V2_PROC = "0::/user.slice/app.scope\n"


def _mountinfo(*lines: tuple[str, str, str, str]) -> str:
    """(root, mount point, fstype, super options) -> mountinfo text."""
    return "".join(
        f"{30 + i} 23 0:{28 + i} {root} {point} rw,relatime - {fs} {fs} {opts}\n"
        for i, (root, point, fs, opts) in enumerate(lines)
    )


def _tree(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)


@pytest.fixture
def v1_tree(tmp_path: Path) -> tuple[Path, str]:
    memory = tmp_path / "memory"
    _tree(
        memory,
        {
            "memory.limit_in_bytes": V1_NO_LIMIT,
            "process_api/memory.limit_in_bytes": "1073741824\n",
            "process_api/abc/memory.limit_in_bytes": V1_NO_LIMIT,
        },
    )
    unified = tmp_path / "unified"
    _tree(unified, {"cgroup.controllers": "hugetlb\n"})
    info = _mountinfo(
        ("/", str(tmp_path), "tmpfs", "rw"),
        ("/", str(memory), "cgroup", "rw,memory"),
        ("/", str(unified), "cgroup2", "rw"),
    )
    return memory, info


@pytest.fixture
def v2_tree(tmp_path: Path) -> tuple[Path, str]:
    _tree(
        tmp_path,
        {
            "cgroup.controllers": "cpuset cpu io memory pids\n",
            "user.slice/memory.max": "536870912\n",
            "user.slice/app.scope/memory.max": "max\n",
        },
    )
    return tmp_path, _mountinfo(("/", str(tmp_path), "cgroup2", "rw,nsdelegate"))


def test_parse_proc_cgroup_maps_each_controller() -> None:
    paths = cgroups.parse_proc_cgroup(V1_PROC)
    assert paths["memory"] == "/process_api/abc"
    assert paths["cpuacct"] == paths["cpu"] == "/"
    assert paths[""] == "/"
    assert cgroups.parse_proc_cgroup(V2_PROC) == {"": "/user.slice/app.scope"}


def test_locate_v1_prefers_the_memory_mount_on_hybrid_hosts(v1_tree: tuple[Path, str]) -> None:
    memory, info = v1_tree
    found = cgroups.locate(V1_PROC, info)
    assert (found.flavor.version, found.own, found.mount) == (1, memory / "process_api/abc", memory)


def test_locate_v1_inside_a_container_whose_mount_root_is_not_slash(tmp_path: Path) -> None:
    info = _mountinfo(("/docker/c0ffee", str(tmp_path), "cgroup", "rw,memory"))
    found = cgroups.locate("4:memory:/docker/c0ffee/inner\n", info)
    assert found.own == tmp_path / "inner"
    assert cgroups.locate("4:memory:/docker/c0ffee\n", info).own == tmp_path


def test_locate_refuses_a_cgroup_outside_the_mount(tmp_path: Path) -> None:
    info = _mountinfo(("/docker/c0ffee", str(tmp_path), "cgroup", "rw,memory"))
    with pytest.raises(Unsupported, match="outside the mount"):
        cgroups.locate("4:memory:/elsewhere\n", info)


def test_locate_v2(v2_tree: tuple[Path, str]) -> None:
    root, info = v2_tree
    found = cgroups.locate(V2_PROC, info)
    assert (found.flavor.version, found.own) == (2, root / "user.slice/app.scope")


def test_locate_without_a_memory_controller_is_unsupported(tmp_path: Path) -> None:
    _tree(tmp_path, {"cgroup.controllers": "cpu io pids\n"})
    info = _mountinfo(("/", str(tmp_path), "cgroup2", "rw"))
    with pytest.raises(Unsupported, match="no memory controller"):
        cgroups.locate(V2_PROC, info)


def test_own_limit_is_sdkboots_reading_in_kib(monkeypatch: pytest.MonkeyPatch) -> None:
    # The v1/v2/"no limit" parsing itself is tested once, in tests/test_memlimit.py.
    limits = [memlimit.Limit("cgroup v1 /a", 64 * 1024 * 1024), memlimit.Limit("cgroup v1 /", 96 * 1024 * 1024)]
    monkeypatch.setattr(memlimit, "cgroup_limits", lambda root="/": limits)
    assert cgroups.own_limit_kib() == 64 * 1024
    monkeypatch.setattr(memlimit, "cgroup_limits", lambda root="/": [])
    assert cgroups.own_limit_kib() is None


@pytest.mark.parametrize(
    ("version", "files", "kills", "peak"),
    [
        (
            1,
            {
                "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                "memory.max_usage_in_bytes": "59768832\n",
            },
            3,
            58368,
        ),
        (
            2,
            {
                "memory.events": "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
                "memory.peak": "10485760\n",
            },
            2,
            10240,
        ),
        (2, {}, 0, None),
    ],
)
def test_oom_kills_and_peak(tmp_path: Path, version: int, files: dict[str, str], kills: int, peak: int | None) -> None:
    _tree(tmp_path, files)
    flavor = cgroups.FLAVORS[version]
    assert cgroups.read_oom_kills(tmp_path, flavor) == kills
    assert cgroups.read_peak_kib(tmp_path, flavor) == peak


@pytest.mark.parametrize(
    ("version", "present", "written"),
    [
        (
            1,
            ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
            {"memory.limit_in_bytes": "10485760", "memory.memsw.limit_in_bytes": "10485760"},
        ),
        (1, ["memory.limit_in_bytes"], {"memory.limit_in_bytes": "10485760"}),
        (2, ["memory.max", "memory.swap.max"], {"memory.max": "10485760", "memory.swap.max": "0"}),
        (2, ["memory.max"], {"memory.max": "10485760"}),
    ],
)
def test_apply_limit_sets_swap_too_where_accounted(
    tmp_path: Path, version: int, present: list[str], written: dict[str, str]
) -> None:
    _tree(tmp_path, {name: "untouched" for name in present})
    cgroups.apply_limit(tmp_path, cgroups.FLAVORS[version], 10240)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == written


def test_detect_off_linux_names_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(Unsupported, match="not Linux"):
        cgroups.detect()
