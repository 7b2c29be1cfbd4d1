"""``sdkboot report`` on a synthetic event log (rotated file, corrupt lines), every number worked out by hand."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from sdkboot import Spec, ensure
from sdkboot.cli import main
from sdkboot.commands import report
from tests.interpreters import write_wrapper


def event(outcome: str, duration: int | None = None, err: str | None = None, rc: Any = None) -> bytes:
    record: dict[str, Any] = {"outcome": outcome, "err_kind": err, "rc": rc, "time": 1.0, "pid": 7}
    if duration is not None:
        record["duration_ms"] = duration
    return (json.dumps(record) + "\n").encode()


# The older, rotated half of the log.
ROTATED = b"".join(
    [
        event("BUILT", 100),
        event("BUILT", 200),
        event("BUILD_FAILED", 30, "signal_killed:-9", -9),
        b'{"outcome": "BUILT", "duration_ms": \n',  # torn write: corrupt
        event("BUILT", 300),
        event("NOOP_VENV", 5),
        event("BUILD_FAILED", 50, "other:ERROR: something odd happened", 1),
    ]
)
# The current file.
CURRENT = b"".join(
    [
        event("BUILT", 400),
        b"[1, 2, 3]\n",  # JSON, but not an object: corrupt
        event("BUILD_FAILED", 70, "signal_killed:137", 137),
        b"\n",  # blank: skipped, not corrupt
        *(event("BUILT", ms) for ms in (500, 600, 700, 800, 900, 1000)),
        b"\xff\xfe\xfd not utf-8\n",  # corrupt
        event("BUILD_FAILED", 40, "signal_killed:-9", -9),
        event("BUILD_FAILED", 60, "other:Killed", 1),
        event("SKIP_COOLDOWN", 1),
        b"null\n",  # corrupt
        event("BUILD_FAILED", 90, "pip_no_match", 1),
        event("NOOP_VENV", 7),
        event("NOOP_VENV", 3),
        event("NOOP_SYSTEM"),  # no duration recorded
        event("BUILD_FAILED", 20, "signal_killed:-9", "-9"),  # rc not an int: no histogram entry
    ]
)

# By hand. BUILT: 100..1000 step 100 (10 values): nearest-rank p50 = 5th = 500, p95 = 10th = 1000.
# BUILD_FAILED: 20 30 40 50 60 70 90 (7): p50 = ceil(3.5) = 4th = 50, p95 = ceil(6.65) = 7th = 90.
# NOOP_VENV: 3 5 7: p50 = 2nd = 5, p95 = 3rd = 7. SKIP_COOLDOWN: 1.
EXPECTED = {
    "events": 22,
    "corrupt_lines": 4,
    "outcomes": {"BUILT": 10, "BUILD_FAILED": 7, "NOOP_VENV": 3, "SKIP_COOLDOWN": 1, "NOOP_SYSTEM": 1},
    "err_kinds": {"signal_killed:-9": 3, "signal_killed:137": 1, "other": 2, "pip_no_match": 1},
    "signal_kill_rcs": {"-9": 2, "137": 1},
    "durations": {
        "BUILT": {"count": 10, "p50_ms": 500, "p95_ms": 1000},
        "BUILD_FAILED": {"count": 7, "p50_ms": 50, "p95_ms": 90},
        "NOOP_VENV": {"count": 3, "p50_ms": 5, "p95_ms": 7},
        "SKIP_COOLDOWN": {"count": 1, "p50_ms": 1, "p95_ms": 1},
    },
}


def write_log(root: Path, current: bytes | None = CURRENT, rotated: bytes | None = ROTATED) -> None:
    root.mkdir(parents=True, exist_ok=True)
    if rotated is not None:
        (root / "events.jsonl.1").write_bytes(rotated)
    if current is not None:
        (root / "events.jsonl").write_bytes(current)


def report_json(capsys: pytest.CaptureFixture[str], root: Path) -> dict[str, Any]:
    assert main(["report", "--json", "--state-dir", str(root)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    data: dict[str, Any] = json.loads(captured.out)
    return data


def test_counts_and_percentiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(tmp_path / "state")
    assert report_json(capsys, tmp_path / "state") == EXPECTED


def test_the_rotated_file_is_part_of_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(tmp_path / "state", current=None)
    data = report_json(capsys, tmp_path / "state")
    assert data["events"] == 6 and data["corrupt_lines"] == 1
    assert data["outcomes"] == {"BUILT": 3, "BUILD_FAILED": 2, "NOOP_VENV": 1}
    assert data["durations"]["BUILT"] == {"count": 3, "p50_ms": 200, "p95_ms": 300}


def test_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(tmp_path / "state")
    assert main(["report", "--state-dir", str(tmp_path / "state")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    blocks = captured.out.rstrip("\n").split("\n\n")
    assert blocks[0] == "22 events, 4 corrupt lines skipped"
    outcome_rows = [line.split() for line in blocks[1].splitlines()[2:]]
    assert outcome_rows == [
        ["BUILT", "10", "500", "1000"],
        ["BUILD_FAILED", "7", "50", "90"],
        ["NOOP_VENV", "3", "5", "7"],
        ["SKIP_COOLDOWN", "1", "1", "1"],
        ["NOOP_SYSTEM", "1", "-", "-"],
    ]
    assert [line.split() for line in blocks[2].splitlines()[2:]] == [
        ["signal_killed:-9", "3"],
        ["other", "2"],
        ["signal_killed:137", "1"],
        ["pip_no_match", "1"],
    ]
    assert [line.split() for line in blocks[3].splitlines()[2:]] == [["-9", "2"], ["137", "1"]]


def test_no_log_at_all(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = report_json(capsys, tmp_path / "never-built")
    assert data == {
        "events": 0,
        "corrupt_lines": 0,
        "outcomes": {},
        "err_kinds": {},
        "signal_kill_rcs": {},
        "durations": {},
    }
    assert main(["report", "--state-dir", str(tmp_path / "never-built")]) == 0
    assert capsys.readouterr().out.startswith("0 events, 0 corrupt lines skipped")
    assert not (tmp_path / "never-built").exists()


def test_a_log_of_only_corrupt_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(tmp_path / "state", current=b"{\n\x00\x01\n42\n", rotated=None)
    data = report_json(capsys, tmp_path / "state")
    assert (data["events"], data["corrupt_lines"]) == (0, 3)


@pytest.mark.parametrize(
    "values, q, expected",
    [
        ([7], 50, 7),
        ([7], 95, 7),
        ([1, 2], 50, 1),
        ([1, 2], 95, 2),
        ([3, 1, 2], 50, 2),
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 21)), 95, 19),
    ],
)
def test_nearest_rank_percentile(values: list[int], q: float, expected: int) -> None:
    assert report.percentile(values, q) == expected


@pytest.mark.skipif(sys.platform == "win32", reason="wrapper interpreters are POSIX sh scripts")
def test_reads_what_ensure_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The field names report reads are the ones ensure() logs: a real signal kill and two no-ops."""
    killed = write_wrapper(tmp_path / "py-killed", 'if [ "$2" = "venv" ]; then kill -9 $$; fi\n')
    root = tmp_path / "state"
    floor = sys.version_info[:2]
    ensure(Spec(import_name="json", state_dir=str(root), min_python=floor))
    ensure(Spec(import_name="json", state_dir=str(root), min_python=floor))
    failed = ensure(
        Spec(
            requirements=("x-dist",),
            import_name="x_mod_absent",
            python=str(killed),
            state_dir=str(root),
            min_python=floor,
            strategies=("venv",),
        )
    )
    assert failed.err_kind == "signal_killed:-9"

    data = report_json(capsys, root)

    assert data["outcomes"] == {"NOOP_SYSTEM": 2, "BUILD_FAILED": 1}
    assert data["err_kinds"] == {"signal_killed:-9": 1} and data["signal_kill_rcs"] == {"-9": 1}
    assert data["durations"]["NOOP_SYSTEM"]["count"] == 2 and data["corrupt_lines"] == 0


