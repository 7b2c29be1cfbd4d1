"""Hypothesis against the classifier, every parser of state-dir content, and the cooldown clock.

Nothing a child prints or a file holds may raise out of these, and what reaches the metrics stays
a small integer."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdkboot import cooldown, events, requirements, safefs, state
from sdkboot.classify import classify
from sdkboot.codes import ErrKind, Outcome, Phase
from sdkboot.layout import Layout
from sdkboot.result import MAX_METRIC_KEYS, Result
from sdkboot.runner import Completed
from tests.conftest import FaultLog

EXAMPLES = 300
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text a real failure prints, to splice into noise so the table's rules are reached.
FRAGMENTS = [
    "died with <Signals.SIGKILL: 9>",
    "died with <Signals.SIGKILL: 99999999999>",
    "MemoryError",
    "No space left on device",
    "ensurepip is not available",
    "No module named pip",
    "Permission denied",
    "Could not find a version",
    "Killed",
    "Traceback (most recent call last):",
    "\x00\xff",
    "requires-python",
]
noise = st.binary(max_size=300) | st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=40), max_size=6).map(
    lambda parts: "\n".join(parts).encode("utf-8", errors="surrogatepass")
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def _metrics_are_small(result: Result) -> list[str]:
    metrics = result.metrics()
    wrong = [] if len(metrics) <= MAX_METRIC_KEYS else [f"{len(metrics)} keys"]
    for key, value in metrics.items():
        if not isinstance(value, (int, bool)) or abs(int(value)) > 2**31:
            wrong.append(f"{key}={value!r}")
    return wrong


def test_the_classifier_on_anything(fault_log: Any) -> None:
    log: FaultLog = fault_log("fuzz: the classifier")

    @FUZZ
    # A process's own return code is what the OS allows: -64 (a signal) to 255.
    @given(phase=st.sampled_from(list(Phase)), rc=st.integers(-64, 255), out=noise, err=noise, timed_out=st.booleans())
    def check(phase: Phase, rc: int, out: bytes, err: bytes, timed_out: bool) -> None:
        try:
            failure = classify(phase, Completed(rc, out, err, 0.1, timed_out=timed_out))
        except Exception as exc:  # the fault being counted
            log.trial([f"rc {rc}: raised {type(exc).__name__}: {exc}"[:200]])
            return
        wrong = [] if isinstance(failure.kind, ErrKind) and len(failure.text) <= 200 else [f"text {failure.text!r}"]
        wrong += (
            []
            if failure.kill_rc is None or -128 <= failure.kill_rc <= 255 or failure.kill_rc == rc
            else [f"kill_rc {failure.kill_rc}"]
        )
        wrong += _metrics_are_small(Result(Outcome.BUILD_FAILED, phase=phase, failure=failure, rc=None))
        log.trial(wrong)

    check()
    log.check()


def test_the_json_parser_on_anything(fault_log: Any) -> None:
    log: FaultLog = fault_log("fuzz: the state-file parser")

    @FUZZ
    @given(raw=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
    def check(raw: bytes) -> None:
        try:
            data, reason = safefs.parse_json(raw)
        except BaseException as exc:
            log.trial([f"raised {type(exc).__name__}"])
            return
        log.trial([] if (data is None) != (reason is None) else ["both or neither"])

    check()
    log.check()


def _fields() -> Any:
    good: dict[str, Any] = {
        "strategy": "venv",
        "env": "/s/builds/e",
        "site": "/s/builds/e/lib",
        "python_version": "3.11.7",
        "paths": ["/s/builds/e"],
        "fingerprint": {"layout": 1},
        "built_at": 1.0,
    }
    return st.dictionaries(st.sampled_from([*sorted(good), "extra"]), json_values, max_size=9).map(
        lambda changes: {**good, **changes}
    )


def test_install_state_records_on_anything(fault_log: Any) -> None:
    log: FaultLog = fault_log("fuzz: install-state records")

    @FUZZ
    @given(data=_fields())
    def check(data: dict[str, Any]) -> None:
        try:
            record = state.InstallState.from_json(data)
        except ValueError:
            log.trial()
            return
        except Exception as exc:
            log.trial([f"raised {type(exc).__name__}: {exc}"[:200]])
            return
        typed = all(isinstance(p, str) and "\0" not in p for p in (record.env, record.site, *record.paths))
        typed = typed and isinstance(record.built_at, (int, float)) and math.isfinite(record.built_at)
        log.trial([] if typed else [f"accepted {data}"[:200]])

    check()
    log.check()


def test_cooldown_records_on_anything(tmp_path: Path, fault_log: Any) -> None:
    log: FaultLog = fault_log("fuzz: cooldown records")
    layout = Layout(str(tmp_path))
    fp = {"layout": 1}

    @FUZZ
    @given(
        record=st.dictionaries(
            st.sampled_from(["time", "rc", "phase", "fingerprint", "boot", "reserved"]), json_values, max_size=6
        ),
        now=st.floats(-1e12, 1e12),
        window=st.floats(0, 1e7),
        boot=st.none() | st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 1e9)),
    )
    def check(record: dict[str, Any], now: float, window: float, boot: Any) -> None:
        record = {**record, "fingerprint": fp} if record.get("fingerprint") == "same" else record
        Path(layout.cooldown_file).write_text(json.dumps(record))
        try:
            left = cooldown.remaining(layout, now, window, fp, boot)
        except Exception as exc:
            log.trial([f"raised {type(exc).__name__}: {exc}"[:200]])
            return
        log.trial([] if 0.0 <= left <= window else [f"remaining {left} outside [0, {window}]"])

    check()
    log.check()


def test_the_boot_clock_bounds_every_sequence_of_jumps(tmp_path: Path, fault_log: Any) -> None:
    """Within a boot, whatever the wall clock does, the window ends one window after the kill."""
    log: FaultLog = fault_log("fuzz: clock jumps during a cooldown")
    layout = Layout(str(tmp_path))
    fp = {"layout": 1}
    window = 3600.0

    @FUZZ
    @given(steps=st.lists(st.tuples(st.floats(0, 2000), st.floats(-1e6, 1e6)), min_size=1, max_size=12))
    def check(steps: list[Any]) -> None:
        real, wall = 100.0, 1.7e9
        cooldown.arm(layout, wall, -9, "pip", fp, ("boot", real))
        killed_at = real
        wrong = []
        for advance, jump in steps:
            real, wall = real + advance, wall + advance + jump
            left = cooldown.remaining(layout, wall, window, fp, ("boot", real))
            if abs(left - max(0.0, window - (real - killed_at))) > 1e-6:
                wrong.append(f"{real - killed_at:.0f} s after the kill: {left:.0f} s left")
        log.trial(wrong[:1])

    check()
    log.check()


def test_requirements_on_anything(fault_log: Any) -> None:
    log: FaultLog = fault_log("fuzz: the requirement check")

    @FUZZ
    @given(text=st.text(max_size=60) | st.sampled_from(["-", "--", "--log=/x://y", "a @ -x", "a; --b://c"]))
    def check(text: str) -> None:
        try:
            reason = requirements.problem(text)
        except Exception as exc:
            log.trial([f"{text!r}: raised {type(exc).__name__}"])
            return
        if reason is None:
            ok = not text.lstrip().startswith("-") and "\n" not in text and "\r" not in text
            log.trial([] if ok else [f"accepted {text!r}"])
        else:
            log.trial([] if "\n" not in reason else [f"a multi-line reason for {text!r}"])

    check()
    log.check()


def test_the_event_log_reader_on_anything(tmp_path: Path, fault_log: Any) -> None:
    log: FaultLog = fault_log("fuzz: the event-log reader")
    path = tmp_path / "events.jsonl"

    @FUZZ
    @given(raw=st.binary(max_size=500))
    def check(raw: bytes) -> None:
        path.write_bytes(raw)
        try:
            lines = events.read_lines(str(path))
        except Exception as exc:
            log.trial([f"raised {type(exc).__name__}"])
            return
        log.trial([] if all(isinstance(line, str) for line in lines) else ["not text"])

    check()
    log.check()
