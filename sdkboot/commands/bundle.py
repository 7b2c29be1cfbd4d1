"""``sdkboot bundle``: write ``sdkboot.pyz``, the single file a plugin or host tool ships."""

from __future__ import annotations

import argparse
import os
import sys

from ..options import UsageError, add_json
from ..result import EXIT_FAILED
from ..table import emit_json, human_bytes
from ..version import VERSION

HELP = "write sdkboot.pyz: this runtime as one deterministic file to ship inside a host tool"
EXAMPLE = "sdkboot bundle -o my-plugin/sdkboot.pyz   # then: python3 my-plugin/sdkboot.pyz hook"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        default="sdkboot.pyz",
        metavar="PATH",
        help="where to write it (default: ./sdkboot.pyz); missing parent dirs are made,"
        " and PATH.sha256 (for `sha256sum -c`) is written beside it; the output line"
        " is the sha256, the path, the size",
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    from .. import bundle

    path = os.path.abspath(os.path.expanduser(args.output))
    if os.path.isdir(path):
        raise UsageError(
            f"sdkboot bundle: -o {args.output} is a directory; name the file, e.g."
            f" {os.path.join(args.output, bundle.NAME)}"
        )
    try:
        digest, size = bundle.write(path)
    except OSError as exc:
        print(f"sdkboot bundle: cannot write {exc.filename or path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        emit_json({"path": path, "sha256": digest, "size": size, "version": VERSION, "sha256_file": path + ".sha256"})
    else:
        # The sha256sum line: `sdkboot bundle | cut -d' ' -f1` is the hash (PATH.sha256 holds it too).
        print(f"{digest}  {path}  ({human_bytes(size)}, sdkboot {VERSION})")
    return 0
