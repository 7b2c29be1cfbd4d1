"""The entry point: the hook's lean start answers its host even when the CLI cannot load,
and ``import sdkboot`` itself loads next to nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from sdkboot import entry
from sdkboot.codes import ErrKind, Outcome, Phase
from sdkboot.interrupts import Interrupted
from sdkboot.result import hook_py
from tests.conftest import REPO

ASYNC = {"async": True, "asyncTimeout": 180000}


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a new process as far as "once per process" goes."""
    monkeypatch.setattr(entry, "_state", {"announced": False, "answered": False, "reader_gone": False})
    monkeypatch.setattr("sdkboot.interrupts.install", lambda: None)  # the test runner keeps its signals


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], 180000),
        (["--async-timeout", "60000"], 60000),
        (["--async-timeout=5"], 5),
        (["--import-name", "x", "--async-timeout", "7", "req"], 7),
        (["--", "--async-timeout", "7"], 180000),  # after "--" it is a requirement, not our option
        (["--async-timeout", "0"], None),
        (["--async-timeout", "-5"], None),
        (["--async-timeout", "1e3"], None),
        (["--async-timeout"], None),
        (["--help"], None),
        (["-h", "--async-timeout", "5"], None),
    ],
)
def test_the_announced_timeout_is_read_by_hand(args: list[str], expected: int | None) -> None:
    assert entry.async_ms(args) == expected


def lines(captured: str) -> list[dict[str, object]]:
    assert captured.endswith("\n")
    return [json.loads(line) for line in captured.splitlines()]


def test_the_low_memory_line_speaks_the_contract() -> None:
    metrics = json.loads(entry.low_memory_line())["metrics"]
    assert metrics["sdk_bootstrap"] == int(Outcome.SKIP_LOW_MEMORY)
    assert metrics["sdk_hook_py"] == hook_py()
    assert set(metrics) <= {"sdk_bootstrap", "sdk_hook_py", "sdk_mem_limit_mib"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RLIMIT_AS from /proc/self/limits")
def test_the_low_memory_line_carries_the_address_space_limit() -> None:
    code = f"import sys; sys.path.insert(0, {str(REPO)!r}); from sdkboot import entry; print(entry.low_memory_line())"
    done = subprocess.run(
        ["prlimit", "--as=1073741824", sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert json.loads(done.stdout)["metrics"]["sdk_mem_limit_mib"] == 1024, done.stderr


def test_the_interrupted_line_speaks_the_contract() -> None:
    metrics = json.loads(entry.interrupted_line(signal.SIGTERM))["metrics"]
    assert metrics == {
        "sdk_bootstrap": int(Outcome.BUILD_FAILED),
        "sdk_bootstrap_phase": int(Phase.PRE),
        "sdk_bootstrap_err": int(ErrKind.INTERRUPTED),
        "sdk_bootstrap_rc": -signal.SIGTERM,
        "sdk_hook_py": hook_py(),
    }


def _cli_raising(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize("exc", [MemoryError(), MemoryError("Out of memory interning an attribute name")])
def test_a_cli_that_cannot_load_still_gets_the_host_both_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: BaseException
) -> None:
    monkeypatch.setattr(entry, "_cli", lambda args: _cli_raising(exc))
    assert entry.main(["hook", "--state-dir", "/nowhere"]) == 0
    first, second = lines(capsys.readouterr().out)
    assert first == ASYNC
    assert second == json.loads(entry.low_memory_line())


def test_a_cli_that_fails_without_answering_gets_the_fallback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(entry, "_cli", lambda args: 1)  # e.g. the CLI's own MemoryError line, rc 1
    assert entry.main(["hook"]) == 0
    assert [set(line) for line in lines(capsys.readouterr().out)] == [{"async", "asyncTimeout"}, {"metrics"}]


def test_a_signal_before_the_hook_took_over_is_answered_as_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(entry, "_cli", lambda args: _cli_raising(Interrupted(signal.SIGTERM)))
    assert entry.main(["hook"]) == 0
    _, second = lines(capsys.readouterr().out)
    assert second == json.loads(entry.interrupted_line(signal.SIGTERM))


def test_the_hook_answers_once(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def answering(args: list[str]) -> int:
        entry.announce(180000)  # what commands/hook.py does: already done, so nothing is printed
        entry.answer('{"metrics": {"sdk_hook_py": 311}}')
        return 0

    monkeypatch.setattr(entry, "_cli", answering)
    assert entry.main(["hook"]) == 0
    assert lines(capsys.readouterr().out) == [ASYNC, {"metrics": {"sdk_hook_py": 311}}]


def test_a_usage_error_after_the_async_line_is_exit_2_and_no_metrics(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(entry, "_cli", lambda args: 2)
    assert entry.main(["hook", "--bogus"]) == 2
    assert lines(capsys.readouterr().out) == [ASYNC]


def test_a_bad_announced_timeout_goes_to_the_cli_before_any_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(entry, "_cli", lambda args: 2)
    assert entry.main(["hook", "--async-timeout", "0"]) == 2
    assert capsys.readouterr().out == ""


def test_other_commands_go_straight_to_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[list[str]] = []

    def cli(args: list[str]) -> int:
        seen.append(args)
        return 0

    monkeypatch.setattr(entry, "_cli", cli)
    assert entry.main(["status", "--json"]) == 0
    assert seen == [["status", "--json"]] and capsys.readouterr().out == ""


# -- ``import sdkboot`` stays light -------------------------------------------------------------------


def fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r})\n" + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_sdkboot_loads_nothing_else() -> None:
    # types is sdkboot/__init__'s one stdlib import (its lazy module class); 3.10+ load it at
    # startup anyway, 3.9 does not: it counts as preloaded so the test means the same on both.
    loaded = fresh("""
        import types
        before = set(sys.modules)
        import sdkboot
        print(sorted(set(sys.modules) - before))
    """)
    assert loaded == "['sdkboot', 'sdkboot.version']"


def test_the_lean_start_loads_no_build_machinery() -> None:
    loaded = json.loads(
        fresh("""
        import json
        before = set(sys.modules)
        import sdkboot.entry, sdkboot.interrupts
        print(json.dumps(sorted(set(sys.modules) - before)))
    """)
    )
    assert set(loaded) <= {"sdkboot", "sdkboot.version", "sdkboot.entry", "sdkboot.interrupts", "signal"}


def test_the_public_names_load_on_first_use_and_keep_their_meaning() -> None:
    out = fresh("""
        import importlib, sdkboot
        importlib.import_module("sdkboot.ensure")
        importlib.import_module("sdkboot.activate")
        from sdkboot import Spec, Outcome, Result, ErrKind, Phase, Activation
        print(callable(sdkboot.ensure), type(sdkboot.ensure).__name__, type(sdkboot.activate).__name__,
              sdkboot.Outcome.BUILT.value, sdkboot.__version__ == sdkboot.version.VERSION)
    """)
    assert out == "True function function 2 True"


def test_an_unknown_name_is_an_attribute_error() -> None:
    import sdkboot

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sdkboot.nope  # noqa: B018
