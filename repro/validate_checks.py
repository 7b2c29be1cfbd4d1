"""The canonical repros as data: each check's mode, needs, observer and expectation.

An expectation is exact where the limit sits away from every measured band edge, or a declared
set of outcomes the kernel may give (repro.verdict). ``NEEDS`` maps each capability a check
needs to the probe that raises Unsupported when this machine lacks it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from repro import Unsupported, cgroups, limits, scenarios, wheelhouse
from repro.scenarios import CHILD, TREE
from repro.validate_observe import (
    PIP_OOM_KIB,
    SDKBOOT_OOM_KIB,
    SEGV_KIB,
    Observed,
    cgroup_oom,
    fix_oom,
    fix_recovers,
    fix_segv,
    rlimit_segv,
    twice,
)
from repro.verdict import ABSENT, Case, Expect, exact, one_of

KIB_PER_MIB = 1024


@dataclass(frozen=True)
class Check:
    name: str
    summary: str
    mode: str  # CHILD or TREE: where the limit sits
    needs: tuple[str, ...]  # capabilities, see NEEDS
    expect: Expect
    observe: Callable[[scenarios.Context], Observed]


def _protocol(**more: object) -> dict[str, object]:
    """The host's contract, for the first session: async first, one metrics line, exit 0."""
    return {"exit": 0, "lines": 2, "first_async": True, "metrics_lines": 1, **more}


SETTLED = {"then_exit": 0, "then_lines": 2, "then_spawns": 0, "left_alive": 0}


def _starved(why: str) -> Expect:
    """Below every floor: the hook reports, spawns nothing next time, leaves nothing behind."""
    return one_of(
        why,
        Case(
            "low memory, then cooling",
            {**_protocol(outcome="SKIP_LOW_MEMORY"), **SETTLED, "then_outcome": "SKIP_COOLDOWN"},
        ),
        Case(
            "low memory twice", {**_protocol(outcome="SKIP_LOW_MEMORY"), **SETTLED, "then_outcome": "SKIP_LOW_MEMORY"}
        ),
    )


def _out_of_memory(why: str) -> Expect:
    """Preflight off: the build fails for memory, classified so, and the retry cools down."""
    return exact(
        {
            **_protocol(outcome="BUILD_FAILED", err="out_of_memory", has_pip=ABSENT, rc=ABSENT),
            **SETTLED,
            "then_outcome": "SKIP_COOLDOWN",
        },
        why,
    )


def _out_of_memory_or_abort(why: str) -> Expect:
    """Preflight off, the verification import starved: MemoryError (or C code failing without it),
    or a Rust extension that aborts on its failed allocation. The contract lets the signal win
    (signal_killed:-6, the memory text in the event log); both cool down, neither says pip is absent."""
    cooled = {**SETTLED, "then_outcome": "SKIP_COOLDOWN"}
    return one_of(
        why,
        Case(
            "out of memory",
            {**_protocol(outcome="BUILD_FAILED", err="out_of_memory", has_pip=ABSENT, rc=ABSENT), **cooled},
        ),
        Case(
            "aborted by a Rust allocation failure",
            {**_protocol(outcome="BUILD_FAILED", err="signal_killed", has_pip=ABSENT, rc=-6), **cooled},
        ),
    )


def _as(mib: int) -> Callable[[], limits.Limit]:
    return lambda: limits.rlimit_as(mib * KIB_PER_MIB)


def _cgroup(mib: int) -> Callable[[], limits.Limit]:
    return lambda: limits.Cgroup(mib * KIB_PER_MIB)


TREE_NEEDS = ("linux", "wheelhouse", "sdkboot")


