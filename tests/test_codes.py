"""Golden tests for the telemetry contract's code tables.

Dashboards read these integers. Every table is append-only: a pinned name must keep
its value forever, no value may be reused, and retired values stay unused. New
members may be appended (they pass here as long as they take fresh numbers).
"""
from __future__ import annotations

import builtins
import enum
from typing import Dict, Type

import pytest

from sdkboot.codes import ErrKind, ExcType, Outcome, Phase, Strategy

PINNED_OUTCOME = {
    "NOOP_SYSTEM": 0,
    "NOOP_VENV": 1,
    "BUILT": 2,
    "BUILD_FAILED": 3,
    "SKIP_SENTINEL": 5,
    "HOOK_PY_INCOMPATIBLE": 6,
    "BUILT_TARGET": 7,
    "NOOP_TARGET": 8,
    "SKIP_COOLDOWN": 9,
}
RETIRED_OUTCOME = {4}  # was SKIP_WIN32

PINNED_PHASE = {"UNSET": 0, "PRE": 1, "VENV": 2, "PIP": 3, "MAIN": 4, "PIP_TARGET": 5}
PHASE_LABELS = {
    "PRE": "pre", "VENV": "venv", "PIP": "pip", "MAIN": "main", "PIP_TARGET": "pip_target",
}

PINNED_ERR = {
    "NONE": 0,
    "PIP_NO_MATCH": 1,
    "DNS_FAIL": 2,
    "CONN_REFUSED": 3,
    "SSL_VERIFY": 4,
    "PERM_DENIED": 5,
    "NO_PIP": 6,
    "DISK_FULL": 7,
    "PROXY_AUTH": 8,
    "STDERR_TIMEOUT": 9,
    "SUBPROCESS_TIMEOUT": 10,
    "VENV_ENSUREPIP_FAIL": 11,
    "VENV_PATH_TOO_LONG": 12,
    "VENV_NO_MODULE": 13,
    "VENV_ALREADY_EXISTS": 14,
    "VENV_SETUP_FAILED": 15,
    "SIGNAL_KILLED": 16,
    "UNCATEGORIZED": 99,
}
# The contract's string names, which the event log and the err_kind string form use.
ERR_LABELS = {
    "PIP_NO_MATCH": "pip_no_match",
    "DNS_FAIL": "dns_fail",
    "CONN_REFUSED": "conn_refused",
    "SSL_VERIFY": "ssl_verify",
    "PERM_DENIED": "perm_denied",
    "NO_PIP": "no_pip",
    "DISK_FULL": "disk_full",
    "PROXY_AUTH": "proxy_auth",
    "STDERR_TIMEOUT": "stderr_timeout",
    "SUBPROCESS_TIMEOUT": "subprocess_timeout",
    "VENV_ENSUREPIP_FAIL": "venv_ensurepip_fail",
    "VENV_PATH_TOO_LONG": "venv_path_too_long",
    "VENV_NO_MODULE": "venv_no_module",
    "VENV_ALREADY_EXISTS": "venv_already_exists",
    "VENV_SETUP_FAILED": "venv_setup_failed",
    "SIGNAL_KILLED": "signal_killed",
    "UNCATEGORIZED": "_uncategorized",
}

PINNED_EXC = {
    "FileNotFoundError": 1,
    "PermissionError": 2,
    "NotADirectoryError": 3,
    "IsADirectoryError": 4,
    "FileExistsError": 5,
    "OSError": 6,
    "BlockingIOError": 7,
    "BrokenPipeError": 8,
    "ConnectionError": 9,
    "TimeoutError": 10,
    "InterruptedError": 11,
    "MemoryError": 12,
    "UnicodeDecodeError": 13,
    "ValueError": 14,
    "RuntimeError": 15,
    "OTHER": 99,
}

# sdkboot's own key (sdk_bootstrap_strategy): append-only as well once it ships.
PINNED_STRATEGY = {"NONE": 0, "VENV": 1, "TARGET": 2}
STRATEGY_LABELS = {"VENV": "venv", "TARGET": "target"}

TABLES = [
    pytest.param(Outcome, PINNED_OUTCOME, RETIRED_OUTCOME, id="Outcome"),
    pytest.param(Phase, PINNED_PHASE, set(), id="Phase"),
    pytest.param(ErrKind, PINNED_ERR, set(), id="ErrKind"),
    pytest.param(ExcType, PINNED_EXC, set(), id="ExcType"),
    pytest.param(Strategy, PINNED_STRATEGY, set(), id="Strategy"),
]


def _values_by_name(table: Type[enum.IntEnum]) -> Dict[str, int]:
    # __members__ includes aliases, which is exactly what a reused value would become.
    return {name: int(member) for name, member in table.__members__.items()}


@pytest.mark.parametrize("table, pinned, retired", TABLES)
def test_every_pinned_pair_holds(table: Type[enum.IntEnum], pinned: Dict[str, int],
                                 retired: set) -> None:
    actual = _values_by_name(table)
    changed = {name: (value, actual.get(name)) for name, value in pinned.items()
               if actual.get(name) != value}
    assert changed == {}, f"{table.__name__}: renamed, removed or renumbered (pinned, now)"


@pytest.mark.parametrize("table, pinned, retired", TABLES)
def test_no_value_is_reused(table: Type[enum.IntEnum], pinned: Dict[str, int],
                            retired: set) -> None:
    actual = _values_by_name(table)
    assert len(set(actual.values())) == len(actual), f"{table.__name__} has an alias"
    for member in table:
        assert member.name in table.__members__ and table(member.value) is member


@pytest.mark.parametrize("table, pinned, retired", TABLES)
def test_appended_members_take_fresh_numbers(table: Type[enum.IntEnum], pinned: Dict[str, int],
                                             retired: set) -> None:
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
    assert int(Outcome.SKIP_COOLDOWN) == 9 and Outcome.SKIP_COOLDOWN == 9
    assert type(int(ErrKind.SIGNAL_KILLED)) is int
