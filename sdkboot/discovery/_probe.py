"""The probe: run as a script by each candidate interpreter, it prints one JSON object.

It runs on interpreters sdkboot itself does not support (3.6, even 2.7), so it keeps to
syntax and modules every one of them has. It imports nothing it reports on: finding a
module is enough, and importing pip would cost more than the whole probe.
"""

import json
import platform
import sys
import sysconfig

MYPY = False
if MYPY:  # typing is not importable on every interpreter probed
    from typing import Any, Dict  # noqa: F401 (used in type comments)


def has(name):  # type: (str) -> bool
    try:
        import importlib.util

        return importlib.util.find_spec(name) is not None
    except Exception:  # any error while locating means the build cannot use it
        return False


def tags():  # type: () -> Dict[str, str]
    """What a wheel for this interpreter must be tagged with (interpreter, abi, platform)."""
    # sys.implementation is 3.3+; on 2.7 platform's name, lower-cased, is the same word.
    name = getattr(getattr(sys, "implementation", None), "name", platform.python_implementation().lower())
    impl = {"cpython": "cp", "pypy": "pp"}.get(name, name)
    nodot = "%d%d" % sys.version_info[:2]
    threaded = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return {
        "interpreter": impl + nodot,
        "abi": impl + nodot + threaded,
        "platform": plat,
        "soabi": sysconfig.get_config_var("SOABI") or "",
        "machine": platform.machine(),
    }


def answer():  # type: () -> Dict[str, Any]
    return {
        "executable": sys.executable,
        "version": list(sys.version_info[:3]),
        "implementation": platform.python_implementation(),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "venv": has("venv"),
        "ensurepip": has("ensurepip"),
        "pip": has("pip"),
        "tags": tags(),
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(answer(), sort_keys=True) + "\n")
