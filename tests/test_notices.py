"""One-time notices: which problems deserve one, and "once per sdkboot version"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdkboot import notices
from sdkboot.classify import Failure
from sdkboot.codes import ErrKind, Outcome, Phase
from sdkboot.layout import Layout
from sdkboot.result import Result
from sdkboot.version import VERSION

ENSUREPIP = Failure(ErrKind.VENV_ENSUREPIP_FAIL, "venv_ensurepip_fail")


def no_pip(message: str = "install python3-venv and python3-pip") -> Result:
    return Result(Outcome.BUILD_FAILED, phase=Phase.VENV, failure=ENSUREPIP, has_pip=False, message=message)


def too_old() -> Result:
    return Result(Outcome.HOOK_PY_INCOMPATIBLE, message="this Python is 3.9; run the host with 3.10+")


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    (tmp_path / "state").mkdir()
    return Layout(str(tmp_path / "state"))


def shown(layout: Layout) -> object:
    return json.loads(Path(layout.notice_file).read_text())


@pytest.mark.parametrize(
    "result, key",
    [
        (no_pip(), "venv_ensurepip_fail"),
        (too_old(), "HOOK_PY_INCOMPATIBLE"),
        # ensurepip missing but pip present: the --target fallback handles it, nothing to tell.
        (Result(Outcome.BUILT_TARGET, has_pip=True), None),
        (Result(Outcome.BUILD_FAILED, phase=Phase.PIP_TARGET, failure=ENSUREPIP, has_pip=True), None),
        # has_pip not probed: no evidence that the user must act.
        (Result(Outcome.BUILD_FAILED, phase=Phase.VENV, failure=ENSUREPIP), None),
        # Transient or self-healing problems never get a notice.
        (
            Result(
                Outcome.BUILD_FAILED, phase=Phase.PIP, failure=Failure(ErrKind.SIGNAL_KILLED, "signal_killed:-9", -9)
            ),
            None,
        ),
        (Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=Failure(ErrKind.DNS_FAIL, "dns_fail")), None),
        (Result(Outcome.SKIP_COOLDOWN), None),
        (Result(Outcome.NOOP_VENV), None),
        (Result(Outcome.NOOP_SYSTEM), None),
    ],
)
def test_problem_key(result: Result, key: object) -> None:
    assert notices.problem_key(result) == key


def test_shown_once_per_version(layout: Layout) -> None:
    assert notices.take(layout, no_pip("fix it")) == "sdkboot: fix it"
    assert shown(layout) == {VERSION: ["venv_ensurepip_fail"]}
    assert notices.take(layout, no_pip("fix it")) is None
    assert notices.take(layout, no_pip("worded differently")) is None, "the problem, not the text, is the key"


def test_a_new_version_shows_it_again(layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    assert notices.take(layout, no_pip()) is not None
    assert notices.take(layout, no_pip()) is None

    monkeypatch.setattr(notices, "VERSION", "99.0.0")
    assert notices.take(layout, no_pip()) == "sdkboot: install python3-venv and python3-pip"
    assert notices.take(layout, no_pip()) is None
    assert shown(layout) == {VERSION: ["venv_ensurepip_fail"], "99.0.0": ["venv_ensurepip_fail"]}

    monkeypatch.setattr(notices, "VERSION", VERSION)
    assert notices.take(layout, no_pip()) is None, "going back to a version that already showed it"


def test_each_problem_is_shown_once(layout: Layout) -> None:
    assert notices.take(layout, no_pip()) is not None
    assert notices.take(layout, too_old()) == f"sdkboot: {too_old().message}"
    assert notices.take(layout, too_old()) is None
    assert shown(layout) == {VERSION: ["venv_ensurepip_fail", "HOOK_PY_INCOMPATIBLE"]}


def test_no_problem_writes_nothing(layout: Layout) -> None:
    assert notices.take(layout, Result(Outcome.BUILT)) is None
    assert not Path(layout.notice_file).exists()


@pytest.mark.parametrize("content", ["{broken", "[1, 2]", '"a string"', f'{{"{VERSION}": "not a list"}}'])
def test_a_corrupt_notice_file_counts_as_nothing_shown(layout: Layout, content: str) -> None:
    Path(layout.notice_file).write_text(content)
    assert notices.take(layout, no_pip()) is not None
    assert shown(layout)[VERSION] == ["venv_ensurepip_fail"]  # type: ignore[index]
    assert notices.take(layout, no_pip()) is None


def test_other_versions_marks_are_kept(layout: Layout) -> None:
    Path(layout.notice_file).write_text(json.dumps({"0.0.1": ["venv_ensurepip_fail"]}))
    assert notices.take(layout, no_pip()) is not None, "shown under an older version only"
    assert shown(layout) == {"0.0.1": ["venv_ensurepip_fail"], VERSION: ["venv_ensurepip_fail"]}


def test_when_it_cannot_remember_it_stays_quiet(tmp_path: Path) -> None:
    """An unwritable state dir must not turn the notice into a nag on every session."""
    layout = Layout(str(tmp_path / "missing-dir"))
    assert notices.take(layout, no_pip()) is None
    assert notices.take(layout, no_pip()) is None
