"""Result and its metrics object: numbers and bools only, at most 10 keys, zeros omitted."""

from __future__ import annotations

import errno
import json
import math
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdkboot.classify import Failure, classify, from_exception
from sdkboot.codes import ErrKind, ExcType, Outcome, Phase, Strategy
from sdkboot.result import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_USAGE,
    MAX_METRIC_KEYS,
    Result,
    hook_py,
)
from sdkboot.runner import Completed

HOOK_PY = sys.version_info[0] * 100 + sys.version_info[1]
CONTRACT_KEYS = {
    "sdk_bootstrap",
    "sdk_bootstrap_phase",
    "sdk_bootstrap_err",
    "sdk_bootstrap_ms",
    "sdk_bootstrap_rc",
    "sdk_bootstrap_exc",
    "sdk_bootstrap_errno",
    "sdk_bootstrap_stderr_sig",
    "sdk_has_pip",
    "sdk_hook_py",
}
OWN_KEYS = {"sdk_bootstrap_strategy", "sdk_bootstrap_spawns", "sdk_alt_py", "sdk_mem_limit_mib"}


def kill(rc: int) -> Failure:
    return classify(Phase.PIP, Completed(rc, b"", b"", 0.0))


def test_exit_codes() -> None:
    assert (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SKIPPED) == (0, 1, 2, 3)
    ok = [Outcome.NOOP_SYSTEM, Outcome.NOOP_VENV, Outcome.NOOP_TARGET, Outcome.BUILT, Outcome.BUILT_TARGET]
    for outcome in Outcome:
        result = Result(outcome)
        assert result.ok is (outcome in ok)
        expected = EXIT_OK if outcome in ok else (EXIT_FAILED if outcome is Outcome.BUILD_FAILED else EXIT_SKIPPED)
        assert result.exit_code == expected


def test_hook_py() -> None:
    assert hook_py() == HOOK_PY
    assert 300 <= hook_py() < 400


def test_signal_kill_metrics() -> None:
    result = Result(
        Outcome.BUILD_FAILED,
        phase=Phase.PIP,
        failure=kill(-9),
        rc=-9,
        strategy=Strategy.VENV,
        duration=12.3456,
        subprocesses=2,
    )
    assert result.err_kind == "signal_killed:-9"
    assert result.metrics() == {
        "sdk_bootstrap": 3,
        "sdk_bootstrap_phase": 3,
        "sdk_bootstrap_err": 16,
        "sdk_bootstrap_ms": 12346,
        "sdk_bootstrap_rc": -9,
        "sdk_hook_py": HOOK_PY,
        "sdk_bootstrap_strategy": 1,
        "sdk_bootstrap_spawns": 2,
    }


def test_timeout_has_no_rc_key_even_though_the_child_got_sigkill() -> None:
    failure = classify(Phase.PIP, Completed(-9, b"", b"", 300.0, timed_out=True))
    metrics = Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=failure, rc=-9).metrics()
    assert metrics["sdk_bootstrap_err"] == 10
    assert "sdk_bootstrap_rc" not in metrics


def test_exception_metrics() -> None:
    failure = from_exception(FileNotFoundError(errno.ENOENT, "No such file or directory"))
    metrics = Result(Outcome.BUILD_FAILED, phase=Phase.VENV, failure=failure).metrics()
    assert metrics["sdk_bootstrap_err"] == 99
    assert metrics["sdk_bootstrap_exc"] == 1
    assert metrics["sdk_bootstrap_errno"] == errno.ENOENT
    assert "sdk_bootstrap_stderr_sig" not in metrics


def test_other_metrics_carry_the_signature() -> None:
    failure = classify(
        Phase.PIP, Completed(1, b"", b"Fatal Python error: init_import_site: Failed to import the site module\n", 0)
    )
    metrics = Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=failure).metrics()
    assert metrics["sdk_bootstrap_stderr_sig"] == 485
    assert "sdk_bootstrap_exc" not in metrics


