"""The benchmark for people: a Markdown table, the ratio rows, and a PNG of the floors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repro import plot as plot_support
from repro.bench import ratios
from repro.report import markdown_table

HEADERS = (
    "way",
    "cold wall, median",
    "CPU (user+sys), median",
    "peak RSS, largest process",
    "cgroup peak",
    "cgroup floor",
    "RLIMIT_AS floor",
)


def _mib(kib: Any) -> str:
    return "–" if not isinstance(kib, (int, float)) else f"{kib / 1024:.1f} MiB"


def _floor(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "not measured"
    if entry.get("floor_kib") is None:
        return "above the range searched"
    return _mib(entry["floor_kib"]) + ("" if entry.get("confirmed") else " (noisy)")


def _wall(entry: dict[str, Any]) -> str:
    median = entry.get("wall_median_s")
    if median is None:
        return "failed: " + "; ".join(entry.get("failures", [])[:1])
    return f"{median:.1f} s (n={len(entry.get('wall_s', []))})"


def _cpu(entry: dict[str, Any]) -> str:
    median = entry.get("cpu_median_s")
    return "–" if median is None else f"{median:.1f} s"


def way_rows(doc: dict[str, Any]) -> list[list[str]]:
    return [
        [
            f"`{name}`",
            _wall(e),
            _cpu(e),
            _mib(e.get("maxrss_kib")),
            _mib(e.get("cgroup_peak_kib")),
            _floor(e.get("cgroup_floor")),
            _floor(e.get("as_floor")),
        ]
        for name, e in doc.get("ways", {}).items()
    ]


def session_rows(doc: dict[str, Any]) -> list[list[str]]:
    session = doc.get("session") or {}
    labels = (
        ("ensure_noop", "ensure() no-op, in process"),
        ("subprocess_import_probe", "baseline: subprocess import probe"),
        ("activate", "activate(), full work"),
        ("bare_addsitedir", "baseline: bare site.addsitedir"),
    )
    return [
        [label, str(session[key]["calls"]), f"{session[key]['median_ms']:.4f} ms", f"{session[key]['p99_ms']:.4f} ms"]
        for key, label in labels
        if key in session
    ]


def table(doc: dict[str, Any]) -> str:
    machine = doc.get("machine", {})
    head = (
        f"{doc.get('date')} · {machine.get('cpu')} · {machine.get('cores')} cores · Python "
        f"{machine.get('python_version')} · load {machine.get('load_before')} -> {machine.get('load_after')}"
        f" · {doc.get('seconds')} s"
    )
    parts = [head, "", markdown_table(HEADERS, way_rows(doc))]
    if doc.get("session"):
        parts += ["", markdown_table(("per session", "calls", "median", "p99"), session_rows(doc))]
    parts += ["", *(ratios.line(row) for row in doc.get("ratios", []))]
    parts += [f"skipped {name}: {why}" for name, why in doc.get("skipped", {}).items()]
    return "\n".join(parts)


def plot(doc: dict[str, Any], path: Path) -> None:
    """Horizontal bars: each way's cgroup and RLIMIT_AS floor, the import floor marked."""
    if not plot_support.usable(path):
        return
    import matplotlib  # type: ignore[import-not-found, unused-ignore]  # the optional plot extra

    matplotlib.use("Agg")
    from matplotlib import pyplot

    ways = list(doc.get("ways", {}))
    figure, panes = pyplot.subplots(1, 2, figsize=(11, 0.5 * len(ways) + 1.6), sharey=True)
    for pane, (key, title) in zip(panes, (("cgroup_floor", "cgroup v1 floor"), ("as_floor", "RLIMIT_AS floor"))):
        values = [_floor_mib(doc["ways"][w].get(key)) for w in ways]
        colours = ["tab:green" if doc["ways"][w].get("sdkboot") else "tab:grey" for w in ways]
        pane.barh(range(len(ways)), [v or 0 for v in values], color=colours)
        for row, value in enumerate(values):
            pane.text((value or 0) * 1.02, row, "–" if value is None else f"{value:.0f}", va="center", fontsize=8)
        reference = _floor_mib(doc["ways"].get("import", {}).get(key))
        if reference:
            pane.axvline(reference, color="tab:red", linestyle="--", linewidth=1, label="import alone")
            pane.legend(loc="lower right", fontsize=8)
        pane.set_xscale("log")
        pane.set_title(title)
        pane.set_xlabel("smallest limit that succeeded twice (MiB, log)")
    panes[0].set_yticks(range(len(ways)), ways)
    panes[0].invert_yaxis()
    requirement = doc.get("wheelhouse", {}).get("requirement")
    figure.suptitle(f"Floors of each way to bootstrap {requirement} ({doc.get('date')})")
    figure.savefig(path, dpi=110, bbox_inches="tight")
    pyplot.close(figure)


def _floor_mib(entry: Any) -> float | None:
    if isinstance(entry, dict) and isinstance(entry.get("floor_kib"), (int, float)):
        return float(entry["floor_kib"]) / 1024
    return None
