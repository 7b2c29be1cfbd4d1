"""``python -m repro COMMAND``: a dispatcher over command modules.

Each module in COMMAND_MODULES exposes ``register(subparsers) -> None``, which adds its
subcommand and sets ``handler`` (``(args) -> exit code``) as a parser default. A module that
cannot be imported (not written yet, or an optional dependency missing) still gets a command
named after its last dotted part, which explains why it is unavailable instead of vanishing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Callable, NoReturn

from repro import Unsupported, UsageError
from repro.scenarios import ScenarioError

COMMAND_MODULES = (
    "repro.sweep",
    "repro.floor",
    "repro.validate",
    "repro.wheelhouse",
    "repro.images",
    "repro.containers",
    "repro.bench",
    "repro.faults",
)

EXIT_USAGE = 2
EXIT_UNSUPPORTED = 3
EXIT_PIPE = 141  # the shell's 128 + SIGPIPE


class Parser(argparse.ArgumentParser):
    """argparse, but bad input is one line on stderr (exit 2), not usage plus a message."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _unavailable(name: str, reason: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        raise Unsupported(f"{name} is unavailable: {reason}")

    return handler


def _register(subparsers: argparse._SubParsersAction[Parser], module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        name = module_name.rsplit(".", 1)[-1]
        stub = subparsers.add_parser(name, help=f"(unavailable: {exc})")
        stub.set_defaults(handler=_unavailable(name, str(exc)))
        return
    module.register(subparsers)


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> Parser:
    parser = Parser(prog="python -m repro", description="Reproduce bootstrap failures under memory limits.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in modules:
        _register(subparsers, module_name)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so a terminated sweep still kills its child and removes cgroups


def main(argv: Sequence[str] | None = None, modules: Sequence[str] = COMMAND_MODULES) -> int:
    args = build_parser(modules).parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _dispatch(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        code = int(args.handler(args))
        # Flush here, not at exit: a reader that left must surface as BrokenPipeError below,
        # not as an "Exception ignored" message when short output is flushed at shutdown.
        sys.stdout.flush()
        return code
    except UsageError as exc:
        return _fail(EXIT_USAGE, f"error: {exc}")
    except Unsupported as exc:
        return _fail(EXIT_UNSUPPORTED, f"unsupported here: {exc.reason}")
    except ScenarioError as exc:
        return _fail(1, f"scenario setup failed: {exc}")
    except KeyboardInterrupt:
        return _fail(130, "interrupted")
    except BrokenPipeError:
        # The reader left (`| head`): quiet, and no second error when stdout is flushed at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE


def _fail(code: int, message: str) -> int:
    print(f"repro: {message}", file=sys.stderr)
    return code
