"""The ``target`` strategy's verification child, run for real: it must see what activate() sees."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import sdkboot
from sdkboot.codes import Outcome
from sdkboot.strategies.target import PRELUDE
from tests.test_ensure import IMPORT_NAME, Clock, FakeRunner, make_spec

RUNNER = importlib.import_module("sdkboot.runner")
# In the site-packages of whatever interpreter runs the tests (a tox venv too), never in a stage.
HOST_ONLY_MODULE = "pytest"


def test_the_target_check_never_sees_the_build_interpreters_site_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRunner()
    monkeypatch.setattr(RUNNER, "run", fake)
    built = sdkboot.ensure(make_spec(tmp_path, strategies=("target",)), clock=Clock())
    assert built.outcome is Outcome.BUILT_TARGET, built.message
    verify = fake.calls[fake.kinds.index("verify")]
    # The same child, asked for a module only the host's site-packages has: a target dir that
    # lacks it must fail, or a broken install would pass on what the host happens to have.
    argv = [
        HOST_ONLY_MODULE if word == IMPORT_NAME else word.replace(repr(IMPORT_NAME), repr(HOST_ONLY_MODULE))
        for word in verify
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stdout
    assert f"No module named '{HOST_ONLY_MODULE}'" in done.stderr


def test_the_target_dir_comes_before_the_standard_library_as_activate_puts_it(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    (stage / "colorsys").mkdir(parents=True)
    (stage / "colorsys" / "__init__.py").write_text("")
    code = PRELUDE.format(stage=str(stage)) + "import colorsys; print(colorsys.__file__)\n"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).parent == stage / "colorsys"
