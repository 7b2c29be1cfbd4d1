"""An old host recovered, on the real machine: pyenv's 3.9 runs the hook and ``sdkboot run``.

The package (``fakesdk``) declares ``Requires-Python >=3.10``, as claude-agent-sdk does. The
host's PATH holds no interpreter >= 3.10: a temp dir with links to ``sh``, ``env`` and the
3.9 as ``python3``, nothing else (``/bin`` links to ``/usr/bin`` here, so it cannot be on it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, require_capability
from tests.real_pythons import PYENV_ROOT, pyenv_python, require_debian_python
from tests.wheels import make_wheel

pytestmark = [pytest.mark.linux, pytest.mark.e2e]

PACKAGE = "fakesdk"
AGENT = """\
import json, sys
import fakesdk
print(json.dumps({"python": sys.executable, "version": list(sys.version_info[:3]), "value": fakesdk.VALUE}))
sys.exit(int(sys.argv[1]))
"""


class OldHost:
    """pyenv's 3.9 as the host, a bare PATH, a wheel that needs 3.10, and a private state dir."""

    def __init__(self, root: Path) -> None:
        self.python = pyenv_python("3.9")
        require_debian_python()
        self.root = root
        self.state = root / "state"
        self.wheels = root / "wheels"
        self.wheels.mkdir()
        make_wheel(self.wheels, PACKAGE, {f"{PACKAGE}/__init__.py": "VALUE = 7\n"}, requires_python=">=3.10")
        self.bare = root / "path"
        self.bare.mkdir()
        for name, target in (("sh", shutil.which("sh")), ("env", shutil.which("env")), ("python3", self.python)):
            assert target is not None
            (self.bare / name).symlink_to(os.path.realpath(target))
        self.agent = root / "agent.py"
        self.agent.write_text(AGENT)

    def environ(self, path: str | None = None, pyenv: bool = True) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "PYENV_ROOT"}
        env.update(PATH=path or str(self.bare), PYTHONPATH=str(REPO))
        if pyenv:
            env["PYENV_ROOT"] = str(PYENV_ROOT)
        return env

    def sdkboot(
        self, command: str, *args: str, env: dict[str, str] | None = None, min_python: str = "3.10"
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            str(self.python),
            "-m",
            "sdkboot",
            command,
            "--state-dir",
            str(self.state),
            "--min-python",
            min_python,
            "--import-name",
            PACKAGE,
            "--no-index",
            "--find-links",
            str(self.wheels),
            PACKAGE,
            *args,
        ]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=600, env=env or self.environ(), stdin=subprocess.DEVNULL
        )

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.state / "events.jsonl").read_text().splitlines()]


@pytest.fixture
def host(tmp_path: Path) -> OldHost:
    return OldHost(tmp_path)


def ran(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("where", ["pyenv", "distro"])
def test_run_finds_a_newer_python_off_path(host: OldHost, where: str) -> None:
    # pyenv's versions when PYENV_ROOT is known; else Debian's /usr/bin/python3.11 as a well-known place.
    env = host.environ(pyenv=where == "pyenv")
    first = host.sdkboot("run", "--", str(host.agent), "23", env=env)
    assert first.returncode == 23, first.stderr
    seen = ran(first)
    assert seen["value"] == 7 and tuple(seen["version"][:2]) >= (3, 10)
    built = host.events()[-1]
    assert built["outcome"] == "BUILT"
    builder = built["build_python"]
    assert builder.startswith(str(PYENV_ROOT)) if where == "pyenv" else builder.startswith("/usr/bin/python3")
    assert not builder.startswith(str(host.bare))

    second = host.sdkboot("run", "--", str(host.agent), "24", env=env)
    assert (second.returncode, second.stderr) == (24, "")
    noop = host.events()[-1]
    assert (noop["outcome"], noop["subprocesses"]) == ("NOOP_VENV", 0), "the second run spawns nothing"


def test_run_with_the_desktop_path(host: OldHost) -> None:
    env = host.environ(path="/usr/bin:/bin")  # Debian's 3.11 is the newest on this PATH
    done = host.sdkboot("run", "--", str(host.agent), "9", env=env)
    assert done.returncode == 9, done.stderr
    assert tuple(ran(done)["version"][:2]) >= (3, 10)
    again = host.sdkboot("run", "--", str(host.agent), "0", env=env)
    assert again.returncode == 0 and host.events()[-1]["subprocesses"] == 0


def test_requires_python_rejection_moves_to_the_next_interpreter(host: OldHost) -> None:
    # --min-python 3.9 lets the host qualify; pip then rejects it for the package's Requires-Python.
    done = host.sdkboot("run", "--", str(host.agent), "4", min_python="3.9")
    assert done.returncode == 4, done.stderr
    assert tuple(ran(done)["version"][:2]) >= (3, 10)
    built = host.events()[-1]
    assert built["outcome"] == "BUILT" and "pip rejected Python 3.9." in built["message"]


def test_in_process_the_old_host_keeps_hook_py_incompatible_and_learns_the_run_line(host: OldHost) -> None:
    done = host.sdkboot("hook")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[1])
    assert answer["metrics"]["sdk_bootstrap"] == 6
    assert answer["metrics"]["sdk_alt_py"] >= 310
    notice = answer["systemMessage"]
    assert "was found: start the consumer with `" in notice
    assert f"{host.python} -m sdkboot run --import-name {PACKAGE} --state-dir {host.state}" in notice


