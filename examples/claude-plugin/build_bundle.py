#!/usr/bin/env python3
"""Put ``sdkboot.pyz`` into this plugin: the one file its hook and its scripts run sdkboot from.

    python3 examples/claude-plugin/build_bundle.py              # from a sdkboot checkout
    python3 build_bundle.py --source ~/src/sdkboot -o sdkboot.pyz

The sdkboot it bundles is the first of: ``--source CHECKOUT``, the checkout this script sits
in, an sdkboot this Python can import. The output (default: beside this script) gets a
``.sha256`` file too. The bundle is deterministic, so the same sdkboot always gives the same
bytes: a plugin repository commits both files, and the hash is the pin (``sha256sum -c``).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))


def checkout_of(path: str) -> Optional[str]:
    """``path`` if it holds sdkboot's source (``sdkboot/bundle.py``), else None."""
    return path if os.path.isfile(os.path.join(path, "sdkboot", "bundle.py")) else None


def parse(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="build_bundle.py", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-o", "--output", default=os.path.join(HERE, "sdkboot.pyz"), metavar="PATH",
                        help="where to write the bundle (default: %(default)s)")
    parser.add_argument("--source", metavar="CHECKOUT", help="a sdkboot checkout to bundle from")
    return parser.parse_args(argv)


def main(argv: List[str]) -> int:
    args = parse(argv)
    source = checkout_of(args.source) if args.source else checkout_of(os.path.dirname(os.path.dirname(HERE)))
    if args.source and source is None:
        print(f"build_bundle.py: --source {args.source} is not a sdkboot checkout (no sdkboot/bundle.py)",
              file=sys.stderr)
        return 2
    env = dict(os.environ)
    if source is not None:
        # The checkout first: an older sdkboot installed in this Python must not be what ships.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    elif importlib.util.find_spec("sdkboot") is None:
        print("build_bundle.py: no sdkboot to bundle: pass --source CHECKOUT, or run"
              " `sdkboot bundle -o PLUGIN/sdkboot.pyz` where sdkboot is installed", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "sdkboot", "bundle", "-o", args.output], env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
