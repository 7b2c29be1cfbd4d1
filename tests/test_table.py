"""The plain-text output helpers the subcommands share."""

from __future__ import annotations

import json

import pytest

from sdkboot.table import emit_json, human_bytes, pairs, table


def test_table_aligns_columns_and_underlines_the_header() -> None:
    text = table(("outcome", "count"), [("BUILT", 10), ("NOOP_VENV", 2)])
    assert text.splitlines() == [
        "outcome    count",
        "---------  -----",
        "BUILT      10",
        "NOOP_VENV  2",
    ]


def test_table_without_rows_is_just_the_header() -> None:
    assert table(("a", "bb"), []) == "a  bb\n-  --"


def test_pairs_aligns_values() -> None:
    assert pairs([("state dir", "/s"), ("healthy", "yes")]) == "state dir: /s\nhealthy:   yes"
    assert pairs([]) == ""


@pytest.mark.parametrize(
    "count, text",
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (50 * 1024 * 1024, "50.0 MiB"),
        (1536 * 1024 * 1024, "1.5 GiB"),
        (5000 * 1024**3, "5000.0 GiB"),
        (-2048, "-2.0 KiB"),
    ],
)
def test_human_bytes(count: int, text: str) -> None:
    assert human_bytes(count) == text


def test_emit_json_is_sorted_and_parseable(capsys: pytest.CaptureFixture[str]) -> None:
    emit_json({"b": 1, "a": [1, 2]})
    out = capsys.readouterr().out
    assert json.loads(out) == {"a": [1, 2], "b": 1}
    assert out.index('"a"') < out.index('"b"') and out.endswith("}\n")
