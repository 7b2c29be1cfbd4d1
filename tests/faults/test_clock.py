"""Clock jumps during a cooldown (D16): the window ends one window after the real kill, whatever the wall clock did."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from tests.conftest import FaultLog
from tests.faults.fakes import FakeBuilds, done, fault_spec

HOUR = 3600.0
WINDOW = 24 * HOUR

pytestmark = pytest.mark.usefixtures("restored_sys_path")


class Machine:
    """The system's clocks, faked: a wall clock (time.time) that can jump, and the real time
    since boot (CLOCK_BOOTTIME) that cannot."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = 1000.0
        self.offset = 1_800_000_000.0
        real_gettime = time.clock_gettime
        boottime = getattr(time, "CLOCK_BOOTTIME", None)

        def clock_gettime(clock: int) -> float:
            return self.real if clock == boottime else real_gettime(clock)

        monkeypatch.setattr(time, "clock_gettime", clock_gettime)
        monkeypatch.setattr(time, "time", self.wall)

    def wall(self) -> float:
        return self.real + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a boot id and CLOCK_BOOTTIME: Linux")
@pytest.mark.parametrize("jump_hours", [-23.0, -200.0, +5.0])
def test_d16_a_clock_jump_never_stretches_the_cooldown(
    tmp_path: Path,
    fake_builds: FakeBuilds,
    jump_hours: float,
    monkeypatch: pytest.MonkeyPatch,
    fault_log: Callable[[str], FaultLog],
) -> None:
    log = fault_log("wall-clock jumps during a cooldown (D16)")
    machine = Machine(monkeypatch)
    spec = fault_spec(tmp_path / "state", cooldown_seconds=WINDOW)
    fake_builds.venv_result = done(rc=-9)  # a memory kill
    assert sdkboot.ensure(spec).err_kind == "signal_killed:-9"
    fake_builds.venv_result = None

    machine.jump(jump_hours * HOUR)
    outcomes: dict[float, str] = {}
    for hours in (1.0, 22.9, 23.5, 24.1, 30.0, 47.5):  # real hours since the kill
        machine.real = 1000.0 + hours * HOUR
        if hours == 23.5:
            machine.jump(jump_hours * HOUR)  # and it jumps again: that must not renew anything
        outcomes[hours] = sdkboot.ensure(spec).outcome.name

    late = [h for h, name in outcomes.items() if h > 24 and name == "SKIP_COOLDOWN"]
    log.trial([f"still cooling {late} h after the kill" for _ in late[:1]])
    assert not late, outcomes
    assert outcomes[1.0] == "SKIP_COOLDOWN" or jump_hours > 0, outcomes
    log.check()
