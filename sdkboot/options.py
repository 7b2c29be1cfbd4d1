"""Command-line options shared by the subcommands, and their validation.

Validation happens here, before anything runs, so bad input gets one clear line
and exit 2 instead of a half-done build or a traceback.
"""

from __future__ import annotations

import argparse
import keyword
import os
import sys
from typing import Any

from . import requirements
from .index import env_bool
from .safefs import can_write
from .spec import (
    DEFAULT_COOLDOWN,
    DEFAULT_IMPORT_NAME,
    DEFAULT_MIN_PYTHON,
    DEFAULT_REQUIREMENTS,
    DEFAULT_STEP_TIMEOUT,
    Spec,
)


class UsageError(Exception):
    """Bad input: reported as one line on stderr with exit code 2."""


def _number_of_seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None


def _seconds(text: str) -> float:
    value = _number_of_seconds(text)
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be zero or more seconds: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _number_of_seconds(text)
    if not value > 0:  # negative and NaN too: "zero or more" would invite the 0 refused here
        raise argparse.ArgumentTypeError(f"must be more than zero seconds: {text!r}")
    return value


def _version(text: str) -> tuple[int, int]:
    parts = text.split(".")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"expected MAJOR.MINOR, e.g. 3.10: {text!r}")
    return int(parts[0]), int(parts[1])


def _import_name(text: str) -> str:
    """A dotted module name: it also names the state dir, so nothing else may pass (``..``, ``/``)."""
    parts = text.split(".")
    if not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise argparse.ArgumentTypeError(f"not a module name: {text!r} (expected e.g. claude_agent_sdk or a.b)")
    return text


def add_json(parser: argparse.ArgumentParser, what: str = "one JSON object") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what}, for machines")


def add_location(parser: argparse.ArgumentParser) -> None:
    """Options that say which environment: used by every subcommand."""
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where envs and state live (default: $SDKBOOT_STATE_DIR, else"
        " $CLAUDE_PLUGIN_DATA/sdkboot/NAME, else the per-user state dir)",
    )
    parser.add_argument(
        "--import-name",
        type=_import_name,
        default=DEFAULT_IMPORT_NAME,
        metavar="NAME",
        help=f"module whose importability is the goal (default: {DEFAULT_IMPORT_NAME})",
    )


def min_python_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-python",
        type=_version,
        default=DEFAULT_MIN_PYTHON,
        metavar="X.Y",
        help="oldest Python the package supports (default: %d.%d)" % DEFAULT_MIN_PYTHON,
    )


def add_build(parser: argparse.ArgumentParser, for_run_flag: bool = True) -> None:
    """Options that say how to build: ensure and hook (``run`` implies --for-run)."""
    add_location(parser)
    if for_run_flag:
        parser.add_argument(
            "--for-run",
            action="store_true",
            help="build for `sdkboot run`: any Python >= --min-python found here may build"
            " (the host first), even when this one is too old or cannot build",
        )
    parser.add_argument(
        "requirements",
        nargs="*",
        metavar="REQUIREMENT",
        help=f"what to install (default: {' '.join(DEFAULT_REQUIREMENTS)})",
    )
    parser.add_argument("--python", metavar="INTERP", help="interpreter that builds the env (default: this one)")
    parser.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="DIR_OR_URL",
        help="extra place to look for wheels (repeatable; adds to $PIP_FIND_LINKS)",
    )
    parser.add_argument("--no-index", action="store_true", help="do not use a package index (also: PIP_NO_INDEX=1)")
    parser.add_argument(
        "--index-url", metavar="URL", help="package index to use instead of the default (overrides $PIP_INDEX_URL)"
    )
    parser.add_argument(
        "--extra-index-url",
        action="append",
        default=[],
        metavar="URL",
        help="another index to look in (repeatable; adds to $PIP_EXTRA_INDEX_URL)",
    )
    parser.add_argument(
        "--cooldown",
        type=_seconds,
        default=DEFAULT_COOLDOWN,
        metavar="SECONDS",
        help="after a signal-killed build, do not retry for this long (default: 86400)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_STEP_TIMEOUT,
        metavar="SECONDS",
        help="time limit per build step; the step's whole process group is killed past it",
    )
    parser.add_argument(
        "--no-preflight",
        action="store_false",
        dest="preflight",
        help="build even when the memory limit in force is below every strategy's measured"
        " floor (the preflight would skip with SKIP_LOW_MEMORY, spawning nothing)",
    )
    min_python_option(parser)
    parser.add_argument(
        "--strategy",
        action="append",
        default=[],
        metavar="NAME",
        dest="strategies",
        help="build strategy to try, in order (repeatable; default: every one, in order:"
        f" {', '.join(_strategy_names())})",
    )


