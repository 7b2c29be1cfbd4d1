"""The choice rules, and the one-line reason each candidate was or was not chosen.

An interpreter qualifies when it is at least ``min_python`` and can build (a venv with
ensurepip, else pip for ``--target``). The host wins when it qualifies: its env is the
one an in-process consumer shares. Otherwise the newest qualifying one wins, a venv-capable
one before a pip-only one of the same version, then discovery order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..codes import Strategy
from ._interrogate import Info, Interpreter

MinPython = tuple[int, int]


def dotted(version: Sequence[int]) -> str:
    return ".".join(str(part) for part in version)


def cannot_build(info: Info) -> str:
    venv = "no ensurepip" if info.venv else "no venv module"
    return f"cannot build: {venv} for a venv and no pip for the --target fallback"


def unusable(interpreter: Interpreter, min_python: MinPython) -> str | None:
    """Why ``interpreter`` cannot build the env, or None when it qualifies."""
    info = interpreter.info
    if info is None:
        return interpreter.error or "not probed"
    if info.version[:2] < tuple(min_python):
        return f"too old: {info.label} is older than {dotted(min_python)} (--min-python)"
    if info.strategy is Strategy.NONE:
        return cannot_build(info)
    return None


def _newest_first(interpreter: Interpreter) -> tuple[int, ...]:
    info = interpreter.info
    assert info is not None
    return (-info.version[0], -info.version[1], -info.version[2], 0 if info.strategy is Strategy.VENV else 1)


def ranked(interpreters: Sequence[Interpreter], min_python: MinPython) -> list[Interpreter]:
    """Every qualifying interpreter in the order a build tries them (the choice first)."""
    usable = [i for i in interpreters if unusable(i, min_python) is None]
    hosts = [i for i in usable if i.is_host]
    return hosts + sorted((i for i in usable if not i.is_host), key=_newest_first)


def best_other(interpreters: Sequence[Interpreter], min_python: MinPython) -> Interpreter | None:
    """The best interpreter >= ``min_python`` other than the host, even one that cannot build."""
    order = [i for i in ranked(interpreters, min_python) if not i.is_host]
    if order:
        return order[0]
    recent = [
        i for i in interpreters if not i.is_host and i.info is not None and i.info.version[:2] >= tuple(min_python)
    ]
    return sorted(recent, key=_newest_first)[0] if recent else None


def alt_py(interpreters: Sequence[Interpreter], min_python: MinPython) -> int:
    """The contract's ``sdk_alt_py``: major*100+minor of the best other interpreter, 0 when none."""
    best = best_other(interpreters, min_python)
    return best.info.number if best is not None and best.info is not None else 0


@dataclass(frozen=True)
class Verdict:
    interpreter: Interpreter
    chosen: bool
    reason: str


def _why_not(interpreter: Interpreter, chosen: Interpreter) -> str:
    info, best = interpreter.info, chosen.info
    assert info is not None and best is not None
    can = f"can build ({info.strategy.label})"
    if chosen.is_host:
        return f"{can}; not chosen: the host Python qualifies and is preferred"
    if best.version > info.version:
        return f"{can}; not chosen: {best.label} is newer"
    return f"{can}; not chosen: {chosen.path} ranks first at the same version"


def _why_chosen(interpreter: Interpreter, min_python: MinPython) -> str:
    info = interpreter.info
    assert info is not None
    if interpreter.is_host:
        return f"chosen: the host Python qualifies (builds with {info.strategy.label})"
    return f"chosen: the newest Python >= {dotted(min_python)} that can build (with {info.strategy.label})"


def verdicts(interpreters: Sequence[Interpreter], min_python: MinPython) -> list[Verdict]:
    order = ranked(interpreters, min_python)
    chosen = order[0] if order else None
    found = []
    for interpreter in interpreters:
        if interpreter is chosen:
            found.append(Verdict(interpreter, True, _why_chosen(interpreter, min_python)))
            continue
        reason = unusable(interpreter, min_python)
        if reason is None and chosen is not None:
            reason = _why_not(interpreter, chosen)
        found.append(Verdict(interpreter, False, reason or "not chosen"))
    return found
