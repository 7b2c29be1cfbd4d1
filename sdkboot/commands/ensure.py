"""``sdkboot ensure``: build the environment if needed and say what happened."""

from __future__ import annotations

import argparse
import json
import sys

from .. import interrupts, streams
from ..ensure import ensure
from ..options import add_build, add_json, build_spec
from ..progress import TerminalProgress
from ..result import Result

HELP = "make the package importable: no-op when healthy, otherwise build a private env"
EXAMPLE = "sdkboot ensure --json --no-index --find-links ./wheels claude-agent-sdk"


def configure(parser: argparse.ArgumentParser) -> None:
    add_build(parser)
    add_json(parser, "one JSON object instead of a sentence")


def describe(result: Result) -> str:
    """The one human line: what happened and, on failure, what to do."""
    name = result.outcome.name.lower()
    if result.failure is None:
        return f"sdkboot: {name}: {result.message}"
    return f"sdkboot: {name} in phase {result.phase.label} ({result.err_kind}): {result.message}"


def _progress(args: argparse.Namespace) -> TerminalProgress | None:
    return None if args.json or not sys.stderr.isatty() else TerminalProgress(sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Exit 130 on SIGINT and 143 on SIGTERM, once every step is stopped and the event logged."""
    spec = build_spec(args, probe=True)
    progress = _progress(args)
    interrupts.install()
    try:
        result = ensure(spec, progress=progress)
    except interrupts.Interrupted as stop:
        interrupts.ignore()
        if progress is not None:
            progress.close()
        carried = stop.result
        streams.say(describe(carried) if isinstance(carried, Result) else f"sdkboot: interrupted by {stop.name}")
        return stop.exit_code
    finally:
        if progress is not None:
            progress.close()
    interrupts.ignore()
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        print(describe(result), file=sys.stdout if result.ok else sys.stderr)
    return result.exit_code
