"""One-time user notices: each persistent, user-fixable problem is shown once per sdkboot version."""

from __future__ import annotations

from .codes import ErrKind, Outcome
from .layout import Layout
from .result import Result
from .safefs import read_json, write_json_atomic
from .version import VERSION


def problem_key(result: Result) -> str | None:
    """The notice-worthy problem in ``result``: only what the user must fix by hand."""
    if result.outcome is Outcome.HOOK_PY_INCOMPATIBLE:
        return result.outcome.name
    failure = result.failure
    if failure is not None and failure.kind is ErrKind.VENV_ENSUREPIP_FAIL and result.has_pip is False:
        return failure.kind.label
    return None


def take(layout: Layout, result: Result) -> str | None:
    """The notice to show now, or None when there is none or it was already shown."""
    key = problem_key(result)
    if key is None:
        return None
    shown = read_json(layout.notice_file)[0] or {}
    recorded = shown.get(VERSION)
    marks: list[str] = [str(m) for m in recorded] if isinstance(recorded, list) else []
    if key in marks:
        return None
    try:
        write_json_atomic(layout.notice_file, {**shown, VERSION: [*marks, key]})
    except OSError:
        return None  # if we cannot remember it was shown, do not nag every session
    return f"sdkboot: {result.message}"
