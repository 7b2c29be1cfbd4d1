"""The ``sdkboot`` command line (argparse, standard library only)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from collections.abc import Mapping
from typing import Callable, NamedTuple, NoReturn, Protocol

from . import streams
from .options import UsageError
from .result import EXIT_FAILED, EXIT_USAGE

DESCRIPTION = """\
Make a heavy dependency importable from a private per-user environment,
surviving memory kills (signal-killed builds cool down instead of retrying every
session) and missing ensurepip (falls back to pip install --target).

exit codes: 0 ok/no-op, 1 build failed, 2 usage error, 3 skipped (cooldown, busy, old Python),
141 output cut short (the reader of stdout went away, e.g. `| head`)
"""


class Command(Protocol):
    """What each module under sdkboot/commands/ provides; mypy checks every module against it."""

    HELP: str
    EXAMPLE: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class Registration(NamedTuple):
    # Loaded only when its command runs (or for --help): every command's module costs memory
    # that a hook under the user's limit may not have.
    load: Callable[[], Command]
    # The command line ends with a consumer's, from the first ``--`` or ``-m`` on (``run``).
    tail: bool = False


def _ensure() -> Command:
    from .commands import ensure

    return ensure


def _status() -> Command:
    from .commands import status

    return status


def _doctor() -> Command:
    from .commands import doctor

    return doctor


def _clean() -> Command:
    from .commands import clean

    return clean


def _report() -> Command:
    from .commands import report

    return report


def _hook() -> Command:
    from .commands import hook

    return hook


def _pythons() -> Command:
    from .commands import pythons

    return pythons


def _run_command() -> Command:
    from .commands import run

    return run


def _bundle() -> Command:
    from .commands import bundle

    return bundle


# The registry, in --help order. Tests walk it, so a new command is checked against every rule
# by adding its module and one line here.
COMMANDS: Mapping[str, Registration] = {
    "ensure": Registration(_ensure),
    "status": Registration(_status),
    "doctor": Registration(_doctor),
    "clean": Registration(_clean),
    "report": Registration(_report),
    "hook": Registration(_hook),
    "pythons": Registration(_pythons),
    "run": Registration(_run_command, tail=True),
    "bundle": Registration(_bundle),
}


class Parser(argparse.ArgumentParser):
    """Bad input is one line on stderr and exit 2, never a usage dump or a traceback."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


class Root(Parser):
    """The top-level parser; it knows its subcommands' parsers to send each error to the right help."""

    commands: dict[str, Parser]


def _add_command(sub: argparse._SubParsersAction[Parser], name: str) -> Parser:
    module = COMMANDS[name].load()
    parser = sub.add_parser(
        name,
        help=module.HELP,
        description=module.HELP,
        epilog=f"example:\n  {module.EXAMPLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.configure(parser)
    parser.set_defaults(run=module.run)
    return parser


class _Version(argparse.Action):
    """``--version``: computed when asked for, since a bundle's sha256 means reading the bundle."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=str(kwargs.get("help")))

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from .bundle import version_text

        print(version_text())
        parser.exit()


def build_parser(only: str | None = None) -> Root:
    """The whole command line, or (``only``) the one subcommand about to run: loading every
    command's module costs memory a hook under the user's limit may not have."""
    parser = Root(
        prog="sdkboot",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  sdkboot ensure && sdkboot status",
    )
    parser.add_argument("--version", action=_Version, help="print the version (and, from a bundle, its sha256)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parser.commands = {name: _add_command(sub, name) for name in COMMANDS if only in (None, name)}
    return parser


def parse(parser: Root, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; an unknown flag after a subcommand points at that subcommand's help."""
    args, extra = parser.parse_known_args(argv)
    target = parser.commands.get(args.command) if args.command else None
    if extra:
        (target or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if target is None:
        raise UsageError("sdkboot: missing COMMAND (see 'sdkboot --help')")
    return args


def split_tail(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """For a command registered with ``tail`` (``run``): sdkboot's own words, and the consumer's
    command line from the first ``--`` or ``-m`` on, which argparse must never see."""
    if not argv or argv[0] not in COMMANDS or not COMMANDS[argv[0]].tail:
        return argv, None
    cut = next((i for i, word in enumerate(argv) if word in ("--", "-m")), None)
    return (argv, None) if cut is None else (argv[:cut], argv[cut:])


def _internal_error(exc: Exception) -> int:
    if os.environ.get("SDKBOOT_DEBUG"):
        traceback.print_exc()
    streams.say(f"sdkboot: internal error: {type(exc).__name__}: {exc} (SDKBOOT_DEBUG=1 shows a traceback)")
    return EXIT_FAILED


def _prog(argv: list[str]) -> str:
    return f"sdkboot {argv[0]}" if argv and argv[0] in COMMANDS else "sdkboot"


def _rerun(argv: list[str]) -> str:
    return shlex.join(["sdkboot", *argv])


def _run(argv: list[str], closed_fds: frozenset[int]) -> int:
    if streams.stdout_closed(closed_fds):
        raise UsageError(
            f"{_prog(argv)}: stdout is closed, so the result has nowhere to go:"
            f" run `{_rerun(argv)}` with stdout open (e.g. `> FILE`)"
        )
    own, tail = split_tail(argv)
    try:
        args = parse(build_parser(only=own[0] if own and own[0] in COMMANDS else None), own)
        if tail is not None:
            args.tail = tail
    except SystemExit as done:  # --help and --version print, then exit: their output is flushed too
        streams.flush_stdout()
        return int(done.code or 0)
    code = int(args.run(args))
    streams.flush_stdout()  # a reader that left is noticed here, not as a traceback at exit
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    closed_fds = streams.reserve_closed()
    try:
        return _run(argv, closed_fds)
    except UsageError as exc:
        text = str(exc)
        streams.say(text if text.startswith("sdkboot") else f"sdkboot: {text}")
        return EXIT_USAGE
    except BrokenPipeError:
        streams.discard_stdout()
        streams.say(
            f"{_prog(argv)}: output cut short: the reader closed stdout (e.g. `| head`);"
            f" `{_rerun(argv)} > FILE` keeps all of it"
        )
        return streams.EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        streams.say("sdkboot: interrupted")
        return 130
    except MemoryError:  # the user's memory limit covers sdkboot too (ulimit -v, a cgroup)
        streams.say(
            f"{_prog(argv)}: out of memory: the memory limit in force (ulimit -v or a cgroup) leaves"
            " too little to run it; raise the limit"
        )
        return EXIT_FAILED
    except Exception as exc:  # the last line of defence: one line, never a traceback
        return _internal_error(exc)
