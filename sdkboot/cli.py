"""The ``sdkboot`` command line (argparse, standard library only)."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import List, NoReturn, Optional

from .options import UsageError
from .result import EXIT_FAILED, EXIT_USAGE
from .version import VERSION

COMMANDS = ("ensure", "status", "doctor", "clean", "report", "hook")
DESCRIPTION = """\
Make a heavy dependency importable from a private per-user environment,
surviving memory kills (signal-killed builds cool down instead of retrying every
session) and missing ensurepip (falls back to pip install --target).

exit codes: 0 ok/no-op, 1 build failed, 2 usage error, 3 skipped (cooldown, busy, old Python)
"""


class Parser(argparse.ArgumentParser):
    """Bad input is one line on stderr and exit 2, never a usage dump or a traceback."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _add_command(sub: "argparse._SubParsersAction[Parser]", name: str) -> None:
    module = importlib.import_module(f"sdkboot.commands.{name}")
    parser = sub.add_parser(
        name, help=module.HELP, description=module.HELP, epilog=f"example:\n  {module.EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.configure(parser)
    parser.set_defaults(run=module.run)


def build_parser() -> Parser:
    parser = Parser(prog="sdkboot", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="example:\n  sdkboot ensure && sdkboot status")
    parser.add_argument("--version", action="version", version=f"sdkboot {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        _add_command(sub, name)
    return parser


def _internal_error(exc: Exception) -> int:
    if os.environ.get("SDKBOOT_DEBUG"):
        traceback.print_exc()
    print(f"sdkboot: internal error: {type(exc).__name__}: {exc} (SDKBOOT_DEBUG=1 shows a traceback)",
          file=sys.stderr)
    return EXIT_FAILED


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise UsageError("sdkboot: missing COMMAND (see 'sdkboot --help')")
        return int(args.run(args))
    except UsageError as exc:
        text = str(exc)
        print(text if text.startswith("sdkboot") else f"sdkboot: {text}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sdkboot: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        return _internal_error(exc)
