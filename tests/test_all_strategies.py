"""The strategy registry: facts in one place, order as data, skips logged and passed on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sdkboot
from sdkboot import events
from sdkboot.codes import ErrKind, Outcome, Strategy
from sdkboot.layout import Layout
from sdkboot.session import Session
from sdkboot.strategies.all_strategies import STRATEGIES
from sdkboot.strategies.base import BuildStrategy, Built, Unavailable
from tests.test_ensure import Clock, FakeRunner, fake, make_spec  # noqa: F401  (fixture)


def test_every_strategy_code_has_exactly_one_registered_strategy() -> None:
    codes = sorted(s.code for s in STRATEGIES.values())
    assert codes == sorted(c for c in Strategy if c is not Strategy.NONE)
    assert all(label == s.label == s.code.label for label, s in STRATEGIES.items())


@pytest.mark.parametrize("strategy", list(STRATEGIES.values()), ids=list(STRATEGIES))
def test_each_strategy_states_its_facts(strategy: BuildStrategy) -> None:
    assert strategy.needs and isinstance(strategy.passes_on, frozenset)
    assert strategy.where and isinstance(strategy.flat, bool)
    assert set(strategy.modules) <= {"venv", "ensurepip", "pip"}, "doctor can only tell these (the probe's flags)"
    assert strategy.built in (Outcome.BUILT, Outcome.BUILT_TARGET)
    assert strategy.noop in (Outcome.NOOP_VENV, Outcome.NOOP_TARGET)


class _Missing:
    """A strategy whose tool is not on this machine."""

    label = "venv"  # borrows a real label and code: the registry is keyed by label
    code = Strategy.VENV
    built = Outcome.BUILT
    noop = Outcome.NOOP_VENV
    needs = "a tool this machine lacks"
    modules: tuple[str, ...] = ()
    where = "frobnicated env"
    flat = False
    passes_on: frozenset[ErrKind] = frozenset()

    def build(self, session: Session, stage: str) -> Built:
        raise Unavailable("the frobnicator is not installed")


def test_an_unavailable_strategy_is_skipped_with_its_reason_and_the_next_one_runs(
    tmp_path: Path,
    fake: FakeRunner,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(STRATEGIES, "missing", _Missing())
    spec = make_spec(tmp_path, strategies=("missing", "target"))
    result = sdkboot.ensure(spec, clock=Clock())
    assert result.outcome is Outcome.BUILT_TARGET, result.message
    assert result.skipped == ("venv: the frobnicator is not installed",)
    logged = json.loads(events.read_lines(Layout(spec.root).events_file)[-1])
    assert logged["skipped"] == ["venv: the frobnicator is not installed"]


def test_when_every_strategy_is_unavailable_the_build_fails_saying_why(
    tmp_path: Path,
    fake: FakeRunner,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(STRATEGIES, "missing", _Missing())
    result = sdkboot.ensure(make_spec(tmp_path, strategies=("missing",)), clock=Clock())
    assert result.outcome is Outcome.BUILD_FAILED
    assert "frobnicator" in result.message
    assert fake.calls == []


def test_a_failure_that_is_not_passed_on_stops_the_order(tmp_path: Path, fake: FakeRunner) -> None:  # noqa: F811
    from tests.test_ensure import completed

    fake.script["pip"] = completed(rc=1, err=b"ERROR: No matching distribution found for sdkboot-probe\n")
    result = sdkboot.ensure(make_spec(tmp_path, strategies=("venv", "target")), clock=Clock())
    assert (result.outcome, result.err_kind) == (Outcome.BUILD_FAILED, "pip_no_match")
    assert "target" not in fake.kinds  # the same index would fail the same way


def test_an_unknown_strategy_name_is_a_one_line_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sdkboot.cli import main

    assert main(["ensure", "--state-dir", str(tmp_path / "s"), "--strategy", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sdkboot: --strategy nope: unknown; choose from") and "\n" not in err
