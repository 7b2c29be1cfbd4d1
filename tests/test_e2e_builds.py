"""Envs that no spelling, second pin or deleted dependency can break: real interpreters, real pip.

Tiny wheels built by the tests, no network. ``pkg`` (module ``e2epkg``) comes in 1.0 and 2.0
and imports its dependency ``e2edep`` at import time, as the SDK imports pydantic.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.wheels import make_wheel

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="interpreter links and flock are POSIX"),
]

DIST, MODULE, DEP = "e2e-pkg", "e2epkg", "e2edep"
# A consumer that activates, then waits for a line on stdin before its next import (a live host).
LIVE = """\
import json, sys
import sdkboot
spec = sdkboot.Spec(requirements=[sys.argv[1]], import_name={module!r}, state_dir=sys.argv[2])
act = sdkboot.activate(spec)
import {module}
print(json.dumps([act.ok, {module}.VERSION]), flush=True)
sys.stdin.readline()
import {module}.late
print(json.dumps({module}.late.WHERE), flush=True)
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("wheels")
    make_wheel(where, DEP, {f"{DEP}/__init__.py": "", f"{DEP}/core.py": "READY = True\n"})
    for version in ("1.0", "2.0"):
        make_wheel(
            where,
            DIST,
            {
                f"{MODULE}/__init__.py": f"from {DEP}.core import READY\nVERSION = {version!r}\n",
                f"{MODULE}/late.py": "import os\nWHERE = os.path.dirname(__file__)\n",
            },
            version=version,
            requires=[DEP],
        )
    return where


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def cli(python: str, command: str, state: Path, wheels: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        python,
        "-m",
        "sdkboot",
        command,
        "--state-dir",
        str(state),
        "--import-name",
        MODULE,
        "--no-index",
        "--find-links",
        str(wheels),
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, env=env(), timeout=300, stdin=subprocess.DEVNULL)


def ensure(state: Path, wheels: Path, requirement: str = DIST, python: str = sys.executable) -> dict[str, Any]:
    done = cli(python, "ensure", state, wheels, "--json", requirement)
    assert done.stderr == "", done.stderr
    return dict(json.loads(done.stdout))


def status(state: Path, wheels: Path, *args: str, requirement: str = DIST) -> dict[str, Any]:
    done = cli(sys.executable, "status", state, wheels, "--json", *args, requirement)
    assert done.stderr == "", done.stderr
    info = dict(json.loads(done.stdout))
    assert done.returncode == (0 if info["healthy"] else 1)
    return info


def clean(state: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "sdkboot", "clean", "--state-dir", str(state), "--json", "--yes", *args],
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return dict(json.loads(done.stdout))