def test_in_process_requires_python_names_both_versions(host: OldHost) -> None:
    done = host.sdkboot("ensure", min_python="3.9")
    assert done.returncode == 1
    assert "(requires_python)" in done.stderr and ">=3.10" in done.stderr and f"{host.python} (3.9." in done.stderr


def test_hook_for_run_builds_with_the_discovered_interpreter(host: OldHost) -> None:
    done = host.sdkboot("hook", "--for-run")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout.splitlines()[1])["metrics"]
    assert metrics["sdk_bootstrap"] == 2 and metrics["sdk_alt_py"] >= 310
    again = host.sdkboot("run", "--", str(host.agent), "0")
    assert again.returncode == 0 and host.events()[-1]["outcome"] == "NOOP_VENV"


def test_ensure_with_another_x_y_is_not_reported_built_in_process(tmp_path: Path) -> None:
    """The issue's example: ``ensure --python 3.12`` on this (3.11) host said BUILT; status said healthy."""
    import sys

    other = pyenv_python("3.12" if sys.version_info[:2] != (3, 12) else "3.13")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [
        sys.executable,
        "-m",
        "sdkboot",
        "ensure",
        "--json",
        "--state-dir",
        str(tmp_path / "state"),
        "--python",
        str(other),
        "--import-name",
        PACKAGE,
        "--no-index",
        "--find-links",
        str(tmp_path),
        PACKAGE,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    data = json.loads(done.stdout)
    assert (done.returncode, data["outcome"]) == (3, "HOOK_PY_INCOMPATIBLE")
    assert "add --for-run" in data["message"] and data["subprocesses"] == 1, "one probe, no build"


@pytest.mark.parametrize("mode", [[], ["--for-run"]])
def test_doctor_agrees_with_ensure(host: OldHost, mode: list[str]) -> None:
    doctor = host.sdkboot("doctor", "--json", *mode)
    assert doctor.stderr == "", doctor.stderr
    said = json.loads(doctor.stdout)
    assert not host.state.exists(), "doctor creates nothing"
    ensure = host.sdkboot("ensure", "--json", *mode)
    did = json.loads(ensure.stdout)
    if said["ensure_would"]["outcome"] is None:  # it would build, with this interpreter
        assert doctor.returncode == 0 and ensure.returncode == 0
        assert did["outcome"] == "BUILT" and did["python"] == said["ensure_would"]["build_with"]
    else:
        assert (doctor.returncode, ensure.returncode) == (1, 3)
        assert did["outcome"] == said["ensure_would"]["outcome"] == "HOOK_PY_INCOMPATIBLE"
        assert did["message"] == said["ensure_would"]["message"]


@pytest.mark.parametrize("version", ["2.7", "3.6"])
def test_the_probe_answers_on_interpreters_sdkboot_does_not_support(version: str) -> None:
    # Discovery must be able to say "too old" about them, so the probe itself must run there.
    found = sorted((PYENV_ROOT / "versions").glob(f"{version}.*/bin/python{version}"))
    if not found:
        require_capability(f"no pyenv Python {version} under {PYENV_ROOT}/versions (the Linux test machine has it)")
    probe = REPO / "sdkboot" / "discovery" / "_probe.py"
    done = subprocess.run([str(found[-1]), str(probe)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert ".".join(map(str, answer["version"][:2])) == version
    assert answer["tags"]["interpreter"] == "cp" + version.replace(".", "")
