"""Reproduction harness: run the bootstrap's steps under memory limits and record what breaks.

Linux-only in practice (RLIMIT_AS semantics, cgroups); the pure parts import anywhere.
The runtime package ``sdkboot`` never imports this one.
"""

from __future__ import annotations

# Bad command-line input, reported as one line on stderr with exit 2: the runtime's own class,
# so there is one meaning of a usage error in both command lines.
from sdkboot.options import UsageError as UsageError


class Unsupported(Exception):
    """This machine cannot apply the requested limit; ``reason`` names the missing capability."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
