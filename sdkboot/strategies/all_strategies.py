"""Every build strategy, in the default order of trial: one line each.

A strategy later in the order runs only when an earlier one was unavailable here, or failed
with one of the failures it ``passes_on``. ``Spec.strategies`` picks a sub-order by label.
"""

from __future__ import annotations

from .base import BuildStrategy
from .lean import LeanStrategy
from .target import TargetStrategy
from .venv import VenvStrategy

STRATEGIES: dict[str, BuildStrategy] = {
    s.label: s
    for s in (
        LeanStrategy(),
        VenvStrategy(),
        TargetStrategy(),
    )
}
