"""``sdkboot bundle``: one deterministic file that runs every subcommand, imports, and refuses old Pythons."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sdkboot import bundle, cli
from tests.conftest import REPO, require_capability
from tests.fake_envs import child_env, fake_env, spec_for
from tests.real_pythons import PYENV_ROOT, pyenv_python

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths in the comparisons")


def make(path: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """``python -m sdkboot bundle -o PATH`` in a fresh process, from this checkout."""
    return subprocess.run(
        [python, "-m", "sdkboot", "bundle", "-o", str(path)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "sdkboot.pyz"
    done = make(path)
    assert done.returncode == 0, done.stderr
    return path


def bare_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH: whatever runs must come from the bundle itself."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(extra)
    return env


def run_pyz(pyz: Path, *args: str, python: str = sys.executable, **kw: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(pyz), *args], capture_output=True, text=True, env=bare_env(**kw), timeout=120, cwd=str(pyz.parent)
    )


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdkboot", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        cwd=str(cwd),
    )


# -- what it holds, and that it is the same every time -------------------------------------------------


def test_two_builds_are_byte_identical_and_print_their_hash(tmp_path: Path, pyz: Path) -> None:
    again = make(tmp_path / "deeper" / "missing" / "dirs" / "sdkboot.pyz")
    assert again.returncode == 0, again.stderr
    second = tmp_path / "deeper" / "missing" / "dirs" / "sdkboot.pyz"
    assert second.read_bytes() == pyz.read_bytes()
    digest = hashlib.sha256(second.read_bytes()).hexdigest()
    assert again.stdout == f"{digest}  {second}  ({second.stat().st_size / 1024:.1f} KiB, sdkboot {cli_version()})\n"
    assert again.stderr == ""
    assert (second.parent / "sdkboot.pyz.sha256").read_text() == f"{digest}  sdkboot.pyz\n"


def test_a_bundle_rebuilds_itself_byte_for_byte(tmp_path: Path, pyz: Path) -> None:
    done = run_pyz(pyz, "bundle", "-o", str(tmp_path / "again.pyz"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again.pyz").read_bytes() == pyz.read_bytes()


def test_another_python_bundles_the_same_bytes(tmp_path: Path, pyz: Path) -> None:
    other = pyenv_python("3.12" if sys.version_info[:2] != (3, 12) else "3.11")
    done = make(tmp_path / "other.pyz", python=str(other))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "other.pyz").read_bytes() == pyz.read_bytes()


def test_it_holds_the_runtime_only_in_a_fixed_order(pyz: Path) -> None:
    with zipfile.ZipFile(pyz) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names[0] == "__main__.py" and names[1:] == sorted(names[1:])
    assert all(name.startswith("sdkboot/") and name.endswith((".py", ".json")) for name in names[1:])
    expected = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "sdkboot").rglob("*.py") if "__pycache__" not in p.parts
    )
    assert names[1:] == sorted([*expected, "sdkboot/floors.json"]), (
        "every runtime source and the floors data, nothing else (no repro, no bytecode)"
    )
    assert {(i.date_time, i.compress_type, i.external_attr >> 16) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), zipfile.ZIP_STORED, 0o100644)
    }
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")


def test_version_prints_the_version_and_the_bundles_hash(pyz: Path) -> None:
    done = run_pyz(pyz, "--version")
    digest = hashlib.sha256(pyz.read_bytes()).hexdigest()
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"sdkboot {cli_version()} (bundle {pyz}, sha256 {digest})\n"


def cli_version() -> str:
    from sdkboot.version import VERSION

    return VERSION


# -- it behaves exactly like the installed command ------------------------------------------------------


@posix_only
@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_subcommand_help_is_the_same(pyz: Path, name: str) -> None:
    from_bundle = run_pyz(pyz, name, "--help")
    from_module = run_module(name, "--help", cwd=pyz.parent)
    assert (from_bundle.returncode, from_bundle.stdout, from_bundle.stderr) == (
        from_module.returncode,
        from_module.stdout,
        from_module.stderr,
    )


def _same(pyz: Path, tmp_path: Path, args: list[str]) -> tuple[int, str, str]:
    from_bundle = run_pyz(pyz, *args)
    from_module = run_module(*args, cwd=pyz.parent)
    assert (from_bundle.returncode, from_bundle.stdout, from_bundle.stderr) == (
        from_module.returncode,
        from_module.stdout,
        from_module.stderr,
    ), args
    return from_bundle.returncode, from_bundle.stdout, from_bundle.stderr


@posix_only
def test_every_subcommand_runs_the_same(pyz: Path, tmp_path: Path) -> None:
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root))
    state = ["--state-dir", str(root)]
    xy = "%d.%d" % sys.version_info[:2]
    consumer = tmp_path / "consumer.py"
    consumer.write_text("print('consumer ran')\n")
    cases: dict[str, list[str]] = {
        "ensure": ["ensure", "--json", "--min-python", xy, *state, "--import-name", "json"],
        "status": ["status", "--json", *state, "--import-name", "fake_mod", "fake-dist"],
        "doctor": ["doctor", "--json", *state],
        "clean": ["clean", "--dry-run", *state],
        "report": ["report", "--json", *state],
        "hook": ["hook", "--min-python", xy, *state, "--import-name", "json"],
        "pythons": ["pythons", "--json"],
        "run": ["run", "--min-python", xy, *state, "--import-name", "json", "--", str(consumer)],
        "bundle": ["bundle", "--json", "-o", str(tmp_path / "b" / "sdkboot.pyz")],
    }
    assert set(cases) == set(cli.COMMANDS), "a new subcommand needs a case here"
    for name, args in cases.items():
        if name not in ("clean", "run"):
            # Their output carries timings, sizes or the path sdkboot runs from: compare the shape.
            from_bundle, from_module = run_pyz(pyz, *args), run_module(*args, cwd=pyz.parent)
            assert (from_bundle.returncode, from_bundle.stderr) == (from_module.returncode, from_module.stderr), name
            assert _shape(from_bundle.stdout) == _shape(from_module.stdout), name
        else:
            _same(pyz, tmp_path, args)
    assert run_pyz(pyz, *cases["run"]).stdout == "consumer ran\n"


def _shape(text: str) -> object:
    """The keys of each JSON line (values vary from run to run), or the line count of plain text."""
    try:
        return [sorted(json.loads(line)) for line in text.splitlines()]
    except ValueError:
        return len(text.splitlines())


def test_a_usage_error_is_the_same_one_line(pyz: Path) -> None:
    done = run_pyz(pyz, "ensure", "--timeout", "soon")
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert done.stderr == run_module("ensure", "--timeout", "soon", cwd=pyz.parent).stderr


# -- consumers import it -----------------------------------------------------------------------------------


@posix_only
def test_consumers_import_sdkboot_from_the_bundle(pyz: Path, tmp_path: Path) -> None:
    root = tmp_path / "state"
    record = fake_env(root, spec=spec_for(root))
    code = (
        "import sys, json\n"
        f"sys.path.insert(0, {str(pyz)!r})\n"
        "import sdkboot\n"
        "spec = sdkboot.Spec(import_name='fake_mod', requirements=['fake-dist'],"
        f" state_dir={str(root)!r})\n"
        "act = sdkboot.activate(spec)\n"
        "import fake_mod\n"
        "print(json.dumps([sdkboot.__file__, act.ok, fake_mod.VALUE]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=bare_env(), cwd=str(tmp_path), timeout=60
    )
    assert done.returncode == 0, done.stderr
    where, ok, value = json.loads(done.stdout)
    assert where == str(pyz / "sdkboot" / "__init__.py") and ok and value == 1
    assert record.site  # the fake env it activated


# -- old and mistaken ways to run it -------------------------------------------------------------------------


@pytest.mark.parametrize("xy", ["3.6", "3.7", "3.8"])
def test_an_old_python_gets_one_line_and_exit_2(pyz: Path, xy: str) -> None:
    old = pyenv_python(xy)
    for args in (["hook"], ["ensure"], ["--version"]):
        done = run_pyz(pyz, *args, python=str(old))
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr == f"sdkboot: needs Python 3.9 or newer; {old} is Python {_version_of(old)}\n"
    imported = subprocess.run(
        [str(old), "-c", f"import sys; sys.path.insert(0, {str(pyz)!r}); import sdkboot"],
        capture_output=True,
        text=True,
        env=bare_env(),
        timeout=60,
    )
    assert imported.returncode == 1 and "SyntaxError" not in imported.stderr
    assert imported.stderr.splitlines()[-1] == (
        f"ImportError: sdkboot needs Python 3.9 or newer; this is Python {_version_of(old)}"
    )


def _version_of(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True, timeout=60
    ).stdout.strip()


def test_python_2_gets_the_same_line(pyz: Path) -> None:
    found = sorted((PYENV_ROOT / "versions").glob("2.7*/bin/python"))
    if not found:
        require_capability(f"no pyenv Python 2.7 under {PYENV_ROOT}/versions (the Linux test machine has it)")
    old = found[-1]
    done = run_pyz(pyz, "hook", python=str(old))
    assert done.returncode == 2 and done.stderr.startswith("sdkboot: needs Python 3.9 or newer;")


def test_running_the_package_dir_by_its_path_works(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "sdkboot"), "--version"],
        capture_output=True,
        text=True,
        env=bare_env(),
        cwd=str(tmp_path),
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"sdkboot {cli_version()}\n", "")


def test_a_plain_zipapp_of_the_package_says_what_to_do(tmp_path: Path) -> None:
    naive = tmp_path / "naive.pyz"
    subprocess.run([sys.executable, "-m", "zipapp", str(REPO / "sdkboot"), "-o", str(naive)], check=True, timeout=60)
    done = run_pyz(naive, "hook")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "sdkboot bundle -o sdkboot.pyz" in done.stderr
    assert "ImportError" not in done.stderr


def test_a_directory_as_output_is_a_usage_error(tmp_path: Path) -> None:
    done = make(tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"sdkboot bundle: -o {tmp_path} is a directory; name the file, e.g. {tmp_path / 'sdkboot.pyz'}\n"
    )


def test_an_unwritable_output_is_one_line(read_only_dir: Path) -> None:
    done = make(read_only_dir / "sdkboot.pyz")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("sdkboot bundle: cannot write ") and done.stderr.count("\n") == 1
    assert list(read_only_dir.iterdir()) == []


def test_the_running_archive_is_none_from_a_checkout() -> None:
    assert bundle.running_archive() is None


def test_the_bundle_carries_the_floors_the_preflight_reads(pyz: Path) -> None:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from sdkboot import floors;"
        " assert floors.__file__.startswith(sys.argv[1]), floors.__file__;"
        " print(json.dumps(floors.load(), sort_keys=True))"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code, str(pyz)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shipped = json.loads((REPO / "sdkboot" / "floors.json").read_text())
    assert json.loads(done.stdout) == shipped and shipped["workloads"]
