"""The sweep's search, driven by synthetic probes (no processes)."""

from __future__ import annotations

import bisect
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from repro.floor import Floor
from repro.limits import KINDS, Run
from repro.options import Span
from repro.signature import Sample, Sweep, mixed, ranges
from repro.sweep import (
    HEADROOM,
    BuildFloor,
    build_floor,
    coarse_grid,
    explore,
    span_line,
    table,
    to_json,
    tree_hi,
)


def step_probe(edges: list[int], codes: list[int]) -> tuple[list[int], object]:
    """A probe whose rc is codes[i] between edges[i-1] and edges[i]; logs each limit asked."""
    asked: list[int] = []

    def probe(kib: int) -> Sample:
        asked.append(kib)
        rc = codes[bisect.bisect_right(edges, kib)]
        return Sample.of(kib, Run((), "", rc, "", "boom" if rc else "", 0.0, None, 0))

    return asked, probe


def test_coarse_grid_spans_the_range_on_a_log_scale() -> None:
    grid = coarse_grid(2048, 163840, 12)
    assert (grid[0], grid[-1], len(grid)) == (2048, 163840, 12)
    ratios = [b / a for a, b in zip(grid, grid[1:])]
    assert max(ratios) / min(ratios) < 1.01


def test_each_edge_is_bisected_to_the_resolution() -> None:
    asked, probe = step_probe([7336, 10472, 64000], [-11, 127, 1, 0])
    samples, complete = explore(probe, coarse_grid(2048, 163840, 12), 64, 200)  # type: ignore[arg-type]
    found = ranges(samples)
    assert complete
    assert [r.signature.rc for r in found] == [-11, 127, 1, 0]
    for left, right, edge in zip(found, found[1:], [7336, 10472, 64000]):
        assert left.hi_kib < edge <= right.lo_kib
        assert right.lo_kib - left.hi_kib <= 64
    assert len(asked) == len(set(asked)) < 60


def test_budget_stops_the_search_and_says_so() -> None:
    _, probe = step_probe([7336, 10472, 64000], [-11, 127, 1, 0])
    samples, complete = explore(probe, coarse_grid(2048, 163840, 12), 64, 20)  # type: ignore[arg-type]
    assert not complete and len(samples) == 20
    # Widest gaps first: every edge has been narrowed, none left at the coarse spacing.
    found = ranges(samples)
    assert len(found) == 4
    assert all(b.lo_kib / a.hi_kib < 1.2 for a, b in zip(found, found[1:]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=2100, max_value=160000), min_size=1, max_size=5, unique=True),
    st.integers(min_value=16, max_value=1024),
)
def test_found_edges_always_bracket_the_true_ones(edges: list[int], resolution: int) -> None:
    edges.sort()
    codes = [-(i + 1) for i in range(len(edges))] + [0]
    _, probe = step_probe(edges, codes)
    samples, complete = explore(probe, coarse_grid(2048, 163840, 12), resolution, 10_000)  # type: ignore[arg-type]
    assert complete
    for left, right in zip(ranges(samples), ranges(samples)[1:]):
        assert right.lo_kib - left.hi_kib <= resolution
        assert any(left.hi_kib < e <= right.lo_kib for e in edges)


def test_table_lists_ranges_with_streams_and_lines() -> None:
    _, probe = step_probe([7336], [-11, 0])
    samples, _ = explore(probe, [4096, 8192], 1024, 10)  # type: ignore[arg-type]
    text = table(Sweep("venv", samples, True))
    assert text.splitlines()[0].startswith("| limit | rc | stdout | stderr | OOM kills |")
    assert "| 4 MiB – 7 MiB | -11 | E | N | 0 | boom |  | 0 | 3 |  |" in text
    assert "| 8 MiB | 0 | E | E | 0 |  |  | 0 | 1 |  |" in text
    assert "budget" not in text and "sdkboot said" not in text and "mixed" not in text
    assert "budget reached" in table(Sweep("venv", samples, False))


def _sample(kib: int, rc: int, report: str = "") -> Sample:
    return Sample.of(kib, Run((), "", rc, "", "", 0.0, None, 0), report)


