"""The project as a newcomer meets it in a fresh clone: the quick start, the test command CI runs,
and the py39 env that must find Python 3.9 the way CI does (or fail saying so)."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()
CI = (REPO / ".ci" / "run").read_text()
TOX = (REPO / "tox.ini").read_text()


def marked_commands(marker: str) -> list[str]:
    """The sh blocks right after ``<!-- marker... -->`` in the README."""
    blocks = re.findall(rf"<!-- {re.escape(marker)}[^>]*-->\s*```sh\n(.*?)```", README, re.S)
    return [block.strip() for block in blocks]


def quick_start() -> str:
    return README[README.index("## Quick start") : README.index("\n## ", README.index("## Quick start") + 1)]


def test_no_tracked_file_stands_where_the_quick_start_makes_a_venv() -> None:
    # A file named .venv makes `python3 -m venv .venv` fail in every fresh clone.
    assert not (REPO / ".venv").is_file()
    assert "venv_redirect = false" in TOX, "tox 4.60+ would write a .venv redirect file otherwise"


def test_the_readme_has_exactly_one_main_job_command_and_one_test_command() -> None:
    [main_job] = marked_commands("the main job")
    [tests] = marked_commands("the test command")
    assert "\n" not in main_job and "\n" not in tests, "one command each"
    assert quick_start().count("```sh") == 2, "no other command block in the quick start"
    # Works where the system Python is externally managed (Debian 12, Ubuntu 24.04): a venv, never
    # pip into the system interpreter; and the README says what to install first.
    for command in (main_job, tests):
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install ")
    assert "sudo apt install python3-venv" in quick_start() and "pipx" in quick_start()
    assert main_job.endswith(".venv/bin/sdkboot ensure") and tests.endswith(".venv/bin/tox")


def test_ci_runs_the_readmes_test_command() -> None:
    [tests] = marked_commands("the test command")
    assert tests in CI.splitlines(), ".ci/run must call exactly the README's test command"


def test_ci_installs_nothing_into_the_shared_interpreter() -> None:
    """The machine's python3 is shared: tests that start `python -m sdkboot` must see their own
    checkout, not one that CI installed editable into it."""
    code = [line.strip() for line in CI.splitlines() if line.strip() and not line.strip().startswith("#")]
    for line in code:
        # Only a venv's own pip (.venv/bin/pip) may install: never python3 -m pip, pip or pip3.
        assert not re.search(r"(^|[\s;&|(])(python3?(\.\d+)? -m pip|pip3?) install", line), line


def test_tox_fails_rather_than_skip_a_missing_interpreter() -> None:
    assert "skip_missing_interpreters = false" in TOX
    assert "basepython = {env:SDKBOOT_PY39:python3.9}" in TOX
    toxfile = (REPO / "toxfile.py").read_text()
    assert "find_python.py" in toxfile and "SDKBOOT_PY39" in toxfile, "tox and CI share one finder"
    assert "find_python.py 3.9" in CI and "SDKBOOT_PY39" in CI


# --- the shared finder --------------------------------------------------------------------------


def finder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("find_python", REPO / ".ci" / "find_python.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def program(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """A PATH whose python3.9 is a pyenv shim that refuses, and a pyenv root holding a real-looking 3.9."""
    program(tmp_path / "shims" / "python3.9", "echo 'pyenv: python3.9: command not found' >&2; exit 127\n")
    return {
        "PATH": str(tmp_path / "shims"),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "ASDF_DATA_DIR": str(tmp_path / "asdf"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv"),
    }


@pytest.mark.skipif(os.name == "nt", reason="POSIX sh programs")
def test_the_finder_skips_a_refusing_shim_and_finds_pyenvs_3_9(tmp_path: Path, machine: dict[str, str]) -> None:
    older = program(tmp_path / "pyenv" / "versions" / "3.9.1" / "bin" / "python3.9", "echo 'Python 3.9.1'\n")
    newer = program(tmp_path / "pyenv" / "versions" / "3.9.18" / "bin" / "python3.9", "echo 'Python 3.9.18'\n")
    found, looked = finder().find("3.9", machine)
    assert found == str(newer) and looked[0] == str(tmp_path / "shims" / "python3.9")
    assert str(older) not in looked, "the newest patch release is tried first"


@pytest.mark.skipif(os.name == "nt", reason="POSIX sh programs")
def test_the_finder_says_where_it_looked_when_there_is_none(tmp_path: Path, machine: dict[str, str]) -> None:
    program(tmp_path / "pyenv" / "versions" / "3.9.18" / "bin" / "python3.9", "echo 'Python 3.10.1'\n")
    found, looked = finder().find("3.9", machine)
    assert found is None
    assert str(tmp_path / "shims" / "python3.9") in looked
    assert str(tmp_path / "pyenv" / "versions" / "3.9.18" / "bin" / "python3.9") in looked
