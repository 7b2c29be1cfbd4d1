"""The cooldown record on its own (the lifecycle through ensure() is in test_ensure.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdkboot import cooldown
from sdkboot.layout import Layout

WINDOW = 3600.0
T0 = 1_700_000_000.0
FP = {"layout": 1, "python": "/usr/bin/python3", "python_id": "123:456", "requirements": ["claude-agent-sdk"]}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(str(tmp_path))


def write_record(layout: Layout, text: str) -> None:
    Path(layout.cooldown_file).write_text(text)


def test_no_record_no_cooldown(layout: Layout) -> None:
    assert cooldown.remaining(layout, T0, WINDOW, FP) == 0.0
    assert cooldown.read(layout) is None


def test_armed_record_counts_down_then_expires(layout: Layout) -> None:
    cooldown.arm(layout, T0, -9, "pip", FP)
    assert cooldown.remaining(layout, T0, WINDOW, FP) == WINDOW
    assert cooldown.remaining(layout, T0 + 600, WINDOW, FP) == WINDOW - 600
    assert cooldown.remaining(layout, T0 + WINDOW, WINDOW, FP) == 0.0
    assert cooldown.remaining(layout, T0 + WINDOW + 1, WINDOW, FP) == 0.0


def test_record_contents(layout: Layout) -> None:
    cooldown.arm(layout, T0, 137, "venv", FP)
    assert cooldown.read(layout) == {"time": T0, "rc": 137, "phase": "venv", "fingerprint": FP}


def test_zero_window_never_blocks(layout: Layout) -> None:
    cooldown.arm(layout, T0, -9, "pip", FP)
    assert cooldown.remaining(layout, T0, 0.0, FP) == 0.0


def test_record_for_another_fingerprint_does_not_block(layout: Layout) -> None:
    cooldown.arm(layout, T0, -9, "pip", dict(FP, python_id="999:999"))
    assert cooldown.remaining(layout, T0 + 1, WINDOW, FP) == 0.0
    cooldown.arm(layout, T0, -9, "pip", dict(FP, requirements=["claude-agent-sdk>=0.2"]))
    assert cooldown.remaining(layout, T0 + 1, WINDOW, FP) == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        "null",
        "\x00\x01",
        json.dumps({"time": "yesterday", "fingerprint": FP}),
        json.dumps({"time": True, "fingerprint": FP}),
        json.dumps({"time": None, "fingerprint": FP}),
        json.dumps({"fingerprint": FP}),
        json.dumps({"time": T0}),
    ],
)
def test_corrupt_record_is_ignored(layout: Layout, text: str) -> None:
    write_record(layout, text)
    assert cooldown.remaining(layout, T0 + 1, WINDOW, FP) == 0.0


@pytest.mark.parametrize("stamp", ["NaN", "Infinity"])
def test_non_finite_stamp_is_corrupt_and_ignored(layout: Layout, stamp: str) -> None:
    # Python's json reads these; they are no time at all and must not block forever.
    write_record(layout, '{"time": %s, "fingerprint": %s}' % (stamp, json.dumps(FP)))
    assert cooldown.remaining(layout, T0 + 1, WINDOW, FP) == 0.0


def test_future_stamp_blocks_at_most_one_window(layout: Layout) -> None:
    # The clock went backwards (or the record came from a machine ahead of us): the stamp is
    # ten windows in the future. Whatever the first check says, one window later it is over.
    cooldown.arm(layout, T0 + 10 * WINDOW, -9, "pip", FP)
    assert cooldown.remaining(layout, T0, WINDOW, FP) <= WINDOW
    assert cooldown.remaining(layout, T0 + WINDOW + 1, WINDOW, FP) == 0.0


def test_slightly_future_stamp_never_exceeds_the_window(layout: Layout) -> None:
    cooldown.arm(layout, T0 + 5, -9, "pip", FP)
    assert 0.0 < cooldown.remaining(layout, T0, WINDOW, FP) <= WINDOW


def test_clear_ends_the_cooldown_and_is_idempotent(layout: Layout) -> None:
    cooldown.arm(layout, T0, -9, "pip", FP)
    cooldown.clear(layout)
    assert cooldown.remaining(layout, T0, WINDOW, FP) == 0.0
    assert cooldown.read(layout) is None
    cooldown.clear(layout)  # nothing to remove: no error


def test_arm_leaves_no_temp_files(layout: Layout) -> None:
    cooldown.arm(layout, T0, -9, "pip", FP)
    cooldown.arm(layout, T0 + 1, -11, "pip_target", FP)
    assert sorted(p.name for p in Path(layout.root).iterdir()) == ["cooldown.json"]
    assert (cooldown.read(layout) or {})["rc"] == -11


finite = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)


@settings(deadline=None)  # one temp dir and file write per example
@given(stamp=finite, age=st.floats(min_value=0, max_value=1e7), window=st.floats(0, 1e6))
def test_past_stamp_remaining_is_the_rest_of_the_window(
    tmp_path_factory: Any, stamp: float, age: float, window: float
) -> None:
    layout = Layout(str(tmp_path_factory.mktemp("cd")))
    cooldown.arm(layout, stamp, -9, "pip", FP)
    left = cooldown.remaining(layout, stamp + age, window, FP)
    assert 0.0 <= left <= window
    assert left == pytest.approx(max(0.0, window - age), abs=1e-3)


# -- the boot clock: a wall clock that jumps can neither stretch nor renew a window --------------

BOOT = "9c1e8a1e-0000-4000-8000-000000000001"


def test_the_boot_clock_measures_the_window_whatever_the_wall_clock_does(layout: Layout) -> None:
    cooldown.arm(layout, T0, -9, "pip", FP, (BOOT, 500.0))
    assert (cooldown.read(layout) or {})["boot"] == {"id": BOOT, "seconds": 500.0}
    # The wall clock went back a day, then forward ten: only the boot clock's 600 s count.
    assert cooldown.remaining(layout, T0 - 86400, WINDOW, FP, (BOOT, 1100.0)) == WINDOW - 600
    assert cooldown.remaining(layout, T0 + 10 * 86400, WINDOW, FP, (BOOT, 1100.0)) == WINDOW - 600
    assert cooldown.remaining(layout, T0 - 86400, WINDOW, FP, (BOOT, 500.0 + WINDOW)) == 0.0
    assert cooldown.read(layout) == {
        "time": T0,
        "rc": -9,
        "phase": "pip",
        "fingerprint": FP,
        "boot": {"id": BOOT, "seconds": 500.0},
    }, "reading never rewrites"


def test_a_record_from_an_earlier_boot_is_at_least_the_uptime_old(layout: Layout) -> None:
    cooldown.arm(layout, T0, -9, "pip", FP, ("an-earlier-boot", 90000.0))
    # The clock now reads before the kill (reset at boot): the uptime still bounds the age.
    assert cooldown.remaining(layout, T0 - 7200, WINDOW, FP, (BOOT, 1000.0)) == WINDOW - 1000
    assert cooldown.remaining(layout, T0 + 1200, WINDOW, FP, (BOOT, 1000.0)) == WINDOW - 1200
    assert cooldown.remaining(layout, T0 - 7200, WINDOW, FP, (BOOT, WINDOW)) == 0.0


@pytest.mark.parametrize("boot", [{"id": BOOT, "seconds": 5000.0}, {"id": BOOT, "seconds": "x"}, {"id": 3}, "x"])
def test_a_boot_reference_that_cannot_be_is_no_cooldown_or_the_wall_clock(layout: Layout, boot: Any) -> None:
    record = {"time": T0, "rc": -9, "phase": "pip", "fingerprint": FP, "boot": boot}
    write_record(layout, json.dumps(record))
    left = cooldown.remaining(layout, T0 + 60, WINDOW, FP, (BOOT, 1000.0))
    # A reference ahead of this boot's clock is no record at all; a malformed one leaves the wall clock.
    assert left == (0.0 if boot == {"id": BOOT, "seconds": 5000.0} else WINDOW - 60)


def test_a_kill_stamped_ahead_of_this_boots_clock_is_no_cooldown(layout: Layout) -> None:
    # Seconds ahead on the same boot cannot be a kill that happened: no record, not a short age.
    cooldown.arm(layout, T0, -9, "pip", FP, (BOOT, 1100.0))
    assert cooldown.remaining(layout, T0 + 60, WINDOW, FP, (BOOT, 1000.0)) == 0.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the boot id is Linux's")
def test_boot_time_on_linux() -> None:
    first, second = cooldown.boot_time(), cooldown.boot_time()
    assert first is not None and second is not None
    assert first[0] == second[0] and len(first[0]) == 36
    assert 0 < first[1] <= second[1]
