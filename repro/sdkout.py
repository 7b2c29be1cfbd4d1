"""What sdkboot printed: the hook's two-line protocol, and ``ensure --json``, read as facts.

The hook must print ``{"async": true, ...}`` first, then exactly one ``{"metrics": {...}}``
line, and exit 0: the host parses each stdout line as JSON. ``HookOutput`` says how far a
run kept to that, so a check can assert it and a sweep can map where it breaks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sdkboot.codes import ErrKind, Outcome, Phase


def _json_lines(text: str) -> list[object]:
    parsed: list[object] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            parsed.append(json.loads(line))
        except ValueError:
            parsed.append(None)  # a non-JSON line on stdout breaks the host's parser
    return parsed


@dataclass(frozen=True)
class HookOutput:
    lines: int  # non-empty stdout lines
    first_async: bool  # the first line is {"async": true, ...}
    metrics_lines: int  # lines that are {"metrics": {...}}
    all_json: bool
    metrics: Mapping[str, Any] = field(default_factory=dict)  # the last metrics object

    @classmethod
    def read(cls, stdout: str) -> HookOutput:
        parsed = _json_lines(stdout)
        first = parsed[0] if parsed else None
        metrics = [p["metrics"] for p in parsed if isinstance(p, dict) and isinstance(p.get("metrics"), dict)]
        return cls(
            len(parsed),
            isinstance(first, dict) and first.get("async") is True,
            len(metrics),
            all(isinstance(p, dict) for p in parsed),
            metrics[-1] if metrics else {},
        )

    def holds(self, rc: int | None) -> bool:
        """The host's contract: async line first, one metrics line, nothing else, exit 0."""
        return rc == 0 and self.lines == 2 and self.first_async and self.metrics_lines == 1 and self.all_json

    def facts(self) -> dict[str, object]:
        """Flat facts for a verdict; ``metrics.*`` keys are absent when the line never came."""
        found: dict[str, object] = {
            "lines": self.lines,
            "first_async": self.first_async,
            "metrics_lines": self.metrics_lines,
        }
        found.update({f"metrics.{key}": value for key, value in self.metrics.items()})
        return found


def _name(table: type[Outcome] | type[ErrKind] | type[Phase], code: object) -> str:
    if not isinstance(code, int) or isinstance(code, bool):
        return "?"
    try:
        member = table(code)
    except ValueError:
        return f"#{code}"
    return member.label if isinstance(member, (ErrKind, Phase)) else member.name


def outcome_name(metrics: Mapping[str, Any]) -> str | None:
    """``SKIP_COOLDOWN`` for ``sdk_bootstrap`` 9; None without a metrics line."""
    return _name(Outcome, metrics["sdk_bootstrap"]) if "sdk_bootstrap" in metrics else None


def err_name(metrics: Mapping[str, Any]) -> str | None:
    """``out_of_memory`` for ``sdk_bootstrap_err`` 17; None when there is no error."""
    code = metrics.get("sdk_bootstrap_err")
    return _name(ErrKind, code) if code else None


def describe_metrics(metrics: Mapping[str, Any]) -> str:
    """``BUILD_FAILED out_of_memory phase venv``: the metrics line in words."""
    if not metrics:
        return "no metrics line"
    words = [_name(Outcome, metrics.get("sdk_bootstrap"))]
    if metrics.get("sdk_bootstrap_err"):
        words.append(_name(ErrKind, metrics["sdk_bootstrap_err"]))
    if metrics.get("sdk_bootstrap_rc") is not None:
        words.append(f"rc {metrics['sdk_bootstrap_rc']}")
    if metrics.get("sdk_bootstrap_phase"):
        words.append(f"phase {_name(Phase, metrics['sdk_bootstrap_phase'])}")
    if "sdk_has_pip" in metrics:
        words.append(f"has_pip={str(metrics['sdk_has_pip']).lower()}")
    return " ".join(words)


def describe_hook(output: HookOutput, rc: int | None) -> str:
    """One phrase for a sweep's table: the outcome, or how the protocol broke."""
    if output.holds(rc):
        return describe_metrics(output.metrics)
    broken = f"{output.lines} lines, async first: {'yes' if output.first_async else 'no'}"
    broken += f", metrics lines: {output.metrics_lines}"
    if not output.all_json:
        broken += ", non-JSON line"
    return f"protocol broken ({broken})"


def ensure_json(stdout: str) -> dict[str, Any]:
    """The last stdout line that is a JSON object (``ensure --json`` prints exactly one)."""
    for value in reversed(_json_lines(stdout)):
        if isinstance(value, dict):
            return value
    return {}


def describe_ensure(data: Mapping[str, Any]) -> str:
    if not data:
        return "no JSON"
    words = [str(data.get("outcome"))]
    if data.get("err_kind"):
        words.append(str(data["err_kind"]))
    if data.get("phase"):
        words.append(f"phase {data['phase']}")
    return " ".join(words)