def test_probed_has_pip_false_is_kept_and_unprobed_is_omitted() -> None:
    failure = classify(Phase.VENV, Completed(1, b"ensurepip is not available", b"", 0))
    probed = Result(Outcome.BUILD_FAILED, phase=Phase.VENV, failure=failure, has_pip=False)
    assert probed.metrics()["sdk_has_pip"] is False
    assert Result(Outcome.BUILT_TARGET, has_pip=True).metrics()["sdk_has_pip"] is True
    assert "sdk_has_pip" not in Result(Outcome.BUILT).metrics()


def test_zeros_are_omitted() -> None:
    metrics = Result(Outcome.NOOP_SYSTEM).metrics()
    assert metrics == {"sdk_hook_py": HOOK_PY}
    assert Result(Outcome.NOOP_VENV, strategy=Strategy.VENV).metrics() == {
        "sdk_bootstrap": 1,
        "sdk_hook_py": HOOK_PY,
        "sdk_bootstrap_strategy": 1,
    }


def test_cap_drops_sdkboots_own_keys_first() -> None:
    # Every candidate present at once: 12 keys, 10 kept, the contract's all survive.
    failure = Failure(ErrKind.UNCATEGORIZED, "other:x y z", kill_rc=-9, exc_type=ExcType.OSError, errno=5, tail="x y z")
    assert failure.stderr_sig
    result = Result(
        Outcome.BUILD_FAILED,
        phase=Phase.PIP_TARGET,
        failure=failure,
        rc=-9,
        strategy=Strategy.TARGET,
        duration=1.0,
        subprocesses=4,
        has_pip=True,
    )
    metrics = result.metrics()
    assert len(metrics) == MAX_METRIC_KEYS == 10
    assert set(metrics) == CONTRACT_KEYS


def test_alt_py_zero_is_kept_only_where_it_means_none_found() -> None:
    assert Result(Outcome.HOOK_PY_INCOMPATIBLE, alt_py=0).metrics()["sdk_alt_py"] == 0
    assert Result(Outcome.HOOK_PY_INCOMPATIBLE, alt_py=312).metrics()["sdk_alt_py"] == 312
    assert "sdk_alt_py" not in Result(Outcome.BUILT, alt_py=0).metrics()
    assert "sdk_alt_py" not in Result(Outcome.HOOK_PY_INCOMPATIBLE).metrics()


def test_the_cap_keeps_the_memory_limit_before_sdkboots_own_keys() -> None:
    failure = Failure(ErrKind.UNCATEGORIZED, "exc:OSError:12", exc_type=ExcType.OSError, errno=12)
    result = Result(
        Outcome.BUILD_FAILED,
        phase=Phase.PIP,
        failure=failure,
        strategy=Strategy.VENV,
        duration=1.0,
        subprocesses=3,
        has_pip=True,
        alt_py=312,
        mem_limit_mib=64,
    )
    metrics = result.metrics()
    assert len(metrics) == MAX_METRIC_KEYS
    assert metrics["sdk_mem_limit_mib"] == 64 and metrics["sdk_alt_py"] == 312
    assert "sdk_bootstrap_spawns" not in metrics


def test_to_json() -> None:
    result = Result(
        Outcome.BUILD_FAILED,
        phase=Phase.PIP_TARGET,
        failure=kill(137),
        rc=137,
        strategy=Strategy.TARGET,
        env="/s/builds/target-1",
        duration=0.25,
        subprocesses=3,
        message="m",
    )
    assert result.to_json() == {
        "outcome": "BUILD_FAILED",
        "outcome_code": 3,
        "phase": "pip_target",
        "err_kind": "signal_killed:137",
        "rc": 137,
        "strategy": "target",
        "env": "/s/builds/target-1",
        "python": None,
        "duration_ms": 250,
        "subprocesses": 3,
        "message": "m",
        "metrics": result.metrics(),
    }
    quiet = Result(Outcome.NOOP_SYSTEM).to_json()
    assert (quiet["phase"], quiet["err_kind"], quiet["strategy"]) == (None, None, None)


