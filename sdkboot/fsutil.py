"""Small filesystem helpers: atomic JSON publishing and tolerant JSON reading."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Optional, Tuple


def write_json_atomic(path: str, data: Dict[str, Any]) -> None:
    """Stage ``data`` beside ``path``, fsync it, then ``os.replace``: readers never see half a file."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_json(path: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """Return ``(data, None)``, or ``(None, reason)`` when absent, unreadable or corrupt."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None, "absent"
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return None, f"corrupt: {exc}"
    if not isinstance(data, dict):
        return None, "corrupt: not a JSON object"
    return data, None


def can_write(directory: str) -> bool:
    """Really try: ``os.access`` says yes to root even on a read-only file system."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False
