"""``sdkboot run``: ensure the env, then replace this process with the consumer on its interpreter.

This is how a host whose own Python is too old (a hook on 3.9) still runs its agent on a
3.12 found elsewhere: the env is built for ``run`` (any Python >= --min-python may build
it) and the consumer is exec'd on the env's interpreter. Everything after ``--`` (or from
``-m`` on) belongs to the consumer and is never parsed here.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..ensure import ensure
from ..launch import Consumer, argv_for, execute
from ..options import UsageError, add_build, build_spec
from ..progress import TerminalProgress
from ..result import EXIT_FAILED
from .ensure import describe

HELP = "make the package importable, then run a script or module on the env's interpreter"
EXAMPLE = "sdkboot run --min-python 3.10 -- agent.py --verbose"
USAGE = "sdkboot run [options] [REQUIREMENT ...] (-- SCRIPT | -m MODULE) [ARGS ...]"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.usage = USAGE
    add_build(parser, for_run_flag=False)
    parser.set_defaults(for_run=True, tail=None)
    parser.epilog = (
        "The env is built for run: when this Python is older than --min-python or cannot build,\n"
        "the newest Python found here that can (see `sdkboot pythons`) builds it. On the no-op path\n"
        "nothing is spawned before the exec; the exit code is the consumer's. If the env cannot be\n"
        "made ready, the exit code and the one-line message are ensure's.\n\n"
        f"example:\n  {EXAMPLE}\n  sdkboot run -m my_agent.main --port 8080"
    )


def consumer(tail: list[str] | None) -> Consumer:
    """What to run, from everything after ``--`` (or from ``-m`` on); UsageError when it is missing."""
    if not tail:
        raise UsageError(f"sdkboot run: missing what to run: -- SCRIPT or -m MODULE (usage: {USAGE})")
    module = tail[0] == "-m"
    if len(tail) < 2 or not tail[1]:
        raise UsageError(f"sdkboot run: {'-m needs a MODULE' if module else '-- needs a SCRIPT'} (usage: {USAGE})")
    if not module and not os.path.isfile(tail[1]):
        raise UsageError(f"sdkboot run: no such script: {tail[1]}")
    return Consumer(tail[1] if module else os.path.abspath(tail[1]), module, tail[2:])


def run(args: argparse.Namespace) -> int:
    spec = build_spec(args)  # sdkboot's own options are checked first, as every command does
    what = consumer(args.tail)
    progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else None
    try:
        result = ensure(spec, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if not result.ok:
        print(describe(result), file=sys.stderr)
        return result.exit_code
    if result.subprocesses:  # a build happened: say so once, on stderr (stdout is the consumer's)
        print(describe(result), file=sys.stderr)
    argv = argv_for(result, what)
    try:
        return execute(argv)
    except OSError as exc:
        print(f"sdkboot run: cannot start {argv[0]}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