# -- properties over a spread of Results ------------------------------------------------------

texts = st.lists(st.text(max_size=80), max_size=4).map("\n".join).map(str.encode)
completed = st.builds(
    Completed, rc=st.integers(-64, 255), out=texts, err=texts, seconds=st.floats(0, 1e4), timed_out=st.booleans()
)
classified = st.builds(classify, st.sampled_from(list(Phase)), completed, st.booleans())
errors = st.sampled_from(
    [
        FileNotFoundError(errno.ENOENT, "x"),
        PermissionError(errno.EACCES, "x"),
        OSError("no errno"),
        OSError(0, "errno zero"),
        ValueError("v"),
        KeyError("k"),
        MemoryError(),
        RuntimeError("r"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
    ]
)
arbitrary = st.builds(
    Failure,
    kind=st.sampled_from(list(ErrKind)),
    text=st.one_of(st.just("other:"), st.text(max_size=70).map(lambda t: "other:" + t), st.text(max_size=20)),
    kill_rc=st.one_of(st.none(), st.integers(-64, 255)),
    exc_type=st.one_of(st.none(), st.sampled_from(list(ExcType))),
    errno=st.one_of(st.none(), st.integers(-200, 200)),
    tail=st.text(max_size=60),
)
failures = st.one_of(st.none(), classified, errors.map(from_exception), arbitrary)
results = st.builds(
    Result,
    outcome=st.sampled_from(list(Outcome)),
    phase=st.sampled_from(list(Phase)),
    failure=failures,
    rc=st.one_of(st.none(), st.integers(-64, 255)),
    strategy=st.sampled_from(list(Strategy)),
    duration=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    subprocesses=st.integers(0, 20),
    has_pip=st.one_of(st.none(), st.booleans()),
    alt_py=st.one_of(st.none(), st.sampled_from([0, 310, 312, 313])),
    mem_limit_mib=st.one_of(st.none(), st.integers(1, 1 << 20)),
)


@given(results)
def test_metrics_hold_only_finite_numbers_and_bools(result: Result) -> None:
    metrics = result.metrics()
    assert len(metrics) <= MAX_METRIC_KEYS
    assert set(metrics) <= CONTRACT_KEYS | OWN_KEYS
    for key, value in metrics.items():
        assert type(value) in (int, bool), (key, value)
        assert not isinstance(value, str)
        assert math.isfinite(value)
        if type(value) is int and key != "sdk_alt_py":
            assert value != 0, f"{key} is zero and should have been omitted"


@given(results)
def test_metrics_follow_the_result(result: Result) -> None:
    metrics = result.metrics()
    failure: Failure | None = result.failure
    assert metrics.get("sdk_bootstrap", 0) == int(result.outcome)
    assert metrics.get("sdk_bootstrap_phase", 0) == int(result.phase)
    assert metrics.get("sdk_bootstrap_err", 0) == (int(failure.kind) if failure else 0)
    assert metrics["sdk_hook_py"] == HOOK_PY
    # A probed has_pip is never dropped: it ranks inside the cap whatever else is present.
    if result.has_pip is None:
        assert "sdk_has_pip" not in metrics
    else:
        assert metrics["sdk_has_pip"] is result.has_pip
    if failure is not None and failure.kill_rc:
        assert metrics["sdk_bootstrap_rc"] == failure.kill_rc
    if failure is not None and failure.text.startswith("other:") and failure.stderr_sig:
        assert metrics["sdk_bootstrap_stderr_sig"] == failure.stderr_sig


@given(results)
def test_metrics_are_json_safe(result: Result) -> None:
    text = json.dumps(result.metrics(), allow_nan=False)
    assert json.loads(text) == result.metrics()


@pytest.mark.parametrize("rc", [-9, -11, -6, 134, 137, 139])
def test_rc_key_for_every_signal_kill(rc: int) -> None:
    result = Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=kill(rc), rc=rc)
    assert result.metrics()["sdk_bootstrap_rc"] == rc
