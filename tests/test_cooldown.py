"""The cooldown record on its own (the lifecycle through ensure() is in test_ensure.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdkboot import cooldown
from sdkboot.layout import Layout

WINDOW = 3600.0
T0 = 1_700_000_000.0
FP = {"layout": 1, "python": "/usr/bin/python3", "python_id": "123:456",
      "requirements": ["claude-agent-sdk"]}


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


@pytest.mark.parametrize("text", [
    "", "{", "[]", "null", "\x00\x01",
    json.dumps({"time": "yesterday", "fingerprint": FP}),
    json.dumps({"time": True, "fingerprint": FP}),
    json.dumps({"time": None, "fingerprint": FP}),
    json.dumps({"fingerprint": FP}),
    json.dumps({"time": T0}),
])
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
def test_past_stamp_remaining_is_the_rest_of_the_window(tmp_path_factory: Any, stamp: float,
                                                        age: float, window: float) -> None:
    layout = Layout(str(tmp_path_factory.mktemp("cd")))
    cooldown.arm(layout, stamp, -9, "pip", FP)
    left = cooldown.remaining(layout, stamp + age, window, FP)
    assert 0.0 <= left <= window
    assert left == pytest.approx(max(0.0, window - age), abs=1e-3)