@pytest.mark.parametrize(
    "line",
    [
        b'{"outcome": "BUILT", "duration_ms": NaN}\n',
        b'{"outcome": "BUILT", "duration_ms": Infinity}\n',
        b'{"outcome": "BUILT", "duration_ms": -Infinity}\n',
        b'{"outcome": "BUILT", "rc": NaN, "err_kind": "signal_killed:-9"}\n',
        b"[" * 100_000 + b"\n",
    ],
)
def test_a_line_that_is_not_json_is_corrupt_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: bytes
) -> None:
    """NaN and Infinity parse in Python but are not JSON, and sdkboot never writes them."""
    write_log(tmp_path / "state", current=event("BUILT", 10) + line, rotated=None)
    data = report_json(capsys, tmp_path / "state")
    assert (data["events"], data["corrupt_lines"]) == (1, 1)
    assert data["durations"] == {"BUILT": {"count": 1, "p50_ms": 10, "p95_ms": 10}}
    assert main(["report", "--state-dir", str(tmp_path / "state")]) == 0
    assert capsys.readouterr().out.startswith("1 events, 1 corrupt lines skipped")


@pytest.mark.parametrize("duration", ["12", True, None, [], {"ms": 3}, 10**400])
def test_a_duration_that_is_not_a_finite_number_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], duration: Any
) -> None:
    record = (
        json.dumps({"outcome": "BUILT", "duration_ms": duration, "rc": True, "err_kind": "signal_killed:-9"}).encode()
        + b"\n"
    )
    write_log(tmp_path / "state", current=event("BUILT", 10) + record, rotated=None)
    data = report_json(capsys, tmp_path / "state")
    assert (data["events"], data["corrupt_lines"]) == (2, 0)
    built = data["durations"]["BUILT"]
    assert built == (
        {"count": 2, "p50_ms": 10, "p95_ms": 10**400}
        if duration == 10**400
        else {"count": 1, "p50_ms": 10, "p95_ms": 10}
    )
    assert data["signal_kill_rcs"] == {}, "a bool rc is not a signal-kill rc"
