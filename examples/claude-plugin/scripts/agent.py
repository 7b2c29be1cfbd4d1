"""A consumer script of the plugin: sdkboot from the plugin's own ``sdkboot.pyz``, then the SDK.

Start it with the bundle, so it works whatever the host's ``python3`` is::

    python3 "${CLAUDE_PLUGIN_ROOT}/sdkboot.pyz" run -- "${CLAUDE_PLUGIN_ROOT}/scripts/agent.py"

The SessionStart hook builds with ``--for-run``: when the host's Python is too old for the SDK,
a newer one found on the machine builds the env, and ``run`` starts this script on it. Where
``python3`` is new enough, ``python3 scripts/agent.py`` works as well (activate() in process).
"""
from __future__ import annotations

import os
import sys

PLUGIN_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLE = os.path.join(PLUGIN_ROOT, "sdkboot.pyz")


def main() -> int:
    if not os.path.isfile(BUNDLE):
        print(f"{BUNDLE} is missing: build it with build_bundle.py", file=sys.stderr)
        return 1
    # The bundle is this plugin's sdkboot: nothing needs to be installed on the machine.
    sys.path.insert(0, BUNDLE)
    import sdkboot

    activation = sdkboot.activate(sdkboot.Spec())
    if not activation.ok:
        print(f"claude-agent-sdk is not ready yet: {activation.reason}", file=sys.stderr)
        return 1
    import claude_agent_sdk  # noqa: F401  (importable only after activate())

    print(f"sdkboot from {sdkboot.__file__}")
    print(f"claude_agent_sdk from {claude_agent_sdk.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
