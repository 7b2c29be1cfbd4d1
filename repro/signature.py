"""What a failure looks like from the outside: one run's signature, its sample, a sweep of them."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass
from typing import Any

from repro.limits import Run
from repro.scenarios import CHILD

# Parts of a message that change between runs of one failure: paths, library names, numbers.
_VARYING = (
    (re.compile(r"lib[\w+.-]*\.so[\d.]*"), "<lib>"),
    (re.compile(r"(?<![\w<])/[^\s'\":,]+"), "<path>"),
    (re.compile(r"\d+"), "N"),
)
_LINE_CAP = 200


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def normalise(line: str) -> str:
    """The stable part of a message, so runs of one failure compare equal."""
    for pattern, replacement in _VARYING:
        line = pattern.sub(replacement, line)
    return line[:_LINE_CAP]


@dataclass(frozen=True)
class Signature:
    rc: int | None
    stdout_empty: bool
    stderr_empty: bool
    first_stderr_line: str
    last_stderr_line: str
    oom_kills: int
    timed_out: bool = False
    error: str | None = None
    report: str = ""  # what the step said of itself (sdkboot's outcome), when it says anything
    holds: bool | None = None  # the step's own success criterion (the hook's contract)
    survivors: int = 0  # descendants alive after the step exited

    @classmethod
    def of(cls, run: Run, report: str = "", holds: bool | None = None) -> Signature:
        lines = _lines(run.stderr) or [""]
        return cls(
            run.rc,
            not run.stdout.strip(),
            not run.stderr.strip(),
            lines[0][:_LINE_CAP],
            lines[-1][:_LINE_CAP],
            run.oom_kills,
            run.timed_out,
            run.error,
            report,
            holds,
            len(run.survivors),
        )

    @property
    def ok(self) -> bool:
        if self.holds is not None:
            return self.holds and not self.timed_out
        return self.rc == 0 and not self.timed_out

    @property
    def rc_label(self) -> str:
        if self.timed_out:
            return "timeout"
        return "no start" if self.rc is None else str(self.rc)

    def key(self) -> tuple[object, ...]:
        """Equal keys mean the same failure mode: what sweeps look for the edges of."""
        return (
            self.rc_label,
            self.stdout_empty,
            self.stderr_empty,
            self.oom_kills > 0,
            normalise(self.first_stderr_line),
            self.report,
            self.survivors > 0,
        )

    def short(self) -> str:
        """'-11 / E / E' in the notation of the team's measurements, plus OOM kills if any."""
        streams = f"{self.rc_label} / {'E' if self.stdout_empty else 'N'} / " + ("E" if self.stderr_empty else "N")
        streams += f" / oom {self.oom_kills}" if self.oom_kills else ""
        return streams + (f" · {self.report}" if self.report else "")


@dataclass(frozen=True)
class Sample:
    """One run at one limit."""

    kib: int
    signature: Signature
    wall_s: float
    peak_kib: int | None

    @classmethod
    def of(cls, kib: int, run: Run, report: str = "", holds: bool | None = None) -> Sample:
        return cls(kib, Signature.of(run, report, holds), round(run.wall_s, 3), run.peak_kib)

    def to_json(self) -> dict[str, Any]:
        return {"kib": self.kib, "wall_s": self.wall_s, "peak_kib": self.peak_kib, **signature_json(self.signature)}


def signature_json(signature: Signature) -> dict[str, Any]:
    return {**asdict(signature), "rc_label": signature.rc_label}


# ---- a sweep: samples across limits, and the ranges of one signature they form ----


@dataclass(frozen=True)
class Range:
    """Consecutive samples with one signature: the edge lies within a resolution of each end."""

    lo_kib: int
    hi_kib: int
    signature: Signature
    runs: int


def ranges(samples: dict[int, Sample]) -> list[Range]:
    found: list[Range] = []
    for kib in sorted(samples):
        signature = samples[kib].signature
        if found and found[-1].signature.key() == signature.key():
            found[-1] = dataclasses.replace(found[-1], hi_kib=kib, runs=found[-1].runs + 1)
        else:
            found.append(Range(kib, kib, signature, 1))
    return found


def mixed(found: list[Range]) -> set[int]:
    """Indexes of the ranges whose signature also holds a range elsewhere in the sweep."""
    where: dict[tuple[object, ...], list[int]] = {}
    for index, one in enumerate(found):
        where.setdefault(one.signature.key(), []).append(index)
    return {index for indexes in where.values() if len(indexes) > 1 for index in indexes}


@dataclass(frozen=True)
class Sweep:
    scenario: str
    samples: dict[int, Sample]
    complete: bool
    mode: str = CHILD

    @property
    def ranges(self) -> list[Range]:
        return ranges(self.samples)
