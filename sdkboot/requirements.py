"""Just enough PEP 508 checking to reject a bad requirement with one clear line,
before any pip process starts (``packaging`` is not available here)."""
from __future__ import annotations

import os
import re
from typing import Optional

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = rf"(?:\s*\[\s*(?:{_NAME}(?:\s*,\s*{_NAME})*)?\s*\])?"
_VERSION = r"[A-Za-z0-9.*+!_-]+"
_CLAUSE = rf"(?:===|==|!=|<=|>=|~=|<|>)\s*{_VERSION}"
_SPECS = rf"(?:\s*\(?\s*{_CLAUSE}(?:\s*,\s*{_CLAUSE})*\s*\)?)?"
_URL = r"(?:\s*@\s*\S+)?"
_MARKER = r"(?:\s*;\s*\S.*)?"
_PEP508 = re.compile(rf"^\s*{_NAME}{_EXTRAS}(?:{_URL}|{_SPECS}){_MARKER}\s*$")


def problem(requirement: str) -> Optional[str]:
    """Why ``requirement`` is not something pip can take, or None."""
    if "://" in requirement or os.path.exists(requirement):
        return None  # a URL or a local path: pip's to judge
    if _PEP508.match(requirement):
        return None
    return f"not a valid requirement: {requirement!r} (expected e.g. 'claude-agent-sdk>=0.1')"
