"""Where each piece of state lives inside the state dir.

Builds are never renamed: a venv hard-codes its own path (script shebangs,
activate scripts), so each build gets a fresh dir under ``builds/`` and is
published by atomically replacing ``install-state.json``, which points at it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

STATE_FILE = "install-state.json"
COOLDOWN_FILE = "cooldown.json"
LOCK_FILE = "build.lock"
EVENTS_FILE = "events.jsonl"
BUILDS_DIR = "builds"
NOTICE_FILE = "notices.json"
PYTHONS_FILE = "interpreters.json"
# Its presence makes a dir sdkboot's own: only there does sdkboot delete anything.
MARKER_FILE = ".sdkboot-state"
# Every name sdkboot creates at the top of a state dir: a dir holding anything else (and no
# marker) is not sdkboot's. A new file in the layout must be added here.
OWN_NAMES = frozenset(
    {
        STATE_FILE,
        COOLDOWN_FILE,
        LOCK_FILE,
        EVENTS_FILE,
        EVENTS_FILE + ".1",
        BUILDS_DIR,
        NOTICE_FILE,
        PYTHONS_FILE,
        MARKER_FILE,
    }
)


@dataclass(frozen=True)
class Layout:
    root: str

    @property
    def state_file(self) -> str:
        return os.path.join(self.root, STATE_FILE)

    @property
    def cooldown_file(self) -> str:
        return os.path.join(self.root, COOLDOWN_FILE)

    @property
    def lock_file(self) -> str:
        return os.path.join(self.root, LOCK_FILE)

    @property
    def events_file(self) -> str:
        return os.path.join(self.root, EVENTS_FILE)

    @property
    def notice_file(self) -> str:
        return os.path.join(self.root, NOTICE_FILE)

    @property
    def pythons_file(self) -> str:
        """The interpreter probe cache (see ``sdkboot.discovery``)."""
        return os.path.join(self.root, PYTHONS_FILE)

    @property
    def builds(self) -> str:
        return os.path.join(self.root, BUILDS_DIR)

    def new_build(self, strategy: str) -> str:
        """A fresh, unique staging dir name for one build attempt."""
        return os.path.join(self.builds, f"{strategy}-{time.time_ns():x}-{os.getpid()}")
