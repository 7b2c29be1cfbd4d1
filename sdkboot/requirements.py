"""Just enough PEP 508 checking to reject a bad requirement with one clear line,
before any pip process starts (``packaging`` is not available here).

Only PEP 508 passes: a name with extras and versions, or ``name @ URL``, and a marker. A bare
URL or path, or anything with a leading ``-``, is refused: pip would read an option there
(``--log=/tmp/x://y`` made pip write a file). Requirements also reach pip after ``--``.
"""

from __future__ import annotations

import os
import re

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = rf"(?:\s*\[\s*(?:{_NAME}(?:\s*,\s*{_NAME})*)?\s*\])?"
_VERSION = r"[A-Za-z0-9.*+!_-]+"
_CLAUSE = rf"(?:===|==|!=|<=|>=|~=|<|>)\s*{_VERSION}"
_SPECS = rf"(?:\s*\(?\s*{_CLAUSE}(?:\s*,\s*{_CLAUSE})*\s*\)?)?"
_URL = r"(?:\s*@\s*[A-Za-z][A-Za-z0-9+.-]*:\S+)?"
_MARKER = r"(?:\s*;\s*(?P<marker>\S.*?))?"
_LOCATION = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.-]*://|\.{0,2}/|~|[A-Za-z]:\\)")
_PEP508 = re.compile(rf"^\s*{_NAME}{_EXTRAS}(?:{_URL}|{_SPECS}){_MARKER}\s*$", re.DOTALL)

# PEP 508 environment markers, as pip's parser (packaging) reads them: the variables, the
# comparison operators, quoted strings, and/or, parentheses.
_VARIABLES = (
    r"python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)"
    r"|platform[._](?:version|machine|python_implementation)|python_implementation"
    r"|implementation_(?:name|version)|extras?|dependency_groups"
)
_MARKER_TOKEN = re.compile(
    r"\s*(?:(?P<string>'[^']*'|\"[^\"]*\")|(?P<op>===|==|!=|<=|>=|~=|<|>)|(?P<paren>[()])"
    rf"|(?P<word>not\s+in\b|in\b|and\b|or\b|(?:{_VARIABLES})\b))"
)


def _kind(match: re.Match[str]) -> str:
    """A token's kind: "v" (a variable or a quoted value), "o" (an operator), a paren, "and", "or"."""
    if match.group("string"):
        return "v"
    if match.group("op"):
        return "o"
    if match.group("paren"):
        return match.group("paren")
    word = " ".join(match.group("word").split())
    if word in ("in", "not in"):
        return "o"
    return word if word in ("and", "or") else "v"


def _marker_tokens(text: str) -> list[str] | None:
    """The kinds of the marker's tokens, or None when something in it is not a marker token."""
    kinds, at, text = [], 0, text.rstrip()
    while at < len(text):
        match = _MARKER_TOKEN.match(text, at)
        if not match:
            return None
        kinds.append(_kind(match))
        at = match.end()
    return kinds


def _expression(tokens: list[str], at: int) -> int:
    """Parse ``expr (and|or expr)*`` from ``at``; return where it ended, or -1."""
    while True:
        if at < len(tokens) and tokens[at] == "(":
            at = _expression(tokens, at + 1)
            if at < 0 or at >= len(tokens) or tokens[at] != ")":
                return -1
            at += 1
        elif tokens[at : at + 3] == ["v", "o", "v"]:
            at += 3
        else:
            return -1
        if at < len(tokens) and tokens[at] in ("and", "or"):
            at += 1
            continue
        return at


def marker_problem(marker: str) -> str | None:
    """Why ``marker`` is not a PEP 508 environment marker, or None."""
    tokens = _marker_tokens(marker)
    if tokens and _expression(tokens, 0) == len(tokens):
        return None
    return f"its environment marker {marker!r} is not PEP 508 (expected e.g. python_version >= '3.10', values quoted)"


# Line breaks and other control characters: a regex's \s and $ let some through (\r, \x0b),
# and pip would read them as a requirements-file line break. PEP 508's whitespace is space and tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def problem(requirement: str) -> str | None:
    """Why ``requirement`` is not something pip can take, or None."""
    if requirement.lstrip().startswith("-"):
        return f"not a valid requirement: {requirement!r} looks like an option (pip options are not taken here)"
    match = _PEP508.match(requirement)
    if not match or _CONTROL.search(requirement):
        if _LOCATION.match(requirement) or os.path.exists(requirement):
            return (
                f"not a valid requirement: {requirement!r}: a URL or a path needs a name,"
                " as in 'name @ https://...' or 'name @ file:///abs/path.whl'"
            )
        return f"not a valid requirement: {requirement!r} (expected e.g. 'claude-agent-sdk>=0.1')"
    marker = match.group("marker")
    reason = marker_problem(marker) if marker else None
    return f"not a valid requirement: {requirement!r}: {reason}" if reason else None
