"""The floors data file: the benchmark's measured floors, for the runtime's preflight and doctor.

The runtime reads floors from one file only, ``sdkboot/floors.json`` (``RUNTIME_FILE``, shipped
in the package and the bundle; never numbers in code), keyed by workload (the requirement
measured) and then by strategy label. One writer (here) and one reader (``sdkboot.floors``)
share its schema; a floor that was not measured is null. Refresh it with
``python -m repro bench --replot benchmarks/results/DATE.json --floors sdkboot/floors.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdkboot import floors as runtime

SCHEMA = runtime.SCHEMA
RUNTIME_FILE = Path(runtime.__file__).parent / runtime.FILE


def floors_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """``{"schema", "measured", "machine", "workloads": {req: {"strategies": {label: {...}}, "import": {...}}}}``."""
    strategies = {}
    for name, entry in doc.get("ways", {}).items():
        if entry.get("sdkboot"):
            strategies[name.removeprefix("sdkboot-")] = _mib(entry)
    workload = {"strategies": strategies, "import": _mib(doc.get("ways", {}).get("import", {}))}
    return {
        "schema": SCHEMA,
        "measured": doc.get("date"),
        "machine": doc.get("machine", {}).get("cpu"),
        "python": doc.get("machine", {}).get("python_version"),
        "workloads": {doc.get("wheelhouse", {}).get("requirement", ""): workload},
    }


def _mib(entry: dict[str, Any]) -> dict[str, float | None]:
    def floor(key: str) -> float | None:
        value = (entry.get(key) or {}).get("floor_kib")
        return round(value / 1024, 1) if isinstance(value, (int, float)) else None

    return {"cgroup_mib": floor("cgroup_floor"), "rlimit_as_mib": floor("as_floor")}
