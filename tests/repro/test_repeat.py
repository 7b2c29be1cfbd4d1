"""The flake check's bookkeeping: counts per row, and the rule it enforces."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence

import pytest

from repro import repeat, report
from repro.verdict import ABSENT, Case, exact, judge, one_of

SET = one_of("the kernel picks", Case("child", {"exit": 0}), Case("parent", {"exit": 137, "x": ABSENT}))


def _tally(expect: object, observations: Sequence[Mapping[str, object]]) -> repeat.Tallies:
    tallies = repeat.Tallies(repeat=len(observations))
    for observed in observations:
        tallies.add("scenario", "step", "tree", judge(expect, observed))  # type: ignore[arg-type]
    return tallies


def test_an_exact_row_with_one_signature_in_every_run_is_clean() -> None:
    tallies = _tally(exact({"exit": 0}), [{"exit": 0}] * 20)
    assert tallies.problems() == [] and tallies.exit_code == 0
    assert "| scenario | step | tree | exact | exit=0 | 20/20 | 0.0 s | ok |" in repeat.table(tallies)
    assert repeat.summary(tallies).endswith("no flake")


def test_a_declared_set_may_show_each_of_its_cases() -> None:
    tallies = _tally(SET, [{"exit": 0}] * 14 + [{"exit": 137}] * 6)
    assert tallies.exit_code == 0
    lines = repeat.table(tallies).splitlines()
    assert lines[2] == "| scenario | step | tree | set of 2 | exit=0 x=(absent) | 14/20 | 0.0 s | child |"
    assert lines[3] == "|  |  |  |  | exit=137 x=(absent) | 6/20 | 0.0 s | parent |"


def test_a_run_outside_the_expectation_is_flaky_and_never_retried() -> None:
    tallies = _tally(SET, [{"exit": 0}] * 19 + [{"exit": 1}])
    assert tallies.problems() == ["scenario/step: 1/20 runs outside what the row expects"]
    assert "FLAKY scenario/step" in repeat.summary(tallies)


def test_an_exact_row_that_varies_must_declare_a_set() -> None:
    # Two signatures, both passing the exact check (a pattern matched different texts):
    # still a row whose outcome varies, so the rule asks for the declared form.
    from repro.verdict import Matches

    expect = exact({"tail": Matches("SIGKILL")})
    tallies = _tally(expect, [{"tail": "venv died with SIGKILL"}, {"tail": "pip got SIGKILL"}])
    assert tallies.problems() == ["scenario/step: asserted exactly but 2 signatures came: declare the set"]


def test_json_lists_every_signature_with_its_count() -> None:
    tallies = _tally(SET, [{"exit": 0}, {"exit": 137}, {"exit": 0}])
    tallies.load = ["1.50"]
    data = json.loads(json.dumps(repeat.to_json(tallies)))
    row = data["rows"][0]
    assert (row["mode"], row["form"], row["runs"]) == ("tree", "set of 2", 3)
    assert [(s["count"], s["verdict"], s["slowest_s"]) for s in row["signatures"]] == [
        (2, "child", 0.0),
        (1, "parent", 0.0),
    ]
    assert data["load_average_1min"] == ["1.50"]


def test_repeat_takes_a_positive_count() -> None:
    parser = argparse.ArgumentParser()
    repeat.add_argument(parser)
    assert parser.parse_args(["--repeat", "20"]).repeat == 20
    for bad in ("0", "-1", "x"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--repeat", bad])


def test_the_progress_line_fits_the_terminal() -> None:
    text = repeat.progress_text("containers", 3, 20, ("signature-raw", "mem-24MiB-adj"), repeat.Tallies(repeat=20))
    assert text == "containers --repeat 20: run 3/20 · signature-raw · mem-24MiB-adj"
    assert len(report.fit(text, 40)) == 39 and report.fit(text, 40).endswith("…")
    assert report.fit(text, 200) == text


def test_an_interrupted_run_keeps_its_finished_rounds_and_says_so() -> None:
    tallies = repeat.Tallies(repeat=5)

    def one_round(round_: int) -> None:
        if round_ == 3:
            raise KeyboardInterrupt
        tallies.add("scenario", "step", "tree", judge(exact({"exit": 0}), {"exit": 0}))

    repeat.run_rounds(tallies, one_round)
    assert (tallies.rounds, tallies.stopped, len(tallies.load)) == (2, True, 3)
    assert tallies.exit_code == 130
    assert "2 of 5 rounds (interrupted)" in repeat.summary(tallies)
    assert json.loads(json.dumps(repeat.to_json(tallies)))["rounds"] == 2


def test_a_finished_run_counts_every_round() -> None:
    tallies = repeat.run_rounds(repeat.Tallies(repeat=3), lambda round_: None)
    assert (tallies.rounds, tallies.stopped, tallies.exit_code) == (3, False, 0)
    assert "× 3 runs" in repeat.summary(tallies)


def test_rows_count_the_runs_another_container_overlapped() -> None:
    tallies = repeat.Tallies(repeat=3)
    for code, overlapped in ((0, False), (0, False), (1, True)):
        tallies.add("s", "again", "none", judge(exact({"exit": 0}), {"exit": code}), overlapped=overlapped)
    lines = repeat.table(tallies).splitlines()
    assert lines[0] == "| scenario | step | mode | form | signature | runs | other containers up | slowest | verdict |"
    assert lines[2] == "| s | again | none | exact | exit=0 | 2/3 | 0/2 | 0.0 s | ok |"
    assert lines[3] == "|  |  |  |  | exit=1 | 1/3 | 1/1 | 0.0 s | MISMATCH |"
    assert repeat.to_json(tallies)["rows"][0]["signatures"][1]["overlapped"] == 1


def test_rows_without_overlap_tracking_get_no_column() -> None:
    tallies = _tally(exact({"exit": 0}), [{"exit": 0}])
    assert "other containers up" not in repeat.table(tallies)
