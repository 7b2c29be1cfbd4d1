"""The machine a benchmark ran on, recorded beside its numbers: they mean nothing without it."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from repro import cgroups, scenarios


def load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _cpu_model() -> str:
    for line in cgroups.read_text(Path("/proc/cpuinfo")).splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_kib() -> int | None:
    for line in cgroups.read_text(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return None


def _cgroup_version() -> int | None:
    try:
        return cgroups.detect().flavor.version
    except Exception:
        return None


def describe(python: str) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_kib": _memory_kib(),
        "python": python,
        "python_version": scenarios.python_version(python),
        "cgroup_version": _cgroup_version(),
        "host_cgroup_limit_kib": cgroups.own_limit_kib(),
        "load_before": load(),
        "shared": "2-core machine shared with other workloads: use ratios",
    }
