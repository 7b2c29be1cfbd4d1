"""The classifier on hostile text (D18)."""

from __future__ import annotations

import sys
from typing import Callable

import pytest

from sdkboot.classify import classify
from sdkboot.codes import ErrKind, Phase
from sdkboot.runner import Completed
from tests.conftest import FaultLog

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="flock, POSIX processes")

pytestmark = pytest.mark.usefixtures("restored_sys_path")


def test_d18_a_huge_signal_number_is_classified_not_raised(fault_log: Callable[[str], FaultLog]) -> None:
    log = fault_log("huge signal numbers in the text (D18)")
    for digits in (4301, 400, 30, 5):
        text = f"Error: Command '[...]' died with <Signals.SIGKILL: {'9' * digits}>.\n".encode()
        try:
            failure = classify(Phase.VENV, Completed(1, b"", text, 0.1))
        except ValueError as exc:
            log.trial([f"{digits} digits: raised {exc!r}"])
            continue
        rc = failure.kill_rc
        log.trial([] if rc is None or -128 <= rc <= 0 else [f"{digits} digits: rc {rc} reaches the metrics"])
    # A real one still counts.
    real = classify(Phase.VENV, Completed(1, b"", b"died with <Signals.SIGKILL: 9>.", 0.1))
    assert real.kind is ErrKind.SIGNAL_KILLED and real.kill_rc == -9
    log.check()
