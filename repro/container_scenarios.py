"""Container scenarios as data: an image and its steps, each a command, limits and an expectation.

Every step runs in a new container with networking disabled; sdkboot's source, the wheelhouse
and the helper scripts are mounted read-only and a named volume holds the state dir, so a later
step sees what an earlier one left (repro.container_engine drives that).

Every step's expectation is exact or a declared set (repro.verdict): exact where the limit is
away from the measured band edges or the victim is pinned (the child's ``oom_score_adj``),
a set where the kernel's choice of victim decides. ``--repeat N`` counts what came.

A step's mode says where its limit sits: ``tree`` when the container's memory limit (or an
RLIMIT_AS set before the step's first exec) holds every process of it, sdkboot included;
``child`` when only the build interpreter (a wrapper) or the measured command is limited.
"""

from __future__ import annotations

from collections.abc import Sequence

from repro import UsageError
from repro.container_steps import (
    CONSUME,
    ENSURE,
    ENSURE_AS,
    NO_TRACEBACK,
    VENV,
    VENV_CHAIN,
    WARM,
    Scenario,
    Step,
    raw,
)
from repro.verdict import ABSENT, Case, Matches, exact, one_of

# Limits come from runs on this engine, away from band edges (near an edge a cold page cache
# makes runs thrash for minutes). The kernel kills the process with the highest OOM score; the
# runner raises its build children's oom_score_adj, so sdkboot (PID 1) survives a kill. With
# the default chain (lean first), its first step (pip's resolve) is killed from 36 to 60 MiB
# and the build succeeds from 72 MiB: oom-kill uses 44 MiB (docker/README.md).
SEGV_EXACT = "RLIMIT_AS 5000 KiB: exec fails past the point of no return (<= 7332 KiB always)"
SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "ensurepip-missing",
        "debian12-pip",
        "no python3-venv: pip --target fallback",
        (
            Step(
                "build",
                (*ENSURE, *VENV_CHAIN),
                exact(
                    {
                        **NO_TRACEBACK,
                        "exit": 0,
                        "outcome": "BUILT_TARGET",
                        "strategy": "target",
                        "event.fallback_reason": "venv_ensurepip_fail",
                    }
                ),
            ),
            Step("again", (*ENSURE, *VENV_CHAIN), exact({"exit": 0, "outcome": "NOOP_TARGET"})),
            Step("consume", CONSUME, exact({"imported": True, "from_env": True})),
        ),
    ),
    Scenario(
        "no-pip-at-all",
        "debian12-python",
        "neither ensurepip nor pip",
        (
            Step(
                "build",
                ENSURE,
                exact(
                    {
                        **NO_TRACEBACK,
                        "exit": 1,
                        "outcome": "BUILD_FAILED",
                        "err_kind": "venv_ensurepip_fail",
                        "metrics.sdk_has_pip": False,
                        "message": Matches(r"python3[\d.]*-venv python3-pip"),
                        "event.err_kind": "venv_ensurepip_fail",
                    }
                ),
            ),
        ),
    ),
    # --no-preflight: the preflight would refuse this limit before any spawn (the next scenario).
    Scenario(
        "oom-kill",
        "debian12-venv",
        "cgroup OOM kill of a build step, then cooldown",
        (
            WARM,
            Step(
                "build",
                (*ENSURE, "--no-preflight"),
                exact(
                    {
                        **NO_TRACEBACK,
                        "exit": 1,
                        "outcome": "BUILD_FAILED",
                        "err_kind": "signal_killed:-9",
                        "rc": -9,
                        "cooldown": True,
                        "oom_killed": True,
                    },
                    "44 MiB: mid-band (the first build step killed from 36 to 60 MiB, builds from 72); "
                    "the children carry oom_score_adj 1000, so sdkboot is never the victim",
                ),
                mem_mib=44,
            ),
            Step(
                "retry",
                ENSURE,
                exact(
                    {"exit": 3, "outcome": "SKIP_COOLDOWN", "subprocesses": 0}, "no limit; the cooldown file decides"
                ),
            ),
        ),
    ),
    Scenario(
        "low-memory",
        "debian12-venv",
        "the memory preflight refuses a cgroup limit below every floor",
        (
            Step(
                "build",
                ENSURE,
                exact(
                    {
                        **NO_TRACEBACK,
                        "exit": 3,
                        "outcome": "SKIP_LOW_MEMORY",
                        "subprocesses": 0,
                        "metrics.sdk_mem_limit_mib": 44,
                        "cooldown": True,
                        "oom_killed": False,
                    },
                    "44 MiB: below the lightest strategy's floor in sdkboot/floors.json; nothing is spawned",
                ),
                mem_mib=44,
            ),
            Step(
                "retry",
                ENSURE,
                exact(
                    {"exit": 3, "outcome": "SKIP_COOLDOWN", "subprocesses": 0},
                    "no limit; the preflight armed the cooldown",
                ),
            ),
        ),
    ),
    Scenario(
        "rlimit-segv",
        "debian12-venv",
        "build interpreter under RLIMIT_AS 5000 KB",
        (
            Step(
                "build",
                ENSURE_AS,
                exact(
                    {
                        **NO_TRACEBACK,
                        "exit": 1,
                        "outcome": "BUILD_FAILED",
                        "err_kind": "signal_killed:-11",
                        "rc": -11,
                        "cooldown": True,
                    },
                    SEGV_EXACT,
                ),
                wrap_as_kib=5000,
            ),
            # The cooldown is per interpreter, so the retry must name the same one.
            Step(
                "retry",
                ENSURE_AS,
                exact(
                    {
                        "exit": 3,
                        "outcome": "SKIP_COOLDOWN",
                        "subprocesses": 0,
                    },
                    "the cooldown file decides; nothing is spawned",
                ),
                wrap_as_kib=5000,
            ),
        ),
    ),
    Scenario(
        "healthy",
        "debian12-venv",
        "ample memory: the default chain (lean first)",
        (
            Step(
                "build",
                ENSURE,
                exact(
                    {
                        **NO_TRACEBACK,
                        "exit": 0,
                        "outcome": "BUILT",
                        "strategy": "lean",
                    },
                    "1 GiB: far above every floor (the cgroup peak is ~500 MiB, mostly page cache)",
                ),
                mem_mib=1024,
            ),
            Step("again", ENSURE, exact({"exit": 0, "outcome": "NOOP_VENV"}, "no build"), mem_mib=1024),
            Step("consume", CONSUME, exact({"imported": True, "from_env": True}, "import only"), mem_mib=1024),
        ),
    ),
    Scenario(
        "healthy-venv",
        "debian12-venv",
        "ample memory: the venv strategy end to end",
        (
            Step(
                "build",
                (*ENSURE, "--strategy", "venv"),
                exact(
                    {
                        **NO_TRACEBACK,
                        "exit": 0,
                        "outcome": "BUILT",
                        "strategy": "venv",
                    },
                    "1 GiB: far above every floor",
                ),
                mem_mib=1024,
            ),
            Step(
                "again",
                (*ENSURE, "--strategy", "venv"),
                exact({"exit": 0, "outcome": "NOOP_VENV"}, "no build"),
                mem_mib=1024,
            ),
        ),
    ),
    # Under a Python parent of ~11 MiB, 8-18 MiB kills the parent (PID 1), not the venv,
    # unless the child's oom_score_adj is raised; at 24 MiB either the parent or venv's
    # ensurepip child dies: the kernel picks (docker/README.md has the counts of 20 runs).
    Scenario(
        "signature-raw",
        "debian12-venv",
        "bare `python3 -m venv` under each limit",
        (
            Step("unlimited", raw(VENV), exact({"signature": "0/E/E"})),
            Step(
                "mem-14MiB",
                raw(VENV),
                exact(
                    {
                        "exit": 137,
                        "signature": ABSENT,
                        "oom_killed": True,
                    },
                    "14 MiB: the parent (PID 1) is the largest process until venv grows past it",
                ),
                mem_mib=14,
            ),
            Step(
                "mem-14MiB-adj",
                raw(VENV, oom_adj=1000),
                exact(
                    {
                        "exit": 0,
                        "signature": "-9/E/E",
                        "oom_killed": True,
                    },
                    "victim pinned: the child's oom_score_adj 1000",
                ),
                mem_mib=14,
            ),
            Step(
                "mem-24MiB",
                raw(VENV),
                one_of(
                    "24 MiB: the parent (~11 MiB) and ensurepip are close in size; the kernel picks",
                    Case(
                        "ensurepip killed",
                        {
                            "exit": 0,
                            "signature": "1/E/N",
                            "stderr_tail": Matches("SIGKILL"),
                            "oom_killed": True,
                        },
                    ),
                    Case("PID 1 killed", {"exit": 137, "signature": ABSENT, "oom_killed": True}),
                ),
                mem_mib=24,
            ),
            # The raised score pins the victim to the child's tree, never PID 1; but venv and its
            # ensurepip child share it, and which of the two is larger when the limit is hit varies.
            Step(
                "mem-24MiB-adj",
                raw(VENV, oom_adj=1000),
                one_of(
                    "24 MiB, oom_score_adj 1000 on the child: the parent survives; venv and ensurepip "
                    "both carry the score and the kernel takes the larger at that instant",
                    Case(
                        "ensurepip killed",
                        {
                            "exit": 0,
                            "signature": "1/E/N",
                            "stderr_tail": Matches("SIGKILL"),
                            "oom_killed": True,
                        },
                    ),
                    Case("venv killed", {"exit": 0, "signature": "-9/E/E", "oom_killed": True}),
                ),
                mem_mib=24,
            ),
            Step(
                "mem-128MiB",
                raw(VENV),
                exact({"signature": "0/E/E"}, "128 MiB: 40 MiB above the 88 MiB success edge"),
                mem_mib=128,
            ),
            Step("as-5000KiB", raw(VENV, as_kib=5000), exact({"signature": "-11/E/E"}, SEGV_EXACT)),
            Step(
                "as-9000KiB",
                raw(VENV, as_kib=9000),
                exact(
                    {
                        "signature": "127/E/N",
                        "stderr_tail": Matches("error while loading shared libraries"),
                    },
                    "9000 KiB: mid-band of the loader's failure (7336-10460 KiB)",
                ),
            ),
            Step(
                "as-40MiB",
                raw(VENV, as_kib=40 * 1024),
                exact(
                    {
                        "signature": "1/E/N",
                        "stderr_tail": Matches("ensurepip"),
                    },
                    "40 MiB: mid-band of ensurepip's failure (16.8-62.6 MiB)",
                ),
            ),
        ),
    ),
)


def select(names: Sequence[str]) -> list[Scenario]:
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise UsageError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[name] for name in names] if names else list(SCENARIOS)
