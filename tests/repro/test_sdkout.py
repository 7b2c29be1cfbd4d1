"""Reading sdkboot's own output: the hook's two lines and ensure's JSON object."""

from __future__ import annotations

import json

from repro import sdkout

ASYNC = json.dumps({"async": True, "asyncTimeout": 180000})


def _metrics(**values: object) -> str:
    return json.dumps({"metrics": values})


def test_the_contract_holds_only_for_async_then_one_metrics_line_and_exit_0() -> None:
    good = f"{ASYNC}\n{_metrics(sdk_bootstrap=9)}\n"
    output = sdkout.HookOutput.read(good)
    assert output.holds(0) and not output.holds(1)
    assert output.facts() == {"lines": 2, "first_async": True, "metrics_lines": 1, "metrics.sdk_bootstrap": 9}
    assert not sdkout.HookOutput.read(f"{_metrics(sdk_bootstrap=9)}\n{ASYNC}\n").holds(0)
    assert not sdkout.HookOutput.read(f"{ASYNC}\n").holds(0)  # died before its metrics line
    assert not sdkout.HookOutput.read(f"{ASYNC}\nWARNING: x\n{_metrics(sdk_bootstrap=9)}\n").holds(0)
    twice = sdkout.HookOutput.read(f"{ASYNC}\n{_metrics(sdk_bootstrap=9)}\n{_metrics(sdk_bootstrap=9)}\n")
    assert twice.metrics_lines == 2 and not twice.holds(0)


def test_metrics_in_words() -> None:
    line = {"sdk_bootstrap": 3, "sdk_bootstrap_phase": 2, "sdk_bootstrap_err": 17}
    assert sdkout.describe_metrics(line) == "BUILD_FAILED out_of_memory phase venv"
    assert (
        sdkout.describe_metrics(
            {"sdk_bootstrap": 3, "sdk_bootstrap_err": 16, "sdk_bootstrap_rc": -9, "sdk_has_pip": False}
        )
        == "BUILD_FAILED signal_killed rc -9 has_pip=false"
    )
    assert sdkout.describe_metrics({}) == "no metrics line"
    assert sdkout.outcome_name({"sdk_bootstrap": 10}) == "SKIP_LOW_MEMORY"
    assert (sdkout.outcome_name({}), sdkout.err_name({"sdk_bootstrap_err": 0})) == (None, None)
    assert sdkout.outcome_name({"sdk_bootstrap": 4242}) == "#4242"


def test_a_broken_protocol_says_how() -> None:
    text = sdkout.describe_hook(sdkout.HookOutput.read(f"{ASYNC}\n"), -9)
    assert text == "protocol broken (1 lines, async first: yes, metrics lines: 0)"


def test_ensure_json_is_the_last_object_line() -> None:
    text = 'Looking in links\n{"outcome": "A"}\n[1]\n{"outcome": "BUILD_FAILED", "err_kind": "x", "phase": "venv"}\n'
    data = sdkout.ensure_json(text)
    assert sdkout.describe_ensure(data) == "BUILD_FAILED x phase venv"
    assert sdkout.describe_ensure(sdkout.ensure_json("")) == "no JSON"
