"""Option validation: bad input is exit 2 and one line on stderr, before anything runs."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

import pytest

from sdkboot import cli, options
from sdkboot.options import UsageError, build_spec, check_state_dir
from sdkboot.result import EXIT_USAGE
from tests.fake_envs import MIN_PYTHON

RUNNER = importlib.import_module("sdkboot.runner")


@pytest.fixture(autouse=True)
def no_children(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation happens before any build step: nothing may be spawned here."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a child process was started")

    monkeypatch.setattr(RUNNER, "run", forbidden)


def usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI; assert exit 2 and exactly one stderr line, no traceback. Return it."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == EXIT_USAGE == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    return err.strip()


def _declares(command: str, option: str) -> bool:
    return any(option in action.option_strings for action in cli.build_parser().commands[command]._actions)


# The commands that take requirements and build options, and those that read a state dir.
BUILDERS = [name for name in cli.COMMANDS if _declares(name, "--cooldown")]
LOCATED = [name for name in cli.COMMANDS if _declares(name, "--state-dir")]
# ``run`` reads everything after "--" as its consumer's command line, never as requirements.
REQUIRING = [name for name in BUILDERS if not cli.COMMANDS[name].tail]


def ensure_argv(tmp_path: Path, *extra: str) -> list[str]:
    return ["ensure", "--state-dir", str(tmp_path / "state"), *extra]


# -- --state-dir -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout, needle",
    [
        ("missing-parent", "does not exist"),
        ("parent-is-a-file", "is not a directory"),  # unwritable for every user, root included
        ("is-a-file", "exists and is not a directory"),
    ],
)
@pytest.mark.parametrize("command", LOCATED)
def test_a_state_dir_that_cannot_be_one_is_named_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, layout: str, needle: str
) -> None:
    (tmp_path / "a-file").write_text("")
    state_dir = {
        "missing-parent": tmp_path / "no" / "state",
        "parent-is-a-file": tmp_path / "a-file" / "state",
        "is-a-file": tmp_path / "a-file",
    }[layout]
    line = usage_error(capsys, [command, "--state-dir", str(state_dir)])
    assert f"--state-dir {state_dir}" in line and needle in line


def test_state_dir_not_writable_is_the_builds_to_report(
    read_only_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a usage error: a healthy env there would be a no-op. With nothing built, the build
    stops in phase pre, before any child, in one line that says what to do."""
    code = cli.main(["ensure", "--state-dir", str(read_only_dir / "state"), *MIN_PYTHON])  # no discovery on 3.9
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "in phase pre" in err and "state dir" in err, err


def test_build_spec_checks_writability_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[str] = []

    def read_only(directory: str) -> bool:
        probed.append(directory)
        return False

    monkeypatch.setattr(options, "can_write", read_only)
    args = cli.build_parser().parse_args(ensure_argv(tmp_path))
    build_spec(args)
    assert probed == []
    with pytest.raises(UsageError, match="not writable"):
        build_spec(args, must_write=True)
    assert probed == [str(tmp_path)]  # the parent, since the dir does not exist yet


def test_check_state_dir_accepts_a_writable_or_absent_dir(tmp_path: Path) -> None:
    check_state_dir(None, must_write=True)
    check_state_dir(str(tmp_path / "new"), must_write=True)
    (tmp_path / "existing").mkdir()
    check_state_dir(str(tmp_path / "existing"), must_write=True)
    check_state_dir("~/state", must_write=True)  # HOME is the isolated one


def test_check_state_dir_read_only_use_skips_the_write_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(options, "can_write", lambda directory: False)
    check_state_dir(str(tmp_path / "state"), must_write=False)
    with pytest.raises(UsageError):
        check_state_dir(str(tmp_path / "state"), must_write=True)


# -- numbers and versions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--timeout", "0"], "--timeout: must be more than zero seconds"),
        (["--timeout", "-1"], "--timeout: must be more than zero seconds"),
        (["--timeout", "abc"], "--timeout: not a number of seconds"),
        (["--timeout", "nan"], "--timeout: must be more than zero seconds"),
        (["--cooldown", "-5"], "--cooldown: must be zero or more seconds"),
        (["--cooldown", "nan"], "--cooldown: must be zero or more seconds"),
        (["--cooldown", "soon"], "--cooldown: not a number of seconds"),
        (["--min-python", "3"], "--min-python: expected MAJOR.MINOR"),
        (["--min-python", "3.x"], "--min-python: expected MAJOR.MINOR"),
        (["--min-python", "3.10.1"], "--min-python"),
        (["--python", "/nonexistent/python3"], "--python /nonexistent/python3: no such executable interpreter"),
        (["--python", "no-such-python-anywhere"], "no such executable interpreter"),
        (["--state-dir"], "--state-dir: expected one argument"),
    ],
)
@pytest.mark.parametrize("command", BUILDERS)
def test_a_bad_build_option_is_one_line_for_every_command_that_builds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, extra: list[str], needle: str
) -> None:
    line = usage_error(
        capsys,
        [command, *extra] if extra == ["--state-dir"] else [command, "--state-dir", str(tmp_path / "state"), *extra],
    )
    assert needle in line


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_an_unknown_flag_points_at_the_subcommands_own_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    line = usage_error(capsys, [command, "--no-such-flag"])
    assert line == f"sdkboot {command}: unrecognized arguments: --no-such-flag (see 'sdkboot {command} --help')"