def imports(state: Path, requirement: str = DIST) -> str:
    """A fresh consumer: activate(), import the package; the version it got."""
    code = (
        f"import sys, sdkboot; a = sdkboot.activate(sdkboot.Spec(requirements=[{requirement!r}],"
        f" import_name={MODULE!r}, state_dir={str(state)!r})); assert a.ok, a.reason\n"
        f"import {MODULE}; print({MODULE}.VERSION)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def builds(state: Path) -> list[str]:
    return sorted(os.listdir(state / "builds"))


# -- one interpreter, any name ---------------------------------------------------------------------------


def test_python_and_python3_are_one_interpreter(tmp_path: Path, wheels: Path) -> None:
    """Built by the CLI as ``python3``; the in-process API in a host run as ``python`` is a no-op."""
    binary = os.path.realpath(sys.executable)
    links = tmp_path / "bin"
    links.mkdir()
    for name in ("python3", "python"):
        (links / name).symlink_to(binary)
    state = tmp_path / "state"
    built = ensure(state, wheels, python=str(links / "python3"))
    assert built["outcome"] == "BUILT", built

    code = (
        "import json, sdkboot\n"
        f"spec = sdkboot.Spec(requirements=[{DIST!r}], import_name={MODULE!r}, state_dir={str(state)!r},"
        f" no_index=True, find_links=[{str(wheels)!r}])\n"
        "r = sdkboot.ensure(spec)\n"
        "a = sdkboot.activate(spec)\n"
        f"import {MODULE}\n"
        "print(json.dumps([r.outcome.name, r.subprocesses, r.message, a.ok]))\n"
    )
    done = subprocess.run([str(links / "python"), "-c", code], capture_output=True, text=True, env=env(), timeout=60)
    assert done.returncode == 0, done.stderr
    outcome, spawned, message, activated = json.loads(done.stdout)
    assert (outcome, spawned, activated) == ("NOOP_VENV", 0, True), message

    again = ensure(state, wheels, python=str(links / "python"))  # and the CLI, the other way round
    assert (again["outcome"], again["subprocesses"]) == ("NOOP_VENV", 0), again
    assert len(builds(state)) == 1


# -- two pins, one state dir -----------------------------------------------------------------------------


def test_alternating_pins_build_once_each_and_keep_each_other(tmp_path: Path, wheels: Path) -> None:
    state = tmp_path / "state"
    one, two = f"{DIST}==1.0", f"{DIST}==2.0"
    outcomes = [ensure(state, wheels, pin)["outcome"] for pin in (one, two, one, two, one, two)]
    assert outcomes == ["BUILT", "BUILT", "NOOP_VENV", "NOOP_VENV", "NOOP_VENV", "NOOP_VENV"]
    assert len(builds(state)) == 2, "neither build deleted the other"
    assert (imports(state, one), imports(state, two)) == ("1.0", "2.0")
    assert status(state, wheels, requirement=one)["healthy"] and status(state, wheels, requirement=two)["healthy"]


# -- a live process keeps its env --------------------------------------------------------------------------


def test_a_live_activated_env_survives_clean_and_is_removed_once_it_exits(tmp_path: Path, wheels: Path) -> None:
    state = tmp_path / "state"
    pin = f"{DIST}==1.0"
    assert ensure(state, wheels, pin)["outcome"] == "BUILT"
    (env_name,) = builds(state)
    live = tmp_path / "live.py"
    live.write_text(LIVE.format(module=MODULE))
    host = subprocess.Popen(
        [sys.executable, str(live), pin, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        assert host.stdout is not None and host.stdin is not None
        assert json.loads(host.stdout.readline()) == [True, "1.0"]

        swept = clean(state, "--unused", "--older-than", "0")  # every build nobody holds now
        assert swept["in_use"] == [str(state / "builds" / env_name)] and swept["paths"] == [], swept
        wiped = clean(state)
        assert wiped["in_use"] == [str(state / "builds" / env_name)], wiped
        assert builds(state) == [env_name]

        host.stdin.write("\n")
        host.stdin.flush()
        late = json.loads(host.stdout.readline())  # an import after the sweeps, from the same env
        assert late.startswith(str(state / "builds" / env_name)), late
        assert host.wait(timeout=60) == 0, host.stderr.read() if host.stderr else ""
    finally:
        if host.poll() is None:
            host.kill()
            host.wait(timeout=60)

    assert clean(state)["in_use"] == [] and not (state / "builds" / env_name).exists()


# -- damage ------------------------------------------------------------------------------------------------


def test_a_deleted_dependency_is_noticed_rebuilt_and_imports_again(tmp_path: Path, wheels: Path) -> None:
    state = tmp_path / "state"
    built = ensure(state, wheels)
    assert built["outcome"] == "BUILT"
    site = Path(status(state, wheels)["site"])
    shutil.rmtree(site / DEP)  # what `rm -rf .../site-packages/pydantic` does

    said = status(state, wheels)
    assert not said["healthy"] and said["reason"].startswith(f"distribution {DEP} missing"), said
    rebuilt = ensure(state, wheels)
    assert rebuilt["outcome"] == "BUILT" and rebuilt["subprocesses"] > 0, rebuilt
    assert f"(rebuilt: distribution {DEP} missing" in rebuilt["message"], rebuilt["message"]
    assert imports(state) == "2.0"
    assert status(state, wheels)["healthy"]
    assert ensure(state, wheels)["outcome"] == "NOOP_VENV"


def test_status_deep_sees_damage_inside_a_package(tmp_path: Path, wheels: Path) -> None:
    state = tmp_path / "state"
    assert ensure(state, wheels)["outcome"] == "BUILT"
    healthy = status(state, wheels, "--deep")
    assert healthy["healthy"] and healthy["probe"]["ok"], healthy
    assert healthy["probe"]["detail"].startswith(f"import {MODULE} works (")

    (Path(healthy["site"]) / DEP / "core.py").unlink()  # inside a package: no top-level entry changes
    assert status(state, wheels)["healthy"], "the no-op check looks at top-level entries only"
    deep = status(state, wheels, "--deep")
    assert not deep["healthy"] and not deep["probe"]["ok"], deep
    assert deep["probe"]["detail"] == f"ModuleNotFoundError: No module named '{DEP}.core'", deep
    assert deep["reason"] == f"the import probe failed: {deep['probe']['detail']}"
