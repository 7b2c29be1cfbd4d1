"""Verdicts shared by containers and validate: strict matching, exact rows and declared sets."""

from __future__ import annotations

import pytest

from repro import verdict
from repro.verdict import ABSENT, Case, Matches, exact, judge, one_of


@pytest.mark.parametrize(
    ("expected", "observed", "ok"),
    [
        ("BUILT", "BUILT", True),
        ("BUILT", "BUILT_TARGET", False),
        (0, 0, True),
        (False, 0, False),  # a bool must not pass for an int, nor the reverse
        (1, True, False),
        (-9, -9, True),
        (None, None, True),
        (Matches(r"python3[\d.]*-venv"), "apt install python3.11-venv", True),
        (Matches("SIGKILL"), "exit status 1", False),
        (Matches("x"), None, False),
        (ABSENT, ABSENT, True),
        (ABSENT, 137, False),
    ],
)
def test_matches_is_strict_about_types(expected: object, observed: object, ok: bool) -> None:
    assert verdict.matches(expected, observed) is ok


def test_an_exact_row_reports_each_key_and_missing_ones() -> None:
    found = judge(exact({"outcome": "BUILT", "rc": -9}), {"outcome": "BUILT"})
    assert not found.passed and found.label == "MISMATCH"
    assert [(c.key, c.ok) for c in found.checks] == [("outcome", True), ("rc", False)]
    assert found.checks[1].observed is ABSENT


def test_a_declared_set_records_which_case_came() -> None:
    expect = one_of(
        "the kernel picks the victim",
        Case("child killed", {"exit": 0, "signature": "1/E/N"}),
        Case("PID 1 killed", {"exit": 137, "signature": ABSENT}),
    )
    child = judge(expect, {"exit": 0, "signature": "1/E/N"})
    parent = judge(expect, {"exit": 137})
    assert (child.label, parent.label) == ("child killed", "PID 1 killed")
    assert child.signature != parent.signature
    neither = judge(expect, {"exit": 0, "signature": "0/E/E"})
    assert not neither.passed
    # On a mismatch the checks shown are those of the nearest case.
    assert [c.key for c in neither.checks if c.ok] == ["exit"]


def test_an_exact_row_passes_as_ok_and_a_set_needs_two_distinct_cases() -> None:
    assert judge(exact({"exit": 0}), {"exit": 0}).label == "ok"
    with pytest.raises(ValueError, match="two cases"):
        one_of("why", Case("only", {"exit": 0}))
    with pytest.raises(ValueError, match="own name"):
        one_of("why", Case("same", {"exit": 0}), Case("same", {"exit": 1}))


def test_the_signature_is_every_checked_key_with_free_text_normalised() -> None:
    expect = one_of(
        "why", Case("a", {"signature": "1/E/N", "stderr_tail": Matches("SIGKILL")}), Case("b", {"exit": 137})
    )
    tail_1 = "Error: Command '['/tmp/a/bin/python3', '-m', 'ensurepip']' died with <Signals.SIGKILL: 9>."
    tail_2 = tail_1.replace("/tmp/a", "/tmp/other")
    first = verdict.signature(expect, {"signature": "1/E/N", "stderr_tail": tail_1, "exit": 0})
    second = verdict.signature(expect, {"signature": "1/E/N", "stderr_tail": tail_2, "exit": 0})
    assert first == second  # paths and numbers do not split one outcome
    assert first.startswith("signature=1/E/N stderr_tail=")  # exact values are kept as they are
    assert first.endswith(" exit=0")
    assert verdict.signature(expect, {}) == "signature=(absent) stderr_tail=(absent) exit=(absent)"


def test_json_forms_are_serializable() -> None:
    expect = one_of("why", Case("a", {"x": ABSENT, "y": Matches("z")}), Case("b", {"x": 1}))
    data = verdict.expect_json(expect)
    assert data["form"] == "set of 2" and data["cases"][0]["expect"] == {"x": "(absent)", "y": "~ /z/"}
    found = verdict.verdict_json(judge(expect, {"x": 1}))
    assert (found["passed"], found["case"]) == (True, "b")
