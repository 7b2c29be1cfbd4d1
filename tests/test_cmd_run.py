"""``sdkboot run``: the command line split, the exec'd command, and real runs (exit codes pass through)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sdkboot.cli import main, split_tail
from sdkboot.codes import Outcome, Strategy
from sdkboot.launch import Consumer, argv_for
from sdkboot.result import Result
from tests.conftest import PROBE_DIST, PROBE_MODULE, REPO
from tests.fake_envs import child_env

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="exec and sh scripts")

# The consumer: imports the package, says where it runs, echoes stdin, exits with a chosen code.
SCRIPT = """\
import json, os, sys
import {module} as package
print(json.dumps({{"python": sys.executable, "version": list(sys.version_info[:3]), "argv": sys.argv,
                  "package": package.__file__, "stdin": sys.stdin.read(), "path0": sys.path[0],
                  "pythonpath": os.environ.get("PYTHONPATH")}}))
sys.exit(int(sys.argv[1]))
"""


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, own, tail",
    [
        (
            ["run", "--min-python", "3.10", "--", "s.py", "-m", "x"],
            ["run", "--min-python", "3.10"],
            ["--", "s.py", "-m", "x"],
        ),
        (
            ["run", "claude-agent-sdk", "-m", "agent", "--", "a"],
            ["run", "claude-agent-sdk"],
            ["-m", "agent", "--", "a"],
        ),
        (["run", "--help"], ["run", "--help"], None),
        (["ensure", "--", "x"], ["ensure", "--", "x"], None),  # only a command that takes a tail is split
        ([], [], None),
    ],
)
def test_split_tail(argv: list[str], own: list[str], tail: list[str] | None) -> None:
    assert split_tail(argv) == (own, tail)


@pytest.mark.parametrize(
    "tail, needle",
    [
        ([], "missing what to run: -- SCRIPT or -m MODULE"),
        (["--"], "-- needs a SCRIPT"),
        (["-m"], "-m needs a MODULE"),
        (["--", "no-such-script.py"], "no such script: no-such-script.py"),
    ],
)
def test_bad_consumer_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tail: list[str], needle: str
) -> None:
    assert main(["run", "--state-dir", str(tmp_path / "state"), *tail]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and err.startswith("sdkboot run: ")
    assert not (tmp_path / "state").exists(), "nothing was built"


def test_argv_for_each_kind_of_env(tmp_path: Path) -> None:
    script = Consumer("/w/agent.py", False, ("--port", "1"))
    module = Consumer("agent.main", True, ("x",))
    system = Result(Outcome.NOOP_SYSTEM, python=sys.executable)
    assert argv_for(system, script) == [sys.executable, "/w/agent.py", "--port", "1"]
    venv = Result(Outcome.NOOP_VENV, strategy=Strategy.VENV, env="/s/builds/venv-1", python="/py312")
    bin_python = os.path.join(
        "/s/builds/venv-1",
        "Scripts" if sys.platform == "win32" else "bin",
        "python.exe" if sys.platform == "win32" else "python",
    )
    assert argv_for(venv, module) == [bin_python, "-m", "agent.main", "x"]
    target = Result(Outcome.BUILT_TARGET, strategy=Strategy.TARGET, env="/s/builds/target-1", python="/py312")
    argv = argv_for(target, script)
    assert argv[:2] == ["/py312", "-c"] and argv[3:] == ["/s/builds/target-1", "--", "/w/agent.py", "--port", "1"]
    assert "site.addsitedir" in argv[2], "the target dir goes on sys.path the way activate() adds it"
    assert argv_for(target, module)[3:] == ["/s/builds/target-1", "-m", "agent.main", "x"]


# -- real runs (this interpreter, the tiny wheel) ---------------------------------------------


def run(
    state: Path,
    wheels: Path,
    *tail: str,
    extra: list[str] | None = None,
    stdin: str = "",
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> subprocess.CompletedProcess[str]:
    argv = [
        python,
        "-m",
        "sdkboot",
        "run",
        "--state-dir",
        str(state),
        "--import-name",
        PROBE_MODULE,
        "--no-index",
        "--find-links",
        str(wheels),
        *(extra or []),
        PROBE_DIST,
        *tail,
    ]
    return subprocess.run(
        argv, capture_output=True, text=True, input=stdin, cwd=cwd, timeout=300, env=env or child_env()
    )


def script(tmp_path: Path, module: str = PROBE_MODULE) -> Path:
    path = tmp_path / "agent" / "agent.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCRIPT.format(module=module))
    return path


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def last_event(state: Path) -> dict[str, Any]:
    return dict(json.loads((state / "events.jsonl").read_text().splitlines()[-1]))


@pytest.mark.e2e
@posix_only
def test_run_builds_then_execs_with_stdin_args_and_exit_code(tmp_path: Path, probe_wheelhouse: Path) -> None:
    state, agent = tmp_path / "state", script(tmp_path)
    first = run(state, probe_wheelhouse, "--", str(agent), "7", "-m", "--", stdin="hello")
    assert first.returncode == 7, first.stderr
    seen = report(first)
    assert seen["argv"] == [str(agent), "7", "-m", "--"], "everything after -- is the script's"
    assert seen["stdin"] == "hello" and seen["path0"] == str(agent.parent)
    assert seen["python"].startswith(str(state)), "the env's own interpreter"
    assert first.stderr.startswith("sdkboot: built: "), "a build is reported once, on stderr"

    second = run(state, probe_wheelhouse, "--", str(agent), "0")
    assert (second.returncode, second.stderr) == (0, ""), "the no-op path says nothing"
    assert report(second)["python"] == seen["python"]
    noop = last_event(state)
    assert (noop["outcome"], noop["subprocesses"]) == ("NOOP_VENV", 0), "nothing spawned before the exec"


@pytest.mark.e2e
@posix_only
def test_run_a_module(tmp_path: Path, probe_wheelhouse: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "agent_mod.py").write_text(SCRIPT.format(module=PROBE_MODULE))
    done = run(tmp_path / "state", probe_wheelhouse, "-m", "agent_mod", "3", cwd=tmp_path / "work")
    assert done.returncode == 3, done.stderr
    assert report(done)["argv"][1:] == ["3"]


@pytest.mark.e2e
@posix_only
def test_run_a_target_env_puts_the_dir_first_and_nothing_in_the_environment(
    tmp_path: Path, probe_wheelhouse: Path
) -> None:
    state, agent = tmp_path / "state", script(tmp_path)
    done = run(
        state,
        probe_wheelhouse,
        "--",
        str(agent),
        "5",
        extra=["--strategy", "target"],
        env=child_env(PYTHONPATH=str(REPO)),
    )
    assert done.returncode == 5, done.stderr
    seen = report(done)
    assert seen["python"] == sys.executable, "a --target env runs on the interpreter that built it"
    assert seen["package"].startswith(str(state / "builds" / "target-"))
    assert seen["argv"] == [str(agent), "5"]
    assert seen["pythonpath"] == str(REPO), "the target dir is not passed down through the environment"
    assert last_event(state)["outcome"] == "BUILT_TARGET"
    again = run(state, probe_wheelhouse, "--", str(agent), "6", extra=["--strategy", "target"])
    assert again.returncode == 6 and last_event(state)["outcome"] == "NOOP_TARGET"


@pytest.mark.e2e
@posix_only
def test_run_not_ready_exits_with_ensures_code_and_line(tmp_path: Path) -> None:
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    agent = script(tmp_path)
    done = run(tmp_path / "state", empty, "--", str(agent), "0")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("sdkboot: build_failed in phase ") and "(pip_no_match): " in done.stderr


@pytest.mark.parametrize(
    "argv, for_run",
    [
        (["run", "--", "x.py"], True),  # run always builds for run
        (["hook", "--for-run"], True),
        (["ensure", "--for-run"], True),
        (["ensure"], False),
    ],
)
def test_for_run_reaches_the_spec(tmp_path: Path, argv: list[str], for_run: bool) -> None:
    from sdkboot import cli
    from sdkboot.options import build_spec

    own, _tail = split_tail([*argv[:1], "--state-dir", str(tmp_path / "s"), *argv[1:]])
    args = cli.parse(cli.build_parser(), own)
    assert build_spec(args).for_run is for_run