def _strategy_names() -> tuple[str, ...]:
    from .strategies.all_strategies import STRATEGIES

    return tuple(STRATEGIES)


def _strategies(given: list[str]) -> tuple[str, ...]:
    known = _strategy_names()
    for name in given:
        if name not in known:
            raise UsageError(f"--strategy {name}: unknown; choose from {', '.join(known)}")
    return tuple(given)


def check_state_dir(path: str | None, must_write: bool) -> None:
    """An explicit --state-dir must have a directory parent and, to build, be writable."""
    if path is None:
        return
    full = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        what = "is not a directory" if os.path.exists(parent) else "does not exist"
        raise UsageError(f"--state-dir {path}: its parent {parent} {what}")
    if os.path.exists(full) and not os.path.isdir(full):
        raise UsageError(f"--state-dir {path}: exists and is not a directory")
    if must_write and not can_write(full if os.path.exists(full) else parent):
        raise UsageError(f"--state-dir {path}: not writable by this user")


def _not_a_python(name: str, path: str) -> str | None:
    """Probe ``path`` once (discovery's probe); why it cannot build, or None (also when a limit, not
    the program, made the probe fail: the build will classify that)."""
    from .discovery import probe

    found, _ = probe(path)
    if found.info is not None:
        return None
    error = found.error or "no answer"
    if "in time" in error or "memory" in error.lower() or "can't start new thread" in error:
        return None
    return (
        f"--python {name}: {path} is not a Python interpreter sdkboot can use ({error}):"
        " pass a python3 executable, e.g. `--python /usr/bin/python3`"
    )


def _interpreter(name: str | None, probe: bool) -> str | None:
    if name is None:
        return None
    import shutil  # here: on 3.9 shutil loads bz2 and threading, which the no-op never needs

    found = name if os.sep in name else shutil.which(name)
    if not found or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise UsageError(f"--python {name}: no such executable interpreter")
    path = os.path.abspath(found)
    reason = _not_a_python(name, path) if probe and os.path.realpath(path) != os.path.realpath(sys.executable) else None
    if reason:
        raise UsageError(reason)
    return path


def _requirements(given: list[str]) -> tuple[str, ...]:
    for requirement in given:
        reason = requirements.problem(requirement)
        if reason:
            raise UsageError(reason)
    return tuple(given) or DEFAULT_REQUIREMENTS


def check_index_environ() -> None:
    """pip refuses a PIP_NO_INDEX it cannot read; so do we, before anything runs."""
    value = os.environ.get("PIP_NO_INDEX")
    if value is not None and env_bool(value) is None:
        raise UsageError(f"PIP_NO_INDEX={value!r}: expected 1 or 0 (or true/false, yes/no, on/off)")


def location_spec(args: argparse.Namespace, must_write: bool = False) -> Spec:
    check_state_dir(args.state_dir, must_write)
    return Spec(import_name=args.import_name, state_dir=args.state_dir)


def build_spec(args: argparse.Namespace, must_write: bool = False, probe: bool = False) -> Spec:
    """The Spec for ensure/hook/status, or UsageError naming the first bad value.

    Writability is not checked here by default: a healthy env in a read-only state dir is a
    no-op, and a build that cannot write says so itself (phase pre, the errno, the advice).

    ``probe``: run ``--python`` once to check it is a Python (ensure; the hook must not spawn before
    its first line, and a build explains a non-Python anyway).
    """
    check_state_dir(args.state_dir, must_write)
    check_index_environ()
    python = _interpreter(args.python, probe)
    extra: dict[str, Any] = {"python": python} if python else {}
    return Spec(
        requirements=_requirements(args.requirements),
        import_name=args.import_name,
        min_python=args.min_python,
        state_dir=args.state_dir,
        index_url=args.index_url,
        find_links=tuple(args.find_links),
        no_index=args.no_index,
        step_timeout=args.timeout,
        cooldown_seconds=args.cooldown,
        strategies=_strategies(getattr(args, "strategies", [])),
        extra_index_urls=tuple(args.extra_index_url),
        for_run=bool(getattr(args, "for_run", False)),
        preflight=getattr(args, "preflight", True),
        **extra,
    )
