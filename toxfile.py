"""tox plugin (tox 4 loads this file by itself): the py39 env finds Python 3.9 the way CI does.

pyenv's ``python3.9`` shim is on PATH but refuses to run unless 3.9 is selected, so tox alone
would skip the env. ``.ci/find_python.py`` (shared with ``.ci/run``) finds a 3.9 that runs;
tox.ini reads it as ``{env:SDKBOOT_PY39}``. When there is none, the env fails and says why
(``skip_missing_interpreters = false``): a py39 that did not run never looks like a pass.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from types import ModuleType

from tox.config.cli.parser import ToxParser
from tox.plugin import impl

OLDEST = "3.9"
VARIABLE = "SDKBOOT_PY39"


def _finder() -> ModuleType:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".ci", "find_python.py")
    spec = importlib.util.spec_from_file_location("sdkboot_find_python", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@impl
def tox_add_option(parser: ToxParser) -> None:  # the first hook: before tox.ini is read
    if os.environ.get(VARIABLE):
        return
    found, looked = _finder().find(OLDEST)
    if found:
        os.environ[VARIABLE] = found
        return
    logging.warning("py39 cannot run: no Python %s here (looked at: %s); install one (e.g. `pyenv install %s`),"
                    " or run the other envs alone: `tox -e lint,unit,e2e,repro`", OLDEST, ", ".join(looked), OLDEST)
