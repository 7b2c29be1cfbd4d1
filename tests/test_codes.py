"""Golden tests for the telemetry contract's code tables.

Dashboards read these integers. Every table is append-only: a pinned name must keep
its value forever, no value may be reused, and retired values stay unused. New
members may be appended (they pass here as long as they take fresh numbers).
"""

from __future__ import annotations

import builtins
import enum
import re
from pathlib import Path

import pytest

from sdkboot.codes import ErrKind, ExcType, Outcome, Phase, Strategy

CONTRACT = Path(__file__).resolve().parent.parent / "docs" / "telemetry.md"


def _section(title: str) -> str:
    """The text under the contract's ``## <title>`` heading, up to the next ``##``."""
    text = CONTRACT.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}[^\n]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/telemetry.md has no section {title!r}"
    return match.group(1)


def _rows(title: str) -> dict[str, int]:
    """``| code | name | ... |`` rows as name -> code (the retired row has no name)."""
    rows = re.findall(r"^\| (\d+) \| ([A-Za-z_]+) \|", _section(title), re.M)
    return {name: int(code) for code, name in rows}


def _retired(title: str) -> set[int]:
    return {int(code) for code in re.findall(r"^\| (\d+) \| \(retired\)", _section(title), re.M)}


PINNED_OUTCOME = _rows("Outcome")
RETIRED_OUTCOME = _retired("Outcome")
PHASE_LABELS = {label.upper(): label for label in _rows("Phase")}
PINNED_PHASE = {"UNSET": 0, **{label.upper(): code for label, code in _rows("Phase").items()}}
ERR_LABELS = {("UNCATEGORIZED" if label == "_uncategorized" else label.upper()): label for label in _rows("Error kind")}
PINNED_ERR = {"NONE": 0, **{name: _rows("Error kind")[label] for name, label in ERR_LABELS.items()}}
PINNED_EXC = {
    ("OTHER" if name == "any" else name): int(code)
    for code, name in re.findall(r"(\d+) ([A-Za-z]+)", _section("Exception type"))
}
STRATEGY_LABELS = {label.upper(): label for label in _rows("Strategy")}
PINNED_STRATEGY = {"NONE": 0, **{label.upper(): code for label, code in _rows("Strategy").items()}}
KEY_PRIORITY = re.findall(
    r"`(sdk_[a-z_]+)`", _section("Other metric keys").split("### Key priority", 1)[1].split("###", 1)[0]
)


def test_the_contract_holds_the_original_codes() -> None:
    # A guard on the parser itself: the tables it reads must be the ones dashboards use.
    assert (PINNED_OUTCOME["NOOP_SYSTEM"], PINNED_OUTCOME["SKIP_COOLDOWN"], RETIRED_OUTCOME) == (0, 9, {4})
    assert (PINNED_ERR["SIGNAL_KILLED"], PINNED_ERR["UNCATEGORIZED"], PINNED_EXC["OTHER"]) == (16, 99, 99)
    assert len(PINNED_PHASE) >= 6 and len(PINNED_EXC) == 16 and len(PINNED_ERR) >= 19
    assert KEY_PRIORITY[0] == "sdk_bootstrap" and len(KEY_PRIORITY) == len(set(KEY_PRIORITY)) >= 14


@pytest.mark.parametrize(
    "table, pinned",
    [
        pytest.param(Outcome, PINNED_OUTCOME, id="Outcome"),
        pytest.param(ErrKind, PINNED_ERR, id="ErrKind"),
        pytest.param(Phase, PINNED_PHASE, id="Phase"),
        pytest.param(ExcType, PINNED_EXC, id="ExcType"),
        pytest.param(Strategy, PINNED_STRATEGY, id="Strategy"),
    ],
)
def test_every_code_in_the_code_is_in_the_contract(table: type[enum.IntEnum], pinned: dict[str, int]) -> None:
    # The contract is the one source: a member added to the code alone has no meaning for dashboards.
    assert {m.name: int(m) for m in table} == pinned


