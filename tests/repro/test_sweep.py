"""The sweep's search, driven by synthetic probes (no processes)."""
from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from repro.limits import Run
from repro.signature import Sample
from repro.sweep import Sweep, coarse_grid, explore, mixed, ranges, table, to_json


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
@given(st.lists(st.integers(min_value=2100, max_value=160000), min_size=1, max_size=5, unique=True),
       st.integers(min_value=16, max_value=1024))
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
    samples = {k: _sample(k, rc) for k, rc in [(16384, -9), (20480, -9), (24576, 1), (28672, -9),
                                               (32768, 0)]}
    found = ranges(samples)
    assert [r.signature.rc for r in found] == [-9, 1, -9, 0]
    assert mixed(found) == {0, 2}
    text = table(Sweep("venv", samples, True))
    assert text.count("| mixed |") == 2 and "(mixed: a signature that recurs" in text
    assert [r["mixed"] for r in to_json(Sweep("venv", samples, True, "tree"))["ranges"]] == [
        True, False, True, False]


def test_what_sdkboot_said_splits_ranges_and_gets_a_column() -> None:
    samples = {k: _sample(k, 0, said) for k, said in [(18432, "SKIP_LOW_MEMORY"),
                                                       (30720, "SKIP_LOW_MEMORY"),
                                                       (92160, "BUILT")]}
    sweep = Sweep("hook", samples, True, "tree")
    assert [r.signature.report for r in sweep.ranges] == ["SKIP_LOW_MEMORY", "BUILT"]
    assert "| sdkboot said |" in table(sweep).splitlines()[0]
    assert to_json(sweep)["mode"] == "tree"