@pytest.mark.parametrize("command", [c for c in LOCATED if c not in BUILDERS])
def test_a_requirement_given_to_a_command_that_takes_none_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    line = usage_error(capsys, [command, "--state-dir", str(tmp_path / "state"), "claude-agent-sdk"])
    assert "unrecognized arguments: claude-agent-sdk" in line


def test_number_parsers() -> None:
    assert options._seconds("0") == 0.0
    assert options._seconds("2.5") == 2.5
    assert options._positive_seconds("0.5") == 0.5
    assert options._version("3.10") == (3, 10)
    for bad in ("-1", "nan", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            options._seconds(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        options._positive_seconds("0")
    for bad in ("3", "3.", ".10", "3.10.0", "three.ten", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            options._version(bad)


# -- --python and requirements ---------------------------------------------------------------------


def test_python_nonexistent_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = usage_error(capsys, ensure_argv(tmp_path, "--python", str(tmp_path / "python9.9")))
    assert "--python" in line and "no such executable interpreter" in line


def test_python_nonexistent_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = usage_error(capsys, ensure_argv(tmp_path, "--python", "sdkboot-no-such-python9"))
    assert "sdkboot-no-such-python9" in line


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX execute bits")
def test_python_not_executable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "python3"
    fake.write_text("not a program")
    fake.chmod(0o644)  # no execute bit: refused for root as well
    line = usage_error(capsys, ensure_argv(tmp_path, "--python", str(fake)))
    assert "--python" in line


def test_python_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usage_error(capsys, ensure_argv(tmp_path, "--python", str(tmp_path)))


@pytest.mark.parametrize(
    "requirement", [">=1.0", "==1.0", "foo bar", "foo==1.0 garbage", "foo[", "foo[bar", "foo>=", "foo ; ", "-e ."]
)
@pytest.mark.parametrize("command", REQUIRING)
def test_an_invalid_requirement_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, requirement: str
) -> None:
    line = usage_error(capsys, [command, "--state-dir", str(tmp_path / "state"), "--", requirement])
    assert "not a valid requirement" in line
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("name", ["", "../../escape", "a/b", "a-b", "class", "a..b", ".a", "a.", "1abc", "a b"])
@pytest.mark.parametrize(
    "command",
    [
        c
        for c in cli.COMMANDS
        if any("--import-name" in a.option_strings for a in cli.build_parser().commands[c]._actions)
    ],
)
def test_import_name_must_be_a_module_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, name: str
) -> None:
    """It also names the state dir: '' would build a whole env before failing, '../..' escapes sdkboot/."""
    line = usage_error(capsys, [command, "--state-dir", str(tmp_path / "state"), "--import-name", name])
    assert line == (
        f"sdkboot {command}: argument --import-name: not a module name: {name!r} (expected e.g."
        f" claude_agent_sdk or a.b) (see 'sdkboot {command} --help')"
    )
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("name", ["claude_agent_sdk", "a.b.c", "_private", "Mod2"])
def test_dotted_module_names_are_accepted(name: str) -> None:
    assert options._import_name(name) == name


def test_missing_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert "missing COMMAND" in usage_error(capsys, [])


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    usage_error(capsys, ["frobnicate"])


# -- what valid options become ---------------------------------------------------------------------


def test_valid_options_build_the_spec(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(
        [
            "ensure",
            "--state-dir",
            str(tmp_path / "state"),
            "--python",
            sys.executable,
            "--find-links",
            "/w1",
            "--find-links",
            "/w2",
            "--no-index",
            "--timeout",
            "30",
            "--cooldown",
            "0",
            "--min-python",
            "3.9",
            "--import-name",
            "probe_mod",
            "--index-url",
            "https://mirror.example/simple",
            "--extra-index-url",
            "https://x.example/simple",
            "probe-dist>=1",
            "other",
        ]
    )
    spec = build_spec(args)
    assert spec.requirements == ("probe-dist>=1", "other")
    assert spec.import_name == "probe_mod"
    assert spec.python == os.path.abspath(sys.executable)
    assert spec.find_links == ("/w1", "/w2")
    assert spec.no_index and spec.index_url == "https://mirror.example/simple"
    assert spec.extra_index_urls == ("https://x.example/simple",)
    assert (spec.step_timeout, spec.cooldown_seconds, spec.min_python) == (30.0, 0.0, (3, 9))
    assert spec.root == str(tmp_path / "state")


def test_an_unreadable_pip_no_index_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "maybe")
    assert cli.main(ensure_argv(tmp_path)) == 2
    assert capsys.readouterr().err == (
        "sdkboot: PIP_NO_INDEX='maybe': expected 1 or 0 (or true/false, yes/no, on/off)\n"
    )


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    spec = build_spec(cli.build_parser().parse_args(["ensure"]))
    assert spec.requirements == ("claude-agent-sdk",)
    assert spec.python == sys.executable
    assert spec.step_timeout == 300.0 and spec.cooldown_seconds == 86400.0


def test_valid_ensure_runs_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(ensure_argv(tmp_path, "--json", "--import-name", "json", "--min-python", "3.0"))
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["outcome"] == "NOOP_SYSTEM"
    assert payload["subprocesses"] == 0
    assert all(type(v) in (int, bool) for v in payload["metrics"].values())


@pytest.mark.parametrize("command", ["ensure", "hook"])
def test_no_preflight_reaches_the_spec(tmp_path: Path, command: str) -> None:
    parser = cli.build_parser()
    on = build_spec(parser.parse_args([command, "--state-dir", str(tmp_path / "s")]))
    off = build_spec(parser.parse_args([command, "--state-dir", str(tmp_path / "s"), "--no-preflight"]))
    assert (on.preflight, off.preflight) == (True, False)