def test_metric_keys_follow_the_contract_priority() -> None:
    from sdkboot.result import Result

    ranked = [key for key, _ in Result(Outcome.BUILT)._ranked_metrics()]
    assert ranked == KEY_PRIORITY


TABLES = [
    pytest.param(Outcome, PINNED_OUTCOME, RETIRED_OUTCOME, id="Outcome"),
    pytest.param(Phase, PINNED_PHASE, set(), id="Phase"),
    pytest.param(ErrKind, PINNED_ERR, set(), id="ErrKind"),
    pytest.param(ExcType, PINNED_EXC, set(), id="ExcType"),
    pytest.param(Strategy, PINNED_STRATEGY, set(), id="Strategy"),
]


def _values_by_name(table: type[enum.IntEnum]) -> dict[str, int]:
    # __members__ includes aliases, which is exactly what a reused value would become.
    return {name: int(member) for name, member in table.__members__.items()}


@pytest.mark.parametrize("table, pinned, retired", TABLES)
def test_every_pinned_pair_holds(table: type[enum.IntEnum], pinned: dict[str, int], retired: set[int]) -> None:
    actual = _values_by_name(table)
    changed = {name: (value, actual.get(name)) for name, value in pinned.items() if actual.get(name) != value}
    assert changed == {}, f"{table.__name__}: renamed, removed or renumbered (pinned, now)"


@pytest.mark.parametrize("table, pinned, retired", TABLES)
def test_no_value_is_reused(table: type[enum.IntEnum], pinned: dict[str, int], retired: set[int]) -> None:
    actual = _values_by_name(table)
    assert len(set(actual.values())) == len(actual), f"{table.__name__} has an alias"
    for member in table:
        assert member.name in table.__members__ and table(member.value) is member


@pytest.mark.parametrize("table, pinned, retired", TABLES)
def test_appended_members_take_fresh_numbers(
    table: type[enum.IntEnum], pinned: dict[str, int], retired: set[int]
) -> None:
    appended = {name: value for name, value in _values_by_name(table).items() if name not in pinned}
    taken = set(pinned.values()) | retired
    assert not {name for name, value in appended.items() if value in taken}


def test_retired_outcome_four_stays_unused() -> None:
    assert 4 not in {int(member) for member in Outcome.__members__.values()}
    with pytest.raises(ValueError):
        Outcome(4)


def test_phase_labels_are_the_contract_names() -> None:
    for name, label in PHASE_LABELS.items():
        assert Phase[name].label == label


def test_err_labels_are_the_contract_names() -> None:
    for name, label in ERR_LABELS.items():
        assert ErrKind[name].label == label
    # The long tail keeps its leading underscore; nothing else has one.
    assert [kind for kind in ErrKind if kind.label.startswith("_")] == [ErrKind.UNCATEGORIZED]


def test_strategy_labels() -> None:
    for name, label in STRATEGY_LABELS.items():
        assert Strategy[name].label == label


@pytest.mark.parametrize("name, code", sorted(PINNED_EXC.items()))
def test_exc_type_of_known_names(name: str, code: int) -> None:
    if name == "OTHER":
        return
    assert int(ExcType.of(name)) == code
    # The name is the exception class's own name, so the builtin must exist under it.
    assert issubclass(getattr(builtins, name), BaseException)


@pytest.mark.parametrize("name", ["KeyError", "CalledProcessError", "", "valueerror", "other"])
def test_exc_type_of_anything_else_is_other(name: str) -> None:
    assert ExcType.of(name) is ExcType.OTHER
    assert int(ExcType.of(name)) == 99


def test_codes_are_plain_ints_for_metrics() -> None:
    # IntEnum members compare and serialize as ints; int() must give the pinned number.
    assert int(Outcome.SKIP_COOLDOWN) == 9 and Outcome.SKIP_COOLDOWN == 9  # type: ignore[comparison-overlap]
    assert type(int(ErrKind.SIGNAL_KILLED)) is int
