"""Command-line options shared by the scenario-driven commands (sweep, floor, validate)."""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from repro import UsageError, limits, wheelhouse
from repro.scenarios import CHILD, DEFAULT_PYTHON, SCENARIOS, TREE, Context


def size_arg(text: str) -> int:
    """argparse type for sizes: KiB, or a one-line error."""
    try:
        return limits.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_context_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every scenario-driven command shares."""
    parser.add_argument(
        "--python", default=DEFAULT_PYTHON, help=f"interpreter that runs the step (default {DEFAULT_PYTHON})"
    )
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=None,
        help="wheel dir (default $SDKBOOT_WHEELHOUSE or ~/.cache/sdkboot/wheelhouse)",
    )
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds per run before its process group is killed (default 90)"
    )


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """Which limit, and the range searched (defaults per kind: see limits.KINDS)."""
    parser.add_argument(
        "--limit",
        default="as",
        choices=sorted(limits.KINDS),
        help="as (default): setrlimit(RLIMIT_AS) before exec; cgroup: a memory "
        "cgroup the process is placed in before exec",
    )
    parser.add_argument("--lo", type=size_arg, help="lowest limit (e.g. 2m, 5000k)")
    parser.add_argument("--hi", type=size_arg, help="highest limit (e.g. 160m)")
    parser.add_argument("--resolution", type=size_arg, help="stop bisecting at this gap")


def add_mode_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the limit sits, for the scenarios that run sdkboot (sdkboot, hook)."""
    parser.add_argument(
        "--tree",
        action="store_true",
        help="whole-tree mode: sdkboot itself starts under the limit, as under a "
        "user's ulimit -v or a session cgroup (default: child-only, the "
        "limit on the build steps, sdkboot unlimited)",
    )
    parser.add_argument(
        "--no-preflight", action="store_true", help="pass --no-preflight to sdkboot, so that real floors are measured"
    )


def mode(args: argparse.Namespace, names: list[str]) -> str:
    """CHILD or TREE; --tree on a scenario that does not run sdkboot is a usage error."""
    if not args.tree:
        return CHILD
    lacking = [name for name in names if TREE not in SCENARIOS[name].modes]
    if lacking:
        having = ", ".join(n for n, s in SCENARIOS.items() if TREE in s.modes)
        raise UsageError(
            f"--tree puts sdkboot itself under the limit: only {having} run sdkboot (not {', '.join(lacking)})"
        )
    return TREE


@dataclass(frozen=True)
class Span:
    kind: limits.Kind
    lo_kib: int
    hi_kib: int
    resolution_kib: int


def span(args: argparse.Namespace, lo_kib: int | None = None, hi_kib: int | None = None) -> Span:
    """The limit range from parsed options, filled from ``lo_kib``/``hi_kib``, then the kind's
    defaults."""
    kind = limits.KINDS[args.limit]
    result = Span(
        kind, args.lo or lo_kib or kind.lo_kib, args.hi or hi_kib or kind.hi_kib, args.resolution or kind.resolution_kib
    )
    if result.lo_kib >= result.hi_kib:
        raise UsageError(f"--lo {result.lo_kib}k must be below --hi {result.hi_kib}k")
    return result


def context(args: argparse.Namespace, scratch: Path, needs_wheelhouse: bool) -> Context:
    """A Context from parsed options, or UsageError naming the bad one."""
    python = shutil.which(args.python)
    if python is None:
        raise UsageError(f"--python {args.python}: no such interpreter")
    house = args.wheelhouse or wheelhouse.default_wheelhouse()
    if needs_wheelhouse and not wheelhouse.is_filled(house):
        raise UsageError(f"no wheelhouse at {house}: run `python -m repro wheelhouse` first")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    extra = ("--no-preflight",) if getattr(args, "no_preflight", False) else ()
    return Context(os.path.abspath(python), house.resolve(), scratch, args.timeout, extra)
