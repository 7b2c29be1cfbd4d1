"""The telemetry contract's integer codes (``docs/telemetry.md`` is their source).

Every table is APPEND-ONLY: dashboards read these numbers, so a value is never
renumbered or reused. New meanings take new numbers.
"""

from __future__ import annotations

import enum


class Outcome(enum.IntEnum):
    """What one ``ensure()`` call did (metric ``sdk_bootstrap``)."""

    NOOP_SYSTEM = 0
    NOOP_VENV = 1
    BUILT = 2
    BUILD_FAILED = 3
    # 4 was SKIP_WIN32: retired, never reuse.
    SKIP_SENTINEL = 5
    HOOK_PY_INCOMPATIBLE = 6
    BUILT_TARGET = 7
    NOOP_TARGET = 8
    SKIP_COOLDOWN = 9
    SKIP_LOW_MEMORY = 10


class Phase(enum.IntEnum):
    """Where a build stopped (metric ``sdk_bootstrap_phase``; 0 = unset)."""

    UNSET = 0
    PRE = 1
    VENV = 2
    PIP = 3
    MAIN = 4
    PIP_TARGET = 5
    RESOLVE = 6
    INSTALL = 7
    VERIFY = 8

    @property
    def label(self) -> str:
        return self.name.lower()


class ErrKind(enum.IntEnum):
    """Why a build failed (metric ``sdk_bootstrap_err``; 0 = none)."""

    NONE = 0
    PIP_NO_MATCH = 1
    DNS_FAIL = 2
    CONN_REFUSED = 3
    SSL_VERIFY = 4
    PERM_DENIED = 5
    NO_PIP = 6
    DISK_FULL = 7
    PROXY_AUTH = 8
    STDERR_TIMEOUT = 9
    SUBPROCESS_TIMEOUT = 10
    VENV_ENSUREPIP_FAIL = 11
    VENV_PATH_TOO_LONG = 12
    VENV_NO_MODULE = 13
    VENV_ALREADY_EXISTS = 14
    VENV_SETUP_FAILED = 15
    SIGNAL_KILLED = 16
    OUT_OF_MEMORY = 17
    REQUIRES_PYTHON = 18
    INTERRUPTED = 19
    UNCATEGORIZED = 99

    @property
    def label(self) -> str:
        """The contract's string name (``_uncategorized`` keeps its underscore)."""
        return "_uncategorized" if self is ErrKind.UNCATEGORIZED else self.name.lower()


class ExcType(enum.IntEnum):
    """Exception type behind an ``exc:`` err kind (metric ``sdk_bootstrap_exc``)."""

    FileNotFoundError = 1
    PermissionError = 2
    NotADirectoryError = 3
    IsADirectoryError = 4
    FileExistsError = 5
    OSError = 6
    BlockingIOError = 7
    BrokenPipeError = 8
    ConnectionError = 9
    TimeoutError = 10
    InterruptedError = 11
    MemoryError = 12
    UnicodeDecodeError = 13
    ValueError = 14
    RuntimeError = 15
    OTHER = 99

    @classmethod
    def of(cls, type_name: str) -> ExcType:
        return cls.__members__.get(type_name, cls.OTHER)


class Strategy(enum.IntEnum):
    """sdkboot's own key ``sdk_bootstrap_strategy`` (not in the origin contract)."""

    NONE = 0
    VENV = 1
    TARGET = 2
    LEAN = 3

    @property
    def label(self) -> str:
        return self.name.lower()
