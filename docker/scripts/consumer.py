"""The consumer side, run inside a repro container: activate the built env, then import.

Prints one JSON object: where ``activate()`` pointed, and whether the package was imported
from there (not from the image's own site-packages).
"""
from __future__ import annotations

import json
import os
import sys

import sdkboot


def under(path: str, root: object) -> bool:
    return isinstance(root, str) and os.path.realpath(path).startswith(os.path.realpath(root))


def main() -> int:
    result = sdkboot.activate(sdkboot.Spec(state_dir=sys.argv[1]))
    report: dict[str, object] = {"path": result.path, "reason": str(result.reason)}
    try:
        import claude_agent_sdk
    except ImportError as exc:
        report.update(imported=False, error=str(exc))
    else:
        origin = str(claude_agent_sdk.__file__)
        report.update(imported=True, origin=origin, from_env=under(origin, result.path))
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