def test_a_signature_that_recurs_marks_a_mixed_band() -> None:
    # The kernel's choice, not the limit: -9 at 20 and 28 MiB, 1 between them.
    samples = {k: _sample(k, rc) for k, rc in [(16384, -9), (20480, -9), (24576, 1), (28672, -9), (32768, 0)]}
    found = ranges(samples)
    assert [r.signature.rc for r in found] == [-9, 1, -9, 0]
    assert mixed(found) == {0, 2}
    text = table(Sweep("venv", samples, True))
    assert text.count("| mixed |") == 2 and "(mixed: a signature that recurs" in text
    assert [r["mixed"] for r in to_json(Sweep("venv", samples, True, "tree"))["ranges"]] == [True, False, True, False]


def test_what_sdkboot_said_splits_ranges_and_gets_a_column() -> None:
    samples = {
        k: _sample(k, 0, said) for k, said in [(18432, "SKIP_LOW_MEMORY"), (30720, "SKIP_LOW_MEMORY"), (92160, "BUILT")]
    }
    sweep = Sweep("hook", samples, True, "tree")
    assert [r.signature.report for r in sweep.ranges] == ["SKIP_LOW_MEMORY", "BUILT"]
    assert "| sdkboot said |" in table(sweep).splitlines()[0]
    assert to_json(sweep)["mode"] == "tree"


# ---- the whole-tree span: from the bare start floor to past the build's floor ----


def _floors(directory: Path, name: str, strategies: dict[str, dict[str, object]]) -> None:
    document = {"schema": 1, "workloads": {"sdk": {"strategies": strategies}}}
    (directory / name).write_text(json.dumps(document))


def test_the_build_floor_is_the_highest_strategy_floor(tmp_path: Path) -> None:
    _floors(
        tmp_path,
        "floors.json",
        {
            "lean": {"cgroup_mib": 53.0, "rlimit_as_mib": 82.0},
            "venv": {"cgroup_mib": 100.2, "rlimit_as_mib": None},
        },
    )
    path = tmp_path / "floors.json"
    as_floor, cgroup_floor = build_floor("as", path), build_floor("cgroup", path)
    assert as_floor is not None and cgroup_floor is not None
    assert (as_floor.kib, as_floor.strategy) == (82 * 1024, "lean")
    assert (cgroup_floor.kib, cgroup_floor.strategy) == (round(100.2 * 1024), "venv")
    assert as_floor.source == str(path.resolve())


def test_no_floors_file_or_a_broken_one_gives_no_build_floor(tmp_path: Path) -> None:
    path = tmp_path / "floors.json"
    assert build_floor("as", path) is None
    path.write_text("{not json")
    assert build_floor("as", path) is None
    _floors(tmp_path, "floors.json", {"venv": {"rlimit_as_mib": None}})
    assert build_floor("as", path) is None


def test_the_runtime_floors_file_gives_a_floor_the_default_top_clears() -> None:
    for kind in ("as", "cgroup"):
        found = build_floor(kind)
        assert found is not None, f"no {kind} floor in sdkboot/floors.json"
        assert found.source == "sdkboot/floors.json"
        assert tree_hi(KINDS[kind], found) >= found.kib * HEADROOM


def test_a_tree_sweep_top_is_raised_past_a_high_build_floor() -> None:
    high = BuildFloor(200 * 1024, "venv", "f.json")
    assert tree_hi(KINDS["as"], high) == 250 * 1024
    assert tree_hi(KINDS["as"], None) == KINDS["as"].hi_kib


def test_the_span_line_says_where_the_sweep_starts_and_warns_when_it_stops_short() -> None:
    failed = Sample.of(13 * 1024 - 64, Run((), "", 1, "", "MemoryError", 0.0, None, 0))
    start = Floor(13 * 1024, failed, True, [])
    found = BuildFloor(82 * 1024, "lean", "floors.json")
    line = span_line(Span(KINDS["as"], 13 * 1024, 160 * 1024, 64), start, found)
    assert line.startswith("span: 13 MiB (the bare start floor) – 160 MiB; the build's floor")
    assert "82 MiB (lean, floors.json)" in line and "WARNING" not in line
    short = span_line(Span(KINDS["as"], 8 * 1024, 64 * 1024, 64), start, found)
    assert "(--lo)" in short and "WARNING: --hi is at or below it" in short
    assert "unknown" in span_line(Span(KINDS["as"], 8 * 1024, 64 * 1024, 64), None, None)


def test_a_start_floor_not_found_below_says_so() -> None:
    at_bottom = Floor(256, None, True, [])
    line = span_line(Span(KINDS["cgroup"], 256, 160 * 1024, 256), at_bottom, None)
    assert "(bare starts even here)" in line
