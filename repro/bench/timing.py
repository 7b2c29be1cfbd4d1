"""Per-call wall times and their median and p99: the one timing home of repro.bench and benchmarks/.

Standard library only, so the benchmark scripts can import it without the harness's extras.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable


def time_calls(fn: Callable[[], object], calls: int) -> list[float]:
    """Per-call wall times in milliseconds."""
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def median_p99(samples: list[float]) -> tuple[float, float]:
    """(median, p99) in ms."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def fresh(fn: Callable[[], object]) -> Callable[[], object]:
    """Run ``fn`` on a pristine sys.path, so every call does the full work, not the idempotent exit."""
    saved = list(sys.path)

    def call() -> object:
        try:
            return fn()
        finally:
            sys.path[:] = saved

    return call
