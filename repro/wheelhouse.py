"""The wheelhouse: the package's wheel closure, downloaded once, installed offline many times."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from repro import limits

REQUIREMENT = "claude-agent-sdk"
DOWNLOAD_TIMEOUT = 1800.0


class WheelhouseError(RuntimeError):
    """pip could not download the closure."""


def default_wheelhouse() -> Path:
    configured = os.environ.get("SDKBOOT_WHEELHOUSE")
    return Path(configured) if configured else Path.home() / ".cache" / "sdkboot" / "wheelhouse"


def is_filled(directory: Path, requirement: str = REQUIREMENT) -> bool:
    """Whether the requirement's own wheel is there (its dependencies come with it)."""
    stem = requirement.replace("-", "_").lower()
    return any(p.name.lower().startswith(stem + "-") for p in directory.glob("*.whl"))


def fill(directory: Path, python: str = sys.executable, requirement: str = REQUIREMENT) -> list[Path]:
    """``python -m pip download -d DIR requirement``; the wheels now there, or WheelhouseError.

    Uses the host's pip configuration on purpose: that is where the index is set.
    """
    directory.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", "pip", "download", "--disable-pip-version-check", "-d", str(directory), requirement]
    run = limits.run(argv, timeout=DOWNLOAD_TIMEOUT)
    if run.rc != 0:
        tail = (run.stderr.strip().splitlines() or [run.error or "no output"])[-1]
        raise WheelhouseError(f"pip download into {directory} failed (rc {run.rc}): {tail}")
    return sorted(directory.glob("*.whl"))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("wheelhouse", help="download the closure with pip download")
    parser.add_argument(
        "--dir", type=Path, default=None, help="target (default $SDKBOOT_WHEELHOUSE or ~/.cache/sdkboot/wheelhouse)"
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter whose pip downloads (its tags pick the wheels)"
    )
    parser.add_argument("--refresh", action="store_true", help="download even if the closure is there already")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    directory: Path = args.dir or default_wheelhouse()
    if is_filled(directory) and not args.refresh:
        # A filled cache needs no index: CI and offline machines start from here.
        print(f"{directory}: already filled ({len(list(directory.glob('*.whl')))} wheels)")
        return 0
    try:
        wheels = fill(directory, args.python)
    except WheelhouseError as exc:
        print(f"repro wheelhouse: {exc}", file=sys.stderr)
        return 1
    print(f"{directory}: {len(wheels)} wheels")
    return 0
