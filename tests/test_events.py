"""The local event log: one JSON line per call, one rotated file, never an exception."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from sdkboot import events


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


def lines(path: Path) -> list[Any]:
    return path.read_text(encoding="utf-8").splitlines()


def test_append_writes_exactly_one_json_line(log: Path) -> None:
    assert events.append(str(log), {"outcome": "BUILT", "rc": 0})
    assert log.read_bytes().count(b"\n") == 1
    assert json.loads(lines(log)[0]) == {"outcome": "BUILT", "rc": 0}


def test_appends_accumulate_in_order(log: Path) -> None:
    for index in range(5):
        assert events.append(str(log), {"n": index})
    assert [json.loads(line)["n"] for line in lines(log)] == [0, 1, 2, 3, 4]


def test_multi_line_strings_stay_on_one_line(log: Path) -> None:
    tail = "Traceback (most recent call last):\n  ...\nMemoryError\n"
    assert events.append(str(log), {"stderr_tail": tail, "non_ascii": "caf\u00e9 \u2603"})
    assert len(lines(log)) == 1
    assert json.loads(lines(log)[0])["stderr_tail"] == tail


def test_non_json_values_are_stringified(log: Path) -> None:
    assert events.append(str(log), {"path": Path("/tmp/env"), "exc": ValueError("x")})
    record = json.loads(lines(log)[0])
    assert record == {"path": "/tmp/env", "exc": "x"}


def _circular() -> dict[str, Any]:
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    return cycle


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_circular(), id="circular"),
        pytest.param({"durations": {"venv": 1.0, 2: 0.5}}, id="mixed-key-types"),
        pytest.param({("a", "b"): 1}, id="tuple-key"),
    ],
)
def test_unserializable_record_returns_false(log: Path, record: dict[str, Any]) -> None:
    # "False, never an exception": ensure() logs after deciding, so a raise here would turn
    # a finished outcome into a crash.
    assert events.append(str(log), record) is False
    assert not log.exists()


def test_unwritable_path_returns_false_without_raising(tmp_path: Path) -> None:
    assert events.append(str(tmp_path / "missing-dir" / "events.jsonl"), {"a": 1}) is False
    assert events.append(str(tmp_path), {"a": 1}) is False  # a directory
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert events.append(str(blocker / "events.jsonl"), {"a": 1}) is False  # parent is a file


def test_write_error_returns_false(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    assert events.append(str(log), {"a": 1}) is False


def test_rotation_at_one_megabyte_keeps_exactly_one_old_file(log: Path) -> None:
    assert events.MAX_BYTES == 1_000_000
    log.write_bytes(b"x" * (events.MAX_BYTES - 1) + b"\n")
    assert events.append(str(log), {"n": 1})
    rotated = Path(events.rotated(str(log)))
    assert rotated.stat().st_size == events.MAX_BYTES
    assert [json.loads(line) for line in lines(log)] == [{"n": 1}]

    # Fill again: the previous old file is replaced, never kept as a second one.
    with open(log, "ab") as handle:
        handle.write(b"y" * events.MAX_BYTES + b"\n")
    assert events.append(str(log), {"n": 2})
    assert [json.loads(line) for line in lines(log)] == [{"n": 2}]
    assert rotated.read_bytes().startswith(b'{"n": 1}\n')
    names = sorted(p.name for p in log.parent.iterdir())
    assert names == ["events.jsonl", "events.jsonl.1"]


def test_no_rotation_below_the_limit(log: Path) -> None:
    log.write_bytes(b"x" * (events.MAX_BYTES - 100) + b"\n")
    assert events.append(str(log), {"n": 1})
    assert not os.path.exists(events.rotated(str(log)))
    assert lines(log)[-1] == '{"n": 1}'


def test_read_lines_oldest_first(log: Path) -> None:
    Path(events.rotated(str(log))).write_text('{"n": 0}\n')
    events.append(str(log), {"n": 1})
    assert [json.loads(line)["n"] for line in events.read_lines(str(log))] == [0, 1]
    assert events.read_lines(str(log.parent / "absent.jsonl")) == []


def test_tail_keeps_the_last_2kb_decoded_leniently() -> None:
    data = b"a" * 5000 + b"\xff" + b"z" * 10
    text = events.tail(data)
    assert len(data[-events.TAIL_BYTES :]) == events.TAIL_BYTES
    assert text.endswith("\ufffd" + "z" * 10)
    assert text == data[-events.TAIL_BYTES :].decode("utf-8", errors="replace")
    assert events.tail(b"") == ""


def test_concurrent_appends_do_not_interleave(log: Path) -> None:
    payload = "p" * 3000  # several pipe-buffer sized lines

    def writer(who: int) -> None:
        for index in range(50):
            events.append(str(log), {"who": who, "n": index, "payload": payload})

    threads = [threading.Thread(target=writer, args=(who,)) for who in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records: Any = [json.loads(line) for line in lines(log)]
    assert len(records) == 200
    assert all(record["payload"] == payload for record in records)
