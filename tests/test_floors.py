"""The floors data file: the shipped one, its lookup by requirement, and what a bad file gives."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sdkboot import floors
from sdkboot.floors import Floor
from sdkboot.strategies.all_strategies import STRATEGIES

DOC = {
    "schema": 1,
    "workloads": {
        "claude-agent-sdk": {
            "import": {"cgroup_mib": 48.5, "rlimit_as_mib": 82.0},
            "strategies": {
                "lean": {"cgroup_mib": 53.0, "rlimit_as_mib": 82.0},
                "venv": {"cgroup_mib": 100.2, "rlimit_as_mib": None},
                "odd": "not a table",
            },
        }
    },
}


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    floors._cache.clear()
    yield
    floors._cache.clear()


def test_the_shipped_file_measures_every_strategy_for_the_default_requirement(fresh_cache: None) -> None:
    shipped = floors.for_requirements(["claude-agent-sdk"])
    assert set(shipped) == set(STRATEGIES)
    for floor in shipped.values():
        assert floor.cgroup_mib and floor.cgroup_mib > 0 and floor.rlimit_as_mib and floor.rlimit_as_mib > 0


@pytest.mark.parametrize(
    "requirements",
    [["claude-agent-sdk"], ["Claude_Agent.SDK>=0.1"], ["claude-agent-sdk[extra] ; python_version >= '3.10'"]],
)
def test_requirements_match_the_workload_by_normalized_name(requirements: list[str]) -> None:
    assert set(floors.for_requirements(requirements, DOC)) == {"lean", "venv", "odd"}


@pytest.mark.parametrize("requirements", [["requests"], ["claude-agent-sdk", "requests"], []])
def test_an_unmeasured_requirement_set_has_no_floors(requirements: list[str]) -> None:
    assert floors.for_requirements(requirements, DOC) == {}


def test_an_unmeasured_floor_falls_back_to_the_bare_import() -> None:
    found = floors.for_requirements(["claude-agent-sdk"], DOC)
    assert found["venv"] == Floor("venv", 100.2, 82.0)  # every strategy ends with the import
    assert found["odd"] == Floor("odd", 48.5, 82.0)


@pytest.mark.parametrize("data", [None, b"not json", b"[1, 2]", b'{"schema": 2, "workloads": {}}'])
def test_a_missing_corrupt_or_foreign_file_gives_no_floors(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: None, data: bytes | None
) -> None:
    monkeypatch.setattr(floors, "_package_data", lambda: data)
    assert floors.load() == {}
    assert floors.for_requirements(["claude-agent-sdk"]) == {}
