"""The memory preflight: which limits it sees and when no strategy's floor fits them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sdkboot import floors, memlimit, preflight
from sdkboot.floors import Floor
from sdkboot.memlimit import Limit, Room
from sdkboot.preflight import Seen
from sdkboot.spec import Spec
from tests.test_memlimit import V1_DIR, V1_MEMORY, V2, lines, tree, v1_stat

MiB = 1024 * 1024
FLOORS: dict[str, Floor] = {"lean": Floor("lean", 53.0, 82.0), "venv": Floor("venv", 100.2, 82.0)}
ORDER = ("lean", "venv")


def seen(address_mib: int | None = None, *rooms: Room) -> Seen:
    return Seen(address_mib * MiB if address_mib is not None else None, rooms)


@pytest.mark.parametrize(
    "found, expected",
    [
        (seen(), None),  # nothing limits memory
        (seen(82), None),  # lean fits at its address-space floor exactly
        (seen(81), [("lean", 82), ("venv", 82)]),
        (seen(None, Room("cgroup v1 /a", 53 * MiB, 0)), None),
        (seen(None, Room("cgroup v1 /a", 52 * MiB, 0)), [("lean", 53), ("venv", 101)]),
        # 80 MiB of limit, 30 held by others: 50 left, below lean's 53.
        (seen(None, Room("cgroup v1 /a", 80 * MiB, 30 * MiB)), [("lean", 53), ("venv", 101)]),
        (seen(4096, Room("cgroup v2 /a", 60 * MiB, 0)), None),  # lean fits both; venv never needed
        (seen(30, Room("cgroup v2 /a", 4096 * MiB, 0)), [("lean", 82), ("venv", 82)]),
    ],
)
def test_misses(found: Seen, expected: list[tuple[str, int]] | None) -> None:
    assert preflight.misses(found, ORDER, FLOORS) == expected


def test_only_the_strategies_in_the_order_count() -> None:
    assert preflight.misses(seen(None, Room("c", 60 * MiB, 0)), ["venv"], FLOORS) == [("venv", 101)]
    assert preflight.misses(seen(None, Room("c", 60 * MiB, 0)), ["lean"], FLOORS) is None


def test_a_strategy_never_measured_is_no_evidence() -> None:
    assert preflight.misses(seen(1), ["lean", "target"], FLOORS) is None
    assert preflight.misses(seen(1), ["lean"], {}) is None


def test_seen_reports_the_tightest_limit_and_describes_each() -> None:
    found = seen(70, Room("cgroup v1 /a", 64 * MiB, 3 * MiB), Room("cgroup v1 /", 512 * MiB, 100 * MiB))
    assert found.limit_mib == 64 and found.cgroup_free == 61 * MiB
    assert found.describe() == (
        "RLIMIT_AS 70 MiB",
        "cgroup v1 /a 64 MiB, 3 MiB held by others",
        "cgroup v1 / 512 MiB, 100 MiB held by others",
    )
    assert seen().limit_mib is None and seen().cgroup_free is None and seen().describe() == ()


def test_check_on_a_fixture_cgroup_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memlimit, "rlimit_as", lambda: None)
    root = tree(
        tmp_path,
        V1_MEMORY,
        "4:memory:/session",
        {
            f"{V1_DIR}/session/memory.limit_in_bytes": f"{60 * MiB}\n",
            f"{V1_DIR}/session/memory.stat": v1_stat(rss=10 * MiB, mapped=0, cache=500 * MiB),
        },
    )
    # 60 - 10 held = 50 MiB free, below every shipped floor; 500 MiB of page cache changes nothing.
    found, short = preflight.check(Spec(), ["lean", "venv", "target"], root)
    assert found.cgroup_free == 50 * MiB and short is not None
    shipped = floors.for_requirements(Spec().requirements)
    assert [label for label, _ in short] == ["lean", "venv", "target"]
    assert all(mib >= (shipped[label].cgroup_mib or 0) for label, mib in short)


def test_check_with_v2_max_everywhere_reads_no_floors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_floors(requirements: object) -> None:
        raise AssertionError("no limit: the floors file need not be read")

    monkeypatch.setattr(memlimit, "rlimit_as", lambda: None)
    monkeypatch.setattr(floors, "for_requirements", no_floors)
    root = tree(
        tmp_path, lines(V2), "0::/a/b", {"sys/fs/cgroup/a/b/memory.max": "max\n", "sys/fs/cgroup/a/memory.max": "max\n"}
    )
    assert preflight.check(Spec(), ["lean"], root) == (Seen(None, []), None)


def test_check_under_an_address_space_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(memlimit, "rlimit_as", lambda: Limit("RLIMIT_AS", 70 * MiB))
    found, short = preflight.check(Spec(), ["lean"], str(tmp_path))
    floor = floors.for_requirements(Spec().requirements)["lean"].rlimit_as_mib or 0
    assert floor > 70, "the shipped lean floor is above 70 MiB of address space (the verification import)"
    assert found.limit_mib == 70 and short == [("lean", math.ceil(floor))]
