"""The memory preflight: before anything is spawned, can any strategy's build fit the limits?

A build that cannot fit fails anyway, seconds later, after spawning children that die of
MemoryError or the OOM killer. The preflight reads the limits (RLIMIT_AS soft; each cgroup
level's limit less what the rest of the tree holds for good) and compares them with the
floors the benchmark measured (``sdkboot.floors``). It runs only when a build is due: the
no-op path never gets here. Off with ``Spec(preflight=False)`` / ``--no-preflight``, which
benchmarks and the repro harness use to measure the real floors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import floors, memlimit
from .floors import Floor
from .spec import Spec

MIB = 1024 * 1024
# (strategy label, the floor in MiB that does not fit)
Misses = list[tuple[str, int]]


@dataclass(frozen=True)
class Seen:
    """The limits in force, as the preflight read them."""

    address_space: int | None  # RLIMIT_AS soft, bytes
    rooms: Sequence[memlimit.Room]

    @property
    def cgroup_free(self) -> int | None:
        """What a build may use under the tightest cgroup level (bytes), or None when none limits."""
        return min((room.free for room in self.rooms), default=None)

    @property
    def limit_mib(self) -> int | None:
        """The tightest limit itself, in MiB (metric ``sdk_mem_limit_mib``); None when nothing limits."""
        limits = [room.limit for room in self.rooms]
        limits += [self.address_space] if self.address_space is not None else []
        return min(limits) // MIB if limits else None

    def describe(self) -> tuple[str, ...]:
        """Each limit in words, for the event log."""
        found = [f"RLIMIT_AS {self.address_space // MIB} MiB"] if self.address_space is not None else []
        found += [
            f"{room.source} {room.limit // MIB} MiB, {room.held // MIB} MiB held by others" for room in self.rooms
        ]
        return tuple(found)


def seen(root: str = "/") -> Seen:
    limit = memlimit.rlimit_as()
    return Seen(limit.limit if limit else None, memlimit.cgroup_rooms(root))


def _miss(found: Seen, floor: Floor) -> int | None:
    """The floor of ``floor``'s strategy that does not fit, in whole MiB; None when it fits."""
    address = floor.rlimit_as_mib
    if found.address_space is not None and address and found.address_space < address * MIB:
        return math.ceil(address)
    free, cgroup = found.cgroup_free, floor.cgroup_mib
    if free is not None and cgroup and free < cgroup * MIB:
        return math.ceil(cgroup)
    return None


def misses(found: Seen, labels: Iterable[str], measured: dict[str, Floor] | None = None) -> Misses | None:
    """Why no strategy in ``labels`` fits, or None when one may: it fits, or was never measured
    (no floor is no evidence). ``measured``: the floors by label (default: the floors file's)."""
    by_label = measured or {}
    result: Misses = []
    for label in labels:
        floor = by_label.get(label)
        miss = None if floor is None else _miss(found, floor)
        if miss is None:
            return None
        result.append((label, miss))
    return result or None


def check(spec: Spec, labels: Iterable[str], root: str = "/") -> tuple[Seen, Misses | None]:
    """The limits seen, and the misses when no strategy fits. Reads a few small files."""
    found = seen(root)
    if found.address_space is None and not found.rooms:
        return found, None  # nothing limits memory: not even the floors file is read
    return found, misses(found, labels, floors.for_requirements(spec.requirements))
