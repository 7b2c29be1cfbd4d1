"""The measured floors: how much memory each strategy's build needs, sdkboot's own process included.

They come from one data file, ``floors.json`` beside this module, which the benchmark writes
(``python -m repro bench --floors sdkboot/floors.json``); no floor is typed into code. The
preflight and ``doctor`` both read it. Keyed by workload (the requirement measured), then by
strategy label; a value the benchmark did not measure is null.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

FILE = "floors.json"
SCHEMA = 1
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_cache: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class Floor:
    """One strategy's measured floors in MiB; None where not measured."""

    strategy: str
    cgroup_mib: float | None
    rlimit_as_mib: float | None


def _package_data() -> bytes | None:
    # pkgutil reads from a directory and from inside the sdkboot.pyz bundle alike.
    import pkgutil

    try:
        return pkgutil.get_data(__package__ or "sdkboot", FILE)
    except OSError:
        return None


def load() -> dict[str, Any]:
    """The floors document, or {} when it is missing, unreadable or of another schema."""
    if "doc" not in _cache:
        data = _package_data()
        try:
            doc = json.loads(data.decode("utf-8")) if data else {}
        except ValueError:
            doc = {}
        _cache["doc"] = doc if isinstance(doc, dict) and doc.get("schema") == SCHEMA else {}
    return _cache["doc"]


def _names(requirements: Iterable[str]) -> str:
    """The workload key of a requirement set: its project names, PEP 503-normalized and sorted."""
    found = (_NAME.match(requirement) for requirement in requirements)
    return " ".join(sorted(re.sub(r"[-_.]+", "-", m.group(1)).lower() for m in found if m))


def _mib(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _workload(doc: dict[str, Any], requirements: Iterable[str]) -> dict[str, Any]:
    wanted = _names(requirements)
    workloads = doc.get("workloads")
    for key, workload in workloads.items() if isinstance(workloads, dict) else ():
        if _names([key]) == wanted and isinstance(workload, dict):
            return workload
    return {}


def _table(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def for_requirements(requirements: Iterable[str], doc: dict[str, Any] | None = None) -> dict[str, Floor]:
    """Each measured strategy's floors for this requirement set; {} when it was never measured.

    A floor the benchmark did not measure falls back to the bare import's: every strategy ends
    by importing the package, so no build fits where the import alone does not.
    """
    workload = _workload(load() if doc is None else doc, requirements)
    base, strategies = _table(workload, "import"), _table(workload, "strategies")
    found = {}
    for label, value in strategies.items():
        entry: dict[str, Any] = value if isinstance(value, dict) else {}
        cgroup = _mib(entry.get("cgroup_mib")) or _mib(base.get("cgroup_mib"))
        address = _mib(entry.get("rlimit_as_mib")) or _mib(base.get("rlimit_as_mib"))
        found[label] = Floor(label, cgroup, address)
    return found
