"""Plain-text output shared by the subcommands: aligned tables and key/value blocks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def pairs(items: Sequence[Sequence[Any]]) -> str:
    """``key: value`` lines with the values aligned."""
    width = max((len(str(key)) for key, _ in items), default=0)
    return "\n".join(f"{str(key) + ':':<{width + 1}} {value}" for key, value in items)


def emit_json(data: Any) -> None:
    print(json.dumps(data, sort_keys=True, indent=2))


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"
