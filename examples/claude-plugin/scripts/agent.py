"""A consumer script of the plugin: put the private env on sys.path, then import the SDK."""
from __future__ import annotations

import sys

import sdkboot


def main() -> int:
    activation = sdkboot.activate(sdkboot.Spec())
    if not activation.ok:
        print(f"claude-agent-sdk is not ready yet: {activation.reason}", file=sys.stderr)
        return 1
    import claude_agent_sdk  # noqa: F401  (importable only after activate())

    print(f"claude_agent_sdk from {claude_agent_sdk.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
