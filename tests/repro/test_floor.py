"""Floor search against synthetic probes: bisection, confirmation, and the edge cases."""

from __future__ import annotations

from repro.floor import START_MIN_KIB, descend_to_floor, find_floor, summary
from repro.limits import KINDS, Run
from repro.signature import Sample


def threshold_probe(floor: int, flaky_at: int = 0) -> tuple[list[int], object]:
    """Succeeds at >= floor, except the second run at ``flaky_at`` (a first confirmation)."""
    asked: list[int] = []

    def probe(kib: int) -> Sample:
        asked.append(kib)
        ok = kib >= floor and not (kib == flaky_at and asked.count(kib) == 2)
        return Sample.of(kib, Run((), "", 0 if ok else -9, "", "", 0.0, None, 0 if ok else 1))

    return asked, probe


def test_bisects_to_within_the_resolution_and_confirms_twice() -> None:
    asked, probe = threshold_probe(58000)
    found = find_floor(probe, 4096, 163840, 256)  # type: ignore[arg-type]
    assert found.confirmed and found.floor_kib is not None and found.below is not None
    assert found.below.kib < 58000 <= found.floor_kib
    assert found.floor_kib - found.below.kib <= 256
    assert asked[-2:] == [found.floor_kib, found.floor_kib]
    assert found.below.signature.short() == "-9 / E / E / oom 1"


def test_a_failed_confirmation_raises_the_floor_a_step() -> None:
    _, probe = threshold_probe(58000)
    first = find_floor(probe, 4096, 163840, 256)  # type: ignore[arg-type]
    assert first.floor_kib is not None
    # Same machine, but the first confirmation at that floor fails once (noise).
    _, noisy = threshold_probe(58000, flaky_at=first.floor_kib)
    second = find_floor(noisy, 4096, 163840, 256)  # type: ignore[arg-type]
    assert second.confirmed
    assert second.floor_kib == first.floor_kib + 256
    assert second.below is not None and second.below.kib == first.floor_kib


def test_no_success_at_the_top() -> None:
    _, probe = threshold_probe(10**9)
    found = find_floor(probe, 4096, 163840, 256)  # type: ignore[arg-type]
    assert found.floor_kib is None and not found.confirmed
    assert "no success" in summary(found, "x")


def test_success_at_the_bottom_asks_for_a_lower_lo() -> None:
    _, probe = threshold_probe(1)
    found = find_floor(probe, 4096, 163840, 256)  # type: ignore[arg-type]
    assert (found.floor_kib, found.below) == (4096, None)
    assert "lower --lo" in summary(found, "x")


def test_summary_names_the_floor_and_the_signature_below() -> None:
    _, probe = threshold_probe(58000)
    text = summary(find_floor(probe, 4096, 163840, 256), "pip-target · cgroup")  # type: ignore[arg-type]
    first, second = text.splitlines()
    assert first.startswith("pip-target · cgroup: floor ") and "confirmed" in first
    assert second.startswith("just below, at ") and "-9 / E / E / oom 1" in second


def test_summary_shows_both_ends_of_a_traceback() -> None:
    def probe(kib: int) -> Sample:
        stderr = "" if kib >= 80000 else "Traceback (most recent call last):\n  File x\nMemoryError\n"
        return Sample.of(kib, Run((), "", 0 if kib >= 80000 else 1, "", stderr, 0.0, None, 0))

    text = summary(find_floor(probe, 4096, 163840, 256), "import · as")
    assert text.splitlines()[1].endswith(": 1 / E / N Traceback (most recent call last): … MemoryError")
    assert not summary(find_floor(threshold_probe(58000)[1], 4096, 163840, 256), "x").endswith(" ")  # type: ignore[arg-type]


def test_a_start_floor_below_the_kinds_bottom_is_found_by_lowering_it() -> None:
    asked, probe = threshold_probe(1500)
    found = descend_to_floor(probe, KINDS["cgroup"])  # type: ignore[arg-type]
    assert found.confirmed and found.below is not None
    assert found.floor_kib is not None and 1500 <= found.floor_kib <= 1500 + 256
    assert min(asked) == 1024  # 4096 and 2048 succeeded, so it went on down


def test_a_start_floor_search_stops_at_its_minimum() -> None:
    _, probe = threshold_probe(0)
    found = descend_to_floor(probe, KINDS["cgroup"])  # type: ignore[arg-type]
    assert (found.floor_kib, found.below) == (START_MIN_KIB, None)
