"""How to start this copy of sdkboot again: the exact ``sdkboot run`` line for a Spec.

A host too old for the package cannot import it, but it can still start the consumer
through ``sdkboot run``; the message that says so must give a line that works as pasted.
"""

from __future__ import annotations

import os
import shlex
import site
import sys
from typing import Optional

from .consumer import is_host
from .spec import (
    DEFAULT_IMPORT_NAME,
    DEFAULT_MIN_PYTHON,
    DEFAULT_REQUIREMENTS,
    DEFAULT_STEP_TIMEOUT,
    Spec,
    default_state_dir,
)

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _importable_dirs() -> list[str]:
    dirs = list(getattr(site, "getsitepackages", lambda: [])())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [os.path.realpath(d) for d in dirs]


def launcher() -> list[str]:
    """``python sdkboot.pyz`` from a zipapp, else ``python -m sdkboot`` (with PYTHONPATH when vendored)."""
    container = os.path.dirname(_PACKAGE_DIR)
    if os.path.isfile(container):
        return [sys.executable, container]
    prefix = [] if os.path.realpath(container) in _importable_dirs() or os.name == "nt" else [f"PYTHONPATH={container}"]
    return [*prefix, sys.executable, "-m", "sdkboot"]


Pair = tuple[str, Optional[str]]


def option_pairs(spec: Spec) -> list[Pair]:
    """The build options that rebuild ``spec``, as (flag, value; None for a bare flag), defaults left out."""
    pairs: list[Pair] = []
    if tuple(spec.min_python) != DEFAULT_MIN_PYTHON:
        pairs.append(("--min-python", "%d.%d" % tuple(spec.min_python)))
    pairs += location_pairs(spec)
    if not is_host(spec.python):
        pairs.append(("--python", spec.python))
    if spec.index_url:
        pairs.append(("--index-url", spec.index_url))
    pairs += [("--extra-index-url", str(url)) for url in spec.extra_index_urls]
    pairs += [("--find-links", str(link)) for link in spec.find_links]
    if spec.no_index:
        pairs.append(("--no-index", None))
    if spec.step_timeout != DEFAULT_STEP_TIMEOUT:
        pairs.append(("--timeout", f"{spec.step_timeout:g}"))
    pairs += [("--strategy", str(name)) for name in spec.strategies]
    return pairs


def location_pairs(spec: Spec) -> list[Pair]:
    """The options every subcommand takes (which env): for ``clean``, ``status``, ``report``."""
    pairs: list[Pair] = []
    if spec.import_name != DEFAULT_IMPORT_NAME:
        pairs.append(("--import-name", spec.import_name))
    if spec.root != default_state_dir(spec.import_name):
        pairs.append(("--state-dir", spec.root))
    return pairs


def words(pairs: list[Pair]) -> list[str]:
    return [word for flag, value in pairs for word in ((flag,) if value is None else (flag, value))]


def requirement_args(spec: Spec) -> list[str]:
    return [] if tuple(spec.requirements) == DEFAULT_REQUIREMENTS else list(spec.requirements)


def spec_options(spec: Spec) -> list[str]:
    """The command-line options that rebuild ``spec`` (defaults left out)."""
    return words(option_pairs(spec)) + requirement_args(spec)


def _runs_sdkboot(argv0: str) -> bool:
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", "") or ""
    where = os.path.abspath(argv0) if argv0 else ""
    return name.split(".")[0] == "sdkboot" or where.startswith(_PACKAGE_DIR) or os.path.basename(argv0) == "sdkboot"


def consumer() -> list[str]:
    """What this process runs (``-m NAME`` or ``-- SCRIPT``), or ``-- SCRIPT`` to fill in."""
    argv0 = sys.argv[0] if sys.argv else ""
    more = ["ARGS..."] if len(sys.argv) > 1 else []
    if _runs_sdkboot(argv0):
        return ["--", "SCRIPT"]
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name:
        return ["-m", name.rsplit(".__main__", 1)[0], *more]
    if argv0 and os.path.isfile(argv0):
        return ["--", os.path.abspath(argv0), *more]
    return ["--", "SCRIPT"]


def quote(argv: list[str]) -> str:
    if os.name == "nt":
        import subprocess

        return subprocess.list2cmdline(argv)
    words = [shlex.quote(a) for a in argv]
    if argv and argv[0].startswith("PYTHONPATH="):  # an assignment: only its value is quoted
        words[0] = "PYTHONPATH=" + shlex.quote(argv[0][len("PYTHONPATH=") :])
    return " ".join(words)


def run_line(spec: Spec) -> str:
    """The exact ``sdkboot run`` line that starts this consumer on a discovered interpreter."""
    return quote([*launcher(), "run", *spec_options(spec), *consumer()])
