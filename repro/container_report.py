"""What one container left behind, the observation made of it, its verdict and its report.

An observation is a flat dict: the step's own JSON output (nested keys joined with "."), the
last event of ``events.jsonl`` as ``event.*``, ``cooldown`` (the file exists), the container's
``exit`` code, ``oom_killed``, ``traceback``, and the hook protocol's ``lines``,
``first_async`` and ``metrics_lines``. ``State.OOMKilled`` alone proves little (it is set when
any process was killed, even if the container exited 0), so the checks read the scenario's own
result first. Pure: no engine needed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from repro import report, sdkout
from repro.container_steps import Scenario, Step
from repro.verdict import Verdict, describe, expect_json, jsonable, judge, verdict_json


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, object]:
    """Nested dicts as dotted keys: ``{"metrics": {"a": 1}}`` -> ``{"metrics.a": 1}``."""
    flat: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def last_json_object(text: str) -> dict[str, Any]:
    """The last stdout line that is a JSON object (sdkboot prints exactly one)."""
    for line in reversed(text.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


@dataclass
class ContainerResult:
    """What one container left behind, before interpretation."""

    exit: int | str
    stdout: str = ""
    stderr: str = ""
    oom_killed: bool = False
    events: str | None = None
    cooldown: bool = False
    # Other containers seen running as the step started or ended: each holds an overlay mount,
    # which moves the device number of this container's files (see docker/README.md).
    others: int = 0


def observe(result: ContainerResult) -> dict[str, object]:
    observed = flatten(last_json_object(result.stdout))
    event = last_json_object(result.events or "")
    observed.update(flatten(event, "event."))
    hook = sdkout.HookOutput.read(result.stdout)
    observed.update(
        exit=result.exit,
        oom_killed=result.oom_killed,
        cooldown=result.cooldown,
        traceback="Traceback (most recent call last)" in result.stdout + result.stderr,
        other_containers=result.others,
        lines=hook.lines,
        first_async=hook.first_async,
        metrics_lines=hook.metrics_lines,
    )
    return observed


@dataclass
class StepRun:
    step: Step
    seconds: float
    result: ContainerResult
    observed: dict[str, object]
    verdict: Verdict

    @property
    def passed(self) -> bool:
        return self.verdict.passed


@dataclass
class ScenarioRun:
    scenario: Scenario
    steps: list[StepRun]
    seconds: float

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.passed for step in self.steps)


def judge_step(step: Step, seconds: float, result: ContainerResult) -> StepRun:
    observed = observe(result)
    return StepRun(step, seconds, result, observed, judge(step.expect, observed))


def shorten(text: str, width: int = 44) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def table_rows(runs: Sequence[ScenarioRun]) -> list[list[str]]:
    rows = [["SCENARIO", "STEP", "MODE", "FORM", "TIME", "CHECK", "EXPECTED", "OBSERVED", "VERDICT"]]
    for run in runs:
        for step in run.steps:
            verdict = step.verdict
            for index, check in enumerate(verdict.checks):
                first = index == 0
                time_cell = f"{step.seconds:.1f}s" if first else ""
                rows.append(
                    [
                        run.scenario.name,
                        step.step.label,
                        step.step.mode if first else "",
                        step.step.expect.form if first else "",
                        time_cell,
                        check.key,
                        shorten(describe(check.expected)),
                        shorten(describe(check.observed)),
                        ("ok" if check.ok else "MISMATCH") if not first else verdict_cell(verdict, check.ok),
                    ]
                )
    return rows


def verdict_cell(verdict: Verdict, ok: bool) -> str:
    """The first row of a step names the case that came when the step declares a set."""
    if verdict.case is not None and not verdict.expect.exact:
        return f"ok ({verdict.case.name})"
    return "ok" if ok else "MISMATCH"


def summary(runs: Sequence[ScenarioRun]) -> str:
    failed = [run.scenario.name for run in runs if not run.passed]
    total = sum(run.seconds for run in runs)
    head = f"{len(runs) - len(failed)} passed, {len(failed)} failed ({total:.1f} s)"
    return head + (f": {', '.join(failed)}" if failed else "")


def step_json(run: StepRun) -> dict[str, Any]:
    return {
        "label": run.step.label,
        "command": list(run.step.argv),
        "mode": run.step.mode,
        "mem_mib": run.step.mem_mib,
        "wrap_as_kib": run.step.wrap_as_kib,
        "tree_as_kib": run.step.tree_as_kib,
        "seconds": round(run.seconds, 2),
        "expect": expect_json(run.step.expect),
        **verdict_json(run.verdict),
        "observed": {k: jsonable(v) for k, v in run.observed.items()},
        "stdout": run.result.stdout[-4000:],
        "stderr": run.result.stderr[-4000:],
    }


def run_json(run: ScenarioRun) -> dict[str, Any]:
    scenario = run.scenario
    return {
        "scenario": scenario.name,
        "image": scenario.image,
        "summary": scenario.summary,
        "passed": run.passed,
        "seconds": round(run.seconds, 2),
        "steps": [step_json(step) for step in run.steps],
    }


def explain(run: ScenarioRun) -> str:
    """A failure message for pytest: the table, then each failing step's streams."""
    lines = [report.aligned_table(table_rows([run]))]
    for step in run.steps:
        if not step.passed:
            if step.result.others:
                lines.append(
                    f"--- {step.step.label}: {step.result.others} other container(s) ran "
                    "meanwhile; the interpreter's device number moves with them "
                    "(docker/README.md)"
                )
            lines += [f"--- {step.step.label} stdout:", step.result.stdout[-2000:]]
            lines += [f"--- {step.step.label} stderr:", step.result.stderr[-2000:]]
    return "\n".join(lines)
