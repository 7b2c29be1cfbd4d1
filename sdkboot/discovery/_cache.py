"""The probe cache: one JSON file in the state dir, so an unchanged interpreter is never re-run.

An entry is valid while the resolved file keeps its size and mtime and the probe's own
source hash is unchanged: editing the probe invalidates every answer by itself.
"""

from __future__ import annotations

import os
from typing import Any

from ..safefs import read_json, write_json_atomic
from ._locate import Candidate


def file_id(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


class ProbeCache:
    """Answers by resolved path; written back (atomically) only when something changed."""

    def __init__(self, path: str | None, probe_hash: str) -> None:
        self.path = path
        self.probe_hash = probe_hash
        self.entries: dict[str, dict[str, Any]] = {}
        self.changed = False
        data = read_json(path)[0] if path else None
        if data is not None and data.get("probe") == probe_hash and isinstance(data.get("interpreters"), dict):
            self.entries = {k: v for k, v in data["interpreters"].items() if isinstance(v, dict)}

    def get(self, candidate: Candidate) -> dict[str, Any] | None:
        """The cached entry for ``candidate``, or None when absent or stale."""
        entry = self.entries.get(candidate.real)
        if entry is None or entry.get("path") != candidate.path:
            return None  # a venv's python resolves to its base but answers differently
        if entry.get("id") != file_id(candidate.real) or not isinstance(entry.get("answer"), dict):
            return None
        return entry

    def put(self, candidate: Candidate, answer: dict[str, Any], **extra: Any) -> None:
        ident = file_id(candidate.real)
        if ident is None:
            return
        self.entries[candidate.real] = {"path": candidate.path, "id": ident, "answer": answer, **extra}
        self.changed = True

    def save(self) -> None:
        """Keep entries whose file still exists; never fail discovery over a cache write."""
        if not self.changed or not self.path or not os.path.isdir(os.path.dirname(self.path)):
            return
        alive = {real: entry for real, entry in self.entries.items() if os.path.exists(real)}
        try:
            write_json_atomic(self.path, {"probe": self.probe_hash, "interpreters": alive})
        except OSError:
            return
        self.changed = False
