"""Strip chart of signature versus limit, one strip per scenario (matplotlib: extra "plot")."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from repro.signature import Range, Sweep


def usable(path: Path) -> bool:
    """Whether a chart can be drawn; if not, says why in one line on stderr."""
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    print(f"repro: not writing {path}: matplotlib is missing (pip install 'sdkboot[plot]')", file=sys.stderr)
    return False


def strip_chart(sweeps: list[Sweep], title: str, path: Path) -> None:
    import matplotlib  # type: ignore[import-not-found, unused-ignore]  # the optional plot extra

    matplotlib.use("Agg")  # no display needed
    from matplotlib import pyplot
    from matplotlib.patches import Patch  # type: ignore[import-not-found, unused-ignore]

    labels = sorted({r.signature.short() for s in sweeps for r in s.ranges})
    colours = {label: pyplot.get_cmap("tab20")(i % 20) for i, label in enumerate(labels)}
    figure, axes = pyplot.subplots(figsize=(10, 1.2 + 0.6 * len(sweeps)))
    for row, sweep in enumerate(sweeps):
        for found, (lo, hi) in zip(sweep.ranges, _extents(sweep.ranges)):
            axes.broken_barh([(lo, hi - lo)], (row - 0.4, 0.8), color=colours[found.signature.short()])
    _decorate(axes, [s.scenario for s in sweeps], title)
    handles = [Patch(color=colours[label], label=label) for label in labels]
    axes.legend(
        handles=handles, title="rc / stdout / stderr", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1)
    )
    figure.savefig(path, dpi=120, bbox_inches="tight")
    pyplot.close(figure)


def _extents(found: list[Range]) -> list[tuple[float, float]]:
    """Each range's strip in MiB; neighbours meet halfway between their closest samples."""
    edges = [(a.hi_kib + b.lo_kib) / 2048 for a, b in zip(found, found[1:])]
    starts = [found[0].lo_kib / 1024, *edges]
    ends = [*edges, found[-1].hi_kib / 1024 * 1.02]  # a one-sample end still shows
    return list(zip(starts, ends))


def _decorate(axes: Any, names: list[str], title: str) -> None:
    axes.set_xscale("log")
    axes.set_xlabel("limit (MiB)")
    axes.set_yticks(range(len(names)), names)
    axes.set_title(title)
