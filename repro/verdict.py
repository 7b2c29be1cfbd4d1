"""What a repro row expects, and the verdict on one observation of it.

Shared by ``containers`` and ``validate``. A row expects either one outcome exactly (its
limit is away from every measured band edge, or its victim is pinned), or a declared set of
outcomes the kernel may give there (which process the OOM killer picks, say). Either way the
verdict names the case that came, so a repeat run can count them. Nothing is ever retried:
an outcome outside the set is a mismatch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from repro.report import clip
from repro.signature import normalise

SIGNATURE_CELL = 48  # free text in a signature is clipped to this many characters


@dataclass(frozen=True)
class Matches:
    """Expect a string observation in which the regular expression ``pattern`` is found."""

    pattern: str

    def matches(self, observed: object) -> bool:
        return isinstance(observed, str) and re.search(self.pattern, observed) is not None

    def __str__(self) -> str:
        return f"~ /{self.pattern}/"


class Absent:
    """Expect the key to be missing: e.g. no JSON at all because PID 1 itself was killed."""

    def matches(self, observed: object) -> bool:
        return observed is self

    def __str__(self) -> str:
        return "(absent)"


ABSENT = Absent()


def matches(expected: object, observed: object) -> bool:
    """Equality of type and value: ``False`` must not pass for ``0``, nor ``1`` for ``True``."""
    if isinstance(expected, (Matches, Absent)):
        return expected.matches(observed)
    return type(expected) is type(observed) and expected == observed


@dataclass(frozen=True)
class Case:
    """One outcome a row may have: a name in words, and the facts that make it that outcome."""

    name: str
    expect: Mapping[str, object]


@dataclass(frozen=True)
class Expect:
    """The cases a row accepts. One case: exact. Several: a declared set, with ``why``."""

    cases: tuple[Case, ...]
    why: str  # exact: why it cannot vary; a set: why the kernel may give any of them

    def __post_init__(self) -> None:
        if not self.cases or len({case.name for case in self.cases}) != len(self.cases):
            raise ValueError("an expectation needs at least one case, each with its own name")

    @property
    def exact(self) -> bool:
        return len(self.cases) == 1

    @property
    def form(self) -> str:
        return "exact" if self.exact else f"set of {len(self.cases)}"

    def keys(self) -> list[str]:
        """Every key any case checks, in first-seen order: what a signature is made of."""
        return list(dict.fromkeys(key for case in self.cases for key in case.expect))

    def free_text(self, key: str) -> bool:
        """A key some case matches by pattern: its value is a message, shown normalised."""
        return any(isinstance(case.expect.get(key), Matches) for case in self.cases)


def exact(expect: Mapping[str, object], why: str = "no limit in force") -> Expect:
    return Expect((Case("expected", expect),), why)


def one_of(why: str, *cases: Case) -> Expect:
    if len(cases) < 2:
        raise ValueError("a declared set needs two cases or more; use exact()")
    return Expect(cases, why)


@dataclass(frozen=True)
class KeyCheck:
    key: str
    expected: object
    observed: object
    ok: bool


@dataclass(frozen=True)
class Verdict:
    expect: Expect
    case: Case | None  # the case that came; None: a mismatch
    checks: tuple[KeyCheck, ...]  # against that case, or the nearest one on a mismatch
    signature: str

    @property
    def passed(self) -> bool:
        return self.case is not None

    @property
    def label(self) -> str:
        """The verdict in one word or name: "ok", the case's name in a set, or MISMATCH."""
        if self.case is None:
            return "MISMATCH"
        return "ok" if self.expect.exact else self.case.name


def _check(case: Case, observed: Mapping[str, object]) -> tuple[KeyCheck, ...]:
    found = []
    for key, expected in case.expect.items():
        value = observed.get(key, ABSENT)
        found.append(KeyCheck(key, expected, value, matches(expected, value)))
    return tuple(found)


def judge(expect: Expect, observed: Mapping[str, object]) -> Verdict:
    """The first case every fact of which holds; on a mismatch, the case with most facts right."""
    checked = [(case, _check(case, observed)) for case in expect.cases]
    sign = signature(expect, observed)
    for case, checks in checked:
        if all(check.ok for check in checks):
            return Verdict(expect, case, checks, sign)
    _, nearest = max(checked, key=lambda pair: sum(check.ok for check in pair[1]))
    return Verdict(expect, None, nearest, sign)


def signature(expect: Expect, observed: Mapping[str, object]) -> str:
    """The observed values of every key the row checks: equal strings, same outcome."""
    parts = []
    for key in expect.keys():  # noqa: SIM118 - an Expect is not a mapping: keys() is its own
        value = observed.get(key, ABSENT)
        if expect.free_text(key) and isinstance(value, str):
            parts.append(f"{key}={clip(normalise(value), SIGNATURE_CELL)!r}")
        else:
            parts.append(f"{key}={describe(value)}")
    return " ".join(parts)


def describe(value: object) -> str:
    if isinstance(value, (Matches, Absent, str)):
        return str(value)
    return json.dumps(value)


def describe_case(case: Case) -> str:
    return " ".join(f"{key}={describe(value)}" for key, value in case.expect.items())


def describe_expect(expect: Expect) -> str:
    if expect.exact:
        return describe_case(expect.cases[0])
    return " | ".join(f"{case.name}: {describe_case(case)}" for case in expect.cases)


def jsonable(value: object) -> object:
    return str(value) if isinstance(value, (Absent, Matches)) else value


def expect_json(expect: Expect) -> dict[str, Any]:
    return {
        "form": expect.form,
        "why": expect.why,
        "cases": [
            {"name": case.name, "expect": {k: jsonable(v) for k, v in case.expect.items()}} for case in expect.cases
        ],
    }


def verdict_json(verdict: Verdict) -> dict[str, object]:
    return {
        "passed": verdict.passed,
        "case": verdict.case.name if verdict.case else None,
        "signature": verdict.signature,
        "checks": [
            {"key": c.key, "expected": describe(c.expected), "observed": jsonable(c.observed), "ok": c.ok}
            for c in verdict.checks
        ],
    }