CHECKS = (
    Check(
        "rlimit-segv",
        f"python -m venv under RLIMIT_AS {SEGV_KIB} KiB",
        CHILD,
        ("linux",),
        exact(
            {"rc": -11, "stdout": "E", "stderr": "E"},
            "5000 KiB: exec fails past the point of no return at any limit up to 7332 KiB",
        ),
        rlimit_segv,
    ),
    Check(
        "cgroup-oom",
        f"pip install --target under a {PIP_OOM_KIB // 1024} MiB cgroup",
        CHILD,
        ("cgroup", "wheelhouse"),
        exact(
            {"rc": -9, "stdout": "E", "stderr": "E", "oom_killed": True},
            "24 MiB: mid-band (10.25-40 MiB: pip killed before it prints); pip is alone in "
            "the cgroup, so it is the victim",
        ),
        cgroup_oom,
    ),
    Check(
        "fix-classifies-segv",
        "sdkboot ensure, build interpreter under RLIMIT_AS",
        CHILD,
        ("linux", "wheelhouse", "sdkboot"),
        exact(
            {
                "outcome": "BUILD_FAILED",
                "err_kind": "signal_killed:-11",
                "sdk_bootstrap_rc": -11,
                "cooldown_armed": True,
                "then": "SKIP_COOLDOWN",
                "then_subprocesses": 0,
            },
            "5000 KiB on the build interpreter, as rlimit-segv",
        ),
        fix_segv,
    ),
    Check(
        "fix-classifies-oom",
        f"sdkboot ensure, build steps in a {SDKBOOT_OOM_KIB // 1024} MiB cgroup",
        CHILD,
        ("cgroup", "wheelhouse", "sdkboot"),
        exact(
            {
                "outcome": "BUILD_FAILED",
                "err_kind": "signal_killed:-9",
                "sdk_bootstrap_rc": -9,
                "cooldown_armed": True,
                "then": "SKIP_COOLDOWN",
                "then_subprocesses": 0,
                "oom_killed": True,
            },
            "10 MiB: the first build step (venv) cannot start its work inside it; it is "
            "the only process in the cgroup, so the only victim",
        ),
        fix_oom,
    ),
    Check(
        "fix-recovers",
        "same state, limit lifted, cooldown (1 s) expired",
        CHILD,
        ("linux", "wheelhouse", "sdkboot"),
        exact(
            {
                "armed_by": "signal_killed:-11",
                "still_cooling": "SKIP_COOLDOWN",
                "after_cooldown": "BUILT",
                "again": "NOOP_VENV",
                "again_subprocesses": 0,
            },
            "a kill at 5000 KiB, then no limit; the 1 s window is past after a 1.5 s sleep",
        ),
        fix_recovers,
    ),
    Check(
        "tree-as-18MiB",
        "sdkboot hook itself under RLIMIT_AS 18 MiB, twice",
        TREE,
        TREE_NEEDS,
        _starved("18 MiB: below every strategy's floor, above the interpreter's start floor"),
        twice(_as(18)),
    ),
    Check(
        "tree-as-30MiB",
        "sdkboot hook itself under RLIMIT_AS 30 MiB, twice",
        TREE,
        TREE_NEEDS,
        _starved("30 MiB: below every strategy's floor"),
        twice(_as(30)),
    ),
    Check(
        "tree-cgroup-24MiB",
        "sdkboot hook placed in a 24 MiB cgroup before exec, twice",
        TREE,
        ("cgroup", *TREE_NEEDS),
        _starved("24 MiB: below every strategy's floor"),
        twice(_cgroup(24)),
    ),
    Check(
        "tree-as-40MiB-no-preflight",
        "sdkboot hook under RLIMIT_AS 40 MiB, --no-preflight",
        TREE,
        TREE_NEEDS,
        _out_of_memory_or_abort(
            "40 MiB: the lean build installs; its verification import"
            " starves (MemoryError, SystemError or a Rust abort, at random)"
        ),
        twice(_as(40), "--no-preflight"),
    ),
    Check(
        "tree-as-70MiB-no-preflight",
        "sdkboot hook under RLIMIT_AS 70 MiB, --no-preflight",
        TREE,
        TREE_NEEDS,
        _out_of_memory("70 MiB: the install fits, the verification import cannot map its shared objects"),
        twice(_as(70), "--no-preflight"),
    ),
)


def _need_linux(ctx: scenarios.Context) -> None:
    if sys.platform != "linux":
        raise Unsupported(f"not Linux ({sys.platform})")


def _need_wheelhouse(ctx: scenarios.Context) -> None:
    if not wheelhouse.is_filled(ctx.wheelhouse):
        raise Unsupported(f"no wheelhouse at {ctx.wheelhouse} (python -m repro wheelhouse)")


def _need_sdkboot(ctx: scenarios.Context) -> None:
    try:
        scenarios.sdkboot_root()
    except scenarios.ScenarioError as exc:
        raise Unsupported(str(exc)) from exc


NEEDS: dict[str, Callable[[scenarios.Context], object]] = {
    "linux": _need_linux,
    "cgroup": lambda ctx: cgroups.detect(),
    "wheelhouse": _need_wheelhouse,
    "sdkboot": _need_sdkboot,
}
