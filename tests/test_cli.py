"""The ``sdkboot`` command line as users and scripts meet it: ``python -m sdkboot`` in a child process.

Golden ``--json`` shapes (exact key sets and value types) for every subcommand, the
documented exit codes (0 ok/no-op, 1 build failed, 2 usage, 3 skipped), and every kind
of bad input: exactly one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sdkboot import cooldown, state
from sdkboot.cli import COMMANDS
from sdkboot.layout import Layout
from sdkboot.result import hook_py
from sdkboot.version import VERSION
from tests.conftest import PROBE_DIST, PROBE_MODULE
from tests.fake_envs import MIN_PYTHON, VENV_ORDER, child_env, fake_env, lock_held, sdkboot, spec_for
from tests.interpreters import write_wrapper

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="wrapper interpreters are POSIX sh scripts")
NoneType = type(None)
# Each --json key and the types its value may have (bool is never int here).
Types = dict[str, tuple[type, ...]]

ENSURE_TYPES: Types = {
    "outcome": (str,),
    "outcome_code": (int,),
    "phase": (str, NoneType),
    "err_kind": (str, NoneType),
    "rc": (int, NoneType),
    "strategy": (str, NoneType),
    "env": (str, NoneType),
    "python": (str, NoneType),
    "duration_ms": (int,),
    "subprocesses": (int,),
    "message": (str,),
    "metrics": (dict,),
}
STATUS_TYPES: Types = {
    "state_dir": (str,),
    "built": (bool,),
    "healthy": (bool,),
    "reason": (str, NoneType),
    "cooldown": (dict,),
    "building": (dict,),
    "builds": (list,),
    "retired": (list,),
}
STATUS_BUILT_TYPES: Types = {
    **STATUS_TYPES,
    "strategy": (str,),
    "env": (str,),
    "site": (str,),
    "python": (str,),
    "requirements": (list,),
    "built_at": (float,),
    "age_seconds": (float, int, NoneType),
    "size_bytes": (int, NoneType),
}
COOLDOWN_TYPES: Types = {
    "active": (bool,),
    "remaining_seconds": (int,),
    "rc": (int, NoneType),
    "phase": (str, NoneType),
}
BUILDING_TYPES: Types = {"running": (bool,), "pid": (int, NoneType)}
DOCTOR_TYPES: Types = {
    "interpreter": (dict,),
    "ensure_would": (dict,),
    "memory_limits": (list,),
    "disk": (dict,),
    "proxies": (dict,),
    "verdicts": (dict,),
    "pythons": (dict,),
}
CLEAN_TYPES: Types = {"paths": (list,), "removed": (bool,), "dry_run": (bool,), "in_use": (list,)}
REPORT_TYPES: Types = {
    "events": (int,),
    "corrupt_lines": (int,),
    "outcomes": (dict,),
    "err_kinds": (dict,),
    "signal_kill_rcs": (dict,),
    "durations": (dict,),
}


def shaped(data: dict[str, Any], types: Types) -> dict[str, Any]:
    """Assert ``data`` has exactly the keys of ``types``, each value of one of its types (bool is not int)."""
    assert set(data) == set(types), sorted(set(data) ^ set(types))
    for key, allowed in types.items():
        value = data[key]
        assert type(value) in allowed, f"{key}: {type(value).__name__} {value!r}, expected {allowed}"
    return data


def metrics_ok(metrics: dict[str, Any]) -> None:
    """The contract: at most 10 keys, numbers and bools only, no zero values."""
    assert len(metrics) <= 10
    for key, value in metrics.items():
        assert key.startswith("sdk_") and type(value) in (int, bool), (key, value)
        assert value is False or value != 0, key


def one_line_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stderr == "", done.stderr
    assert done.stdout.count("\n") == 1, done.stdout
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def ensure_args(root: Path, *extra: str) -> list[str]:
    return ["ensure", "--json", "--state-dir", str(root), *MIN_PYTHON, *VENV_ORDER, *extra]


# --- the top level ------------------------------------------------------------------------------


def test_version_and_every_help_exit_0_and_each_command_help_has_an_example() -> None:
    done = sdkboot("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"sdkboot {VERSION}\n", "")
    done = sdkboot("--help")
    assert done.returncode == 0 and "exit codes: 0 ok/no-op, 1 build failed, 2 usage error, 3 skipped" in done.stdout
    for command in COMMANDS:
        done = sdkboot(command, "--help")
        assert done.returncode == 0 and "example:" in done.stdout and done.stderr == ""


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "sdkboot: missing COMMAND (see 'sdkboot --help')"),
        (["build"], "sdkboot: argument COMMAND: invalid choice: 'build'"),
        (["--no-such-flag"], "sdkboot: unrecognized arguments: --no-such-flag (see 'sdkboot --help')"),
    ],
)
def test_a_top_level_usage_error_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = sdkboot(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(message), done.stderr


# --- golden --json shapes and exit codes --------------------------------------------------------


def test_ensure_json_for_a_module_the_host_imports_is_noop_system_with_no_spawn(tmp_path: Path) -> None:
    done = sdkboot(*ensure_args(tmp_path / "state", "--import-name", "json"))
    data = shaped(one_line_json(done), ENSURE_TYPES)
    assert done.returncode == 0
    assert (data["outcome"], data["outcome_code"], data["subprocesses"]) == ("NOOP_SYSTEM", 0, 0)
    assert (data["phase"], data["err_kind"], data["rc"], data["strategy"], data["env"]) == (None,) * 5
    metrics_ok(data["metrics"])
    assert data["metrics"]["sdk_hook_py"] == hook_py() and "sdk_bootstrap" not in data["metrics"]


@pytest.mark.parametrize("strategy, outcome, code", [("venv", "NOOP_VENV", 1), ("target", "NOOP_TARGET", 8)])
def test_ensure_json_for_a_healthy_build_is_its_noop_with_its_strategy_code(
    tmp_path: Path, strategy: str, outcome: str, code: int
) -> None:
    root = tmp_path / "state"
    record = fake_env(root, strategy, spec=spec_for(root))
    done = sdkboot(*ensure_args(root, "--import-name", "fake_mod", "fake-dist"))
    data = shaped(one_line_json(done), ENSURE_TYPES)
    assert done.returncode == 0
    assert (data["outcome"], data["outcome_code"], data["strategy"], data["env"]) == (
        outcome,
        code,
        strategy,
        record.env,
    )
    assert data["subprocesses"] == 0 and data["phase"] is None
    metrics_ok(data["metrics"])
    assert data["metrics"]["sdk_bootstrap"] == code


@posix_only
def test_a_failed_build_is_exit_1_with_phase_kind_and_rc_in_json_and_one_human_line(tmp_path: Path) -> None:
    python = write_wrapper(
        tmp_path / "py-denied",
        'if [ "$2" = "venv" ]; then\n  echo "Error: [Errno 13] Permission denied: \'$3\'" >&2; exit 1\nfi\n',
    )
    done = sdkboot(
        *ensure_args(tmp_path / "state", "--python", str(python), "--import-name", "cli_absent_mod", "cli-absent-dist")
    )
    data = shaped(one_line_json(done), ENSURE_TYPES)
    assert done.returncode == 1
    assert (data["outcome"], data["outcome_code"], data["phase"], data["err_kind"], data["rc"]) == (
        "BUILD_FAILED",
        3,
        "venv",
        "perm_denied",
        1,
    )
    # An explicit --python is probed first (is it this Python's X.Y?), then venv fails.
    assert data["strategy"] == "venv" and data["subprocesses"] == 2
    metrics_ok(data["metrics"])
    assert {k: data["metrics"][k] for k in ("sdk_bootstrap", "sdk_bootstrap_phase", "sdk_bootstrap_err")} == {
        "sdk_bootstrap": 3,
        "sdk_bootstrap_phase": 2,
        "sdk_bootstrap_err": 5,
    }

    human = sdkboot(
        "ensure",
        *MIN_PYTHON,
        *VENV_ORDER,
        "--state-dir",
        str(tmp_path / "state"),
        "--python",
        str(python),
        "--import-name",
        "cli_absent_mod",
        "cli-absent-dist",
    )
    assert (human.returncode, human.stdout) == (1, "")
    assert human.stderr.count("\n") == 1
    assert human.stderr.startswith("sdkboot: build_failed in phase venv (perm_denied): permission denied")


def test_an_old_host_python_is_exit_3_and_its_probes_are_cached(tmp_path: Path) -> None:
    done = sdkboot(*ensure_args(tmp_path / "state", "--min-python", "99.0", "--import-name", "cli_absent_mod"))
    data = shaped(one_line_json(done), ENSURE_TYPES)
    assert done.returncode == 3
    assert (data["outcome"], data["outcome_code"]) == ("HOOK_PY_INCOMPATIBLE", 6)
    assert data["metrics"]["sdk_alt_py"] == 0, "0 is kept here: no Python 99.0+ was found"
    again = one_line_json(
        sdkboot(*ensure_args(tmp_path / "state", "--min-python", "99.0", "--import-name", "cli_absent_mod"))
    )
    assert again["subprocesses"] == 0, "the interpreter probes are cached in the state dir"


def test_an_active_cooldown_is_exit_3_with_no_spawn_and_names_the_way_out(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    spec = spec_for(root, import_name="cli_absent_mod", requirements=("cli-absent-dist",))
    cooldown.arm(Layout(str(root)), time.time(), -9, "pip", state.fingerprint(spec))
    done = sdkboot(*ensure_args(root, "--import-name", "cli_absent_mod", "cli-absent-dist"))
    data = shaped(one_line_json(done), ENSURE_TYPES)
    assert done.returncode == 3
    assert (data["outcome"], data["outcome_code"], data["subprocesses"]) == ("SKIP_COOLDOWN", 9, 0)
    assert "--cooldown 0" in data["message"]


@posix_only
def test_a_build_in_another_process_is_exit_3_naming_its_pid(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    with lock_held(root / "build.lock") as pid:
        done = sdkboot(*ensure_args(root, "--import-name", "cli_absent_mod", "cli-absent-dist"))
    data = shaped(one_line_json(done), ENSURE_TYPES)
    assert done.returncode == 3
    assert (data["outcome"], data["outcome_code"], data["subprocesses"]) == ("SKIP_SENTINEL", 5, 0)
    assert f"pid {pid}" in data["message"]


def test_a_successful_ensure_says_so_on_stdout_not_stderr(tmp_path: Path) -> None:
    done = sdkboot("ensure", *MIN_PYTHON, "--state-dir", str(tmp_path / "state"), "--import-name", "json")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "sdkboot: noop_system: json is already importable in this Python\n"


def test_status_json_has_its_golden_keys_before_and_after_a_build(tmp_path: Path) -> None:
    root = tmp_path / "state"
    done = sdkboot("status", "--json", "--state-dir", str(root))
    assert done.returncode == 1
    data = shaped(json.loads(done.stdout), STATUS_TYPES)
    shaped(data["cooldown"], COOLDOWN_TYPES)
    shaped(data["building"], BUILDING_TYPES)
    assert done.stderr == ""

    fake_env(root, spec=spec_for(root))
    done = sdkboot("status", "--json", "--state-dir", str(root), "--import-name", "fake_mod", "fake-dist")
    assert (done.returncode, done.stderr) == (0, "")
    data = shaped(json.loads(done.stdout), STATUS_BUILT_TYPES)
    assert data["healthy"] is True and all(type(r) is str for r in data["requirements"])


def test_status_uses_the_state_dir_from_the_environment(tmp_path: Path) -> None:
    done = sdkboot("status", "--json", env=child_env(SDKBOOT_STATE_DIR=str(tmp_path / "from-env")))
    assert json.loads(done.stdout)["state_dir"] == str(tmp_path / "from-env")


def test_doctor_json_has_its_golden_keys_and_a_verdict_per_strategy(tmp_path: Path) -> None:
    done = sdkboot("doctor", "--json", "--state-dir", str(tmp_path / "state"))
    assert done.stderr == ""
    data = shaped(json.loads(done.stdout), DOCTOR_TYPES)
    assert set(data["verdicts"]) == {"lean", "venv", "target"}
    assert done.returncode == (0 if any(not problems for problems in data["verdicts"].values()) else 1)


def test_clean_json_has_its_golden_keys_for_dry_run_and_yes(tmp_path: Path) -> None:
    root = tmp_path / "state"
    fake_env(root)
    for flag, removed in (("--dry-run", False), ("--yes", True)):
        done = sdkboot("clean", "--json", flag, "--state-dir", str(root))
        assert (done.returncode, done.stderr) == (0, "")
        data = shaped(json.loads(done.stdout), CLEAN_TYPES)
        assert data["removed"] is removed and data["dry_run"] is (not removed)
        assert data["paths"] and all(type(p) is str for p in data["paths"])


def test_report_json_has_its_golden_keys_and_per_outcome_durations(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    (root / "events.jsonl").write_text(json.dumps({"outcome": "BUILT", "duration_ms": 12}) + "\n")
    done = sdkboot("report", "--json", "--state-dir", str(root))
    assert (done.returncode, done.stderr) == (0, "")
    data = shaped(json.loads(done.stdout), REPORT_TYPES)
    assert data["durations"] == {"BUILT": {"count": 1, "p50_ms": 12, "p95_ms": 12}}


def test_hook_prints_exactly_its_two_protocol_lines(tmp_path: Path) -> None:
    done = sdkboot("hook", *MIN_PYTHON, "--state-dir", str(tmp_path / "state"), "--import-name", "json")
    assert (done.returncode, done.stderr) == (0, "")
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first == {"async": True, "asyncTimeout": 180000}
    assert set(second) == {"metrics"}
    metrics_ok(second["metrics"])


# --- bad input ----------------------------------------------------------------------------------

# The hook prints its first protocol line before the CLI loads (it may not fit under the user's
# memory limit), so its other bad input is found after that line: nothing else reaches stdout.
ANNOUNCED = '{"async": true, "asyncTimeout": 180000}\n'


def usage_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == (ANNOUNCED if list(done.args[3:4]) == ["hook"] else "")
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


# One child process per error path: that a real ``python -m sdkboot`` turns it into exit 2 and one
# line (the hook's after its announced first line). Each path for every command that takes the
# option is checked in process by tests/test_options.py.


def test_an_unknown_flag_after_the_lean_hook_start_points_at_the_hook_help() -> None:
    usage_error(
        sdkboot("hook", "--no-such-flag"),
        "sdkboot hook: unrecognized arguments: --no-such-flag (see 'sdkboot hook --help')",
    )


@pytest.mark.parametrize(
    "layout, needle",
    [
        ("missing-parent", "does not exist"),
        ("parent-is-a-file", "is not a directory"),
        ("is-a-file", "exists and is not a directory"),
    ],
)
def test_a_state_dir_that_cannot_be_one_is_a_usage_error(tmp_path: Path, layout: str, needle: str) -> None:
    (tmp_path / "a-file").write_text("")
    state_dir = {
        "missing-parent": tmp_path / "missing" / "state",
        "parent-is-a-file": tmp_path / "a-file" / "state",
        "is-a-file": tmp_path / "a-file",
    }[layout]
    usage_error(sdkboot("status", "--state-dir", str(state_dir)), needle)
    assert not (tmp_path / "missing").exists()


def test_an_invalid_requirement_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    # "--" so that a requirement starting with "-" reaches the requirement check, not argparse.
    usage_error(sdkboot("ensure", "--state-dir", str(tmp_path / "state"), "--", "-e ."), "not a valid requirement")
    assert not (tmp_path / "state").exists(), "nothing ran"


def test_a_requirement_given_to_a_command_that_takes_none_is_a_usage_error(tmp_path: Path) -> None:
    usage_error(
        sdkboot("clean", "--state-dir", str(tmp_path / "state"), "claude-agent-sdk"),
        "unrecognized arguments: claude-agent-sdk",
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--cooldown", "soon"], "--cooldown: not a number of seconds"),
        (["--timeout", "0"], "--timeout: must be more than zero seconds"),
        (["--min-python", "3.x"], "--min-python: expected MAJOR.MINOR"),
        (["--python", "/nonexistent/python3"], "--python /nonexistent/python3: no such executable interpreter"),
        (["--state-dir"], "--state-dir: expected one argument"),
    ],
)
def test_a_bad_option_value_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    usage_error(sdkboot("ensure", *args), needle)


@posix_only
@pytest.mark.parametrize(
    "program, needle",
    [
        (
            "#!/bin/sh\nexit 0\n",
            "is not a Python interpreter sdkboot can use (the probe's answer was not understood):"
            " pass a python3 executable, e.g. `--python /usr/bin/python3`",
        ),
        (
            "#!/bin/sh\necho 'bash: oops' >&2; exit 1\n",
            "is not a Python interpreter sdkboot can use (the probe failed (exit 1): bash: oops)",
        ),
        ("#!/bin/sh\necho 'Unknown option: -I' >&2; exit 2\n", "(too old for isolated mode: Python 2?)"),
    ],
)
def test_a_python_that_is_not_a_python3_is_a_usage_error_naming_why(tmp_path: Path, program: str, needle: str) -> None:
    fake = tmp_path / "not-python"
    fake.write_text(program)
    fake.chmod(0o755)
    usage_error(sdkboot("ensure", "--state-dir", str(tmp_path / "state"), "--python", str(fake)), needle)
    assert not (tmp_path / "state").exists(), "nothing was built"


@posix_only
def test_bin_true_as_python_is_a_usage_error(tmp_path: Path) -> None:
    if not Path("/bin/true").exists():
        pytest.skip("no /bin/true")
    usage_error(
        sdkboot("ensure", "--state-dir", str(tmp_path / "state"), "--python", "/bin/true"),
        "--python /bin/true: /bin/true is not a Python interpreter sdkboot can use",
    )


@posix_only
@pytest.mark.parametrize("command", ["ensure", "hook"])
def test_a_bad_marker_costs_no_build(tmp_path: Path, command: str) -> None:
    usage_error(
        sdkboot(command, "--state-dir", str(tmp_path / "state"), "--", "foo; python_version >= 3.10"),
        "its environment marker 'python_version >= 3.10' is not PEP 508",
    )
    assert not (tmp_path / "state").exists()


# --- a read-only state dir -----------------------------------------------------------------------


def test_read_only_state_dir_cannot_build(read_only_dir: Path) -> None:
    """Nothing built and nowhere to build: ensure fails in phase pre (a healthy env there would be
    a no-op); the hook answers with that failure and exits 0, as its contract requires."""
    args = ("--state-dir", str(read_only_dir), "--import-name", "cli_absent_mod", *MIN_PYTHON)
    done = sdkboot("ensure", *args)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.count("\n") == 1 and "in phase pre" in done.stderr and "Traceback" not in done.stderr
    hook = sdkboot("hook", *args)
    assert (hook.returncode, hook.stderr) == (0, "")
    metrics = json.loads(hook.stdout.splitlines()[-1])["metrics"]
    assert (metrics["sdk_bootstrap"], metrics["sdk_bootstrap_phase"]) == (3, 1)


@pytest.mark.parametrize(
    "command, rc, needle",
    [
        ("status", 1, '"healthy": false'),  # nothing built there
        ("doctor", 1, "is not writable"),  # no strategy can work in a read-only dir
        ("report", 0, '"events": 0'),
        ("clean", 0, '"paths": []'),
    ],
)
def test_read_only_state_dir_can_still_be_inspected(read_only_dir: Path, command: str, rc: int, needle: str) -> None:
    done = sdkboot(command, "--json", "--state-dir", str(read_only_dir))
    assert (done.returncode, done.stderr) == (rc, "")
    assert needle in done.stdout
    assert list(read_only_dir.iterdir()) == []


def test_read_only_state_dir_from_the_environment(read_only_dir: Path) -> None:
    """SDKBOOT_STATE_DIR is not an option, so not a usage error: the build fails in phase pre, cleanly."""
    env = child_env(SDKBOOT_STATE_DIR=str(read_only_dir))
    done = sdkboot("ensure", *MIN_PYTHON, "--import-name", "cli_absent_mod", env=env)
    assert done.returncode in (1, 2) and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    hook = sdkboot("hook", *MIN_PYTHON, "--import-name", "cli_absent_mod", env=env)
    assert (hook.returncode, hook.stderr) == (0, "")
    assert [set(json.loads(line)) for line in hook.stdout.splitlines()] == [{"async", "asyncTimeout"}, {"metrics"}]


# --- corrupt files -------------------------------------------------------------------------------

CORRUPT_STATES = {
    "truncated": '{"strategy": "venv", "env": "/x", ',
    "not an object": "[]",
    "missing fields": '{"layout": 2}',
    "binary": "\udcff\udcfe",
}


def corrupt_state(root: Path, content: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "install-state.json").write_bytes(content.encode("utf-8", "surrogateescape"))


@posix_only
@pytest.mark.parametrize("kind", sorted(CORRUPT_STATES))
def test_corrupt_install_state_ensure_rebuilds_and_says_why(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "state"
    corrupt_state(root, CORRUPT_STATES[kind])
    failing = write_wrapper(tmp_path / "py-fail", 'if [ "$2" = "venv" ]; then echo "Error: nope" >&2; exit 1; fi\n')
    done = sdkboot(*ensure_args(root, "--python", str(failing), "--import-name", "cli_absent_mod", "cli-absent-dist"))
    data = one_line_json(done)
    assert done.returncode == 1
    assert data["phase"] == "venv", "it tried to rebuild"
    assert "(rebuilt: install-state corrupt" in data["message"]

    corrupt_state(root, CORRUPT_STATES[kind])  # the failed rebuild left a valid, empty state
    human = sdkboot(
        "ensure",
        *MIN_PYTHON,
        *VENV_ORDER,
        "--state-dir",
        str(root),
        "--python",
        str(failing),
        "--import-name",
        "cli_absent_mod",
        "cli-absent-dist",
    )
    assert human.returncode == 1 and human.stdout == "" and human.stderr.count("\n") == 1
    assert "rebuilt: install-state corrupt" in human.stderr and "Traceback" not in human.stderr


@posix_only
def test_an_install_state_naming_an_unknown_strategy_is_rebuilt(tmp_path: Path) -> None:
    """A state this version did not write (here: a strategy it does not know) is corrupt: rebuild,
    rather than end every session in phase main with ``exc:KeyError``."""
    root = tmp_path / "state"
    failing = write_wrapper(tmp_path / "py-fail", 'if [ "$2" = "venv" ]; then echo "Error: nope" >&2; exit 1; fi\n')
    record = fake_env(root, spec=spec_for(root, python=str(failing)))
    data = record.to_json()
    data["strategy"] = "conda"
    (root / "install-state.json").write_text(json.dumps({"layout": state.LAYOUT_VERSION, "builds": [data]}))

    done = sdkboot(*ensure_args(root, "--python", str(failing), "--import-name", "fake_mod", "fake-dist"))

    result = one_line_json(done)
    assert (result["phase"], result["err_kind"]) != ("main", "exc:KeyError"), result["message"]
    assert result["phase"] == "venv" and "install-state" in result["message"]


@pytest.mark.parametrize("kind", sorted(CORRUPT_STATES))
def test_corrupt_install_state_status_reports_it(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "state"
    corrupt_state(root, CORRUPT_STATES[kind])
    done = sdkboot("status", "--json", "--state-dir", str(root))
    assert (done.returncode, done.stderr) == (1, "")
    data = json.loads(done.stdout)
    assert data["healthy"] is False and data["reason"].startswith("install-state corrupt")


@pytest.mark.parametrize("command, rc", [("report", 0), ("clean", 0), ("doctor", None)])
def test_corrupt_install_state_crashes_nothing_else(tmp_path: Path, command: str, rc: Any) -> None:
    root = tmp_path / "state"
    corrupt_state(root, CORRUPT_STATES["truncated"])
    args = [command, "--json", "--state-dir", str(root)] + (["--yes"] if command == "clean" else [])
    done = sdkboot(*args)
    assert done.stderr == "" and done.returncode in ((rc,) if rc is not None else (0, 1))
    json.loads(done.stdout)


def test_corrupt_install_state_hook_still_answers(tmp_path: Path) -> None:
    root = tmp_path / "state"
    corrupt_state(root, CORRUPT_STATES["binary"])
    done = sdkboot("hook", *MIN_PYTHON, "--state-dir", str(root), "--import-name", "json")
    assert (done.returncode, done.stderr) == (0, "")
    assert [set(json.loads(line)) for line in done.stdout.splitlines()] == [{"async", "asyncTimeout"}, {"metrics"}]


def test_report_skips_and_counts_corrupt_event_lines(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir()
    (root / "events.jsonl").write_bytes(b'{"outcome": "BUILT", "duration_ms": 5}\n{"outc\n\xff\xfe\n[]\n')
    done = sdkboot("report", "--json", "--state-dir", str(root))
    assert (done.returncode, done.stderr) == (0, "")
    data = json.loads(done.stdout)
    assert (data["events"], data["corrupt_lines"]) == (1, 3)
    text = sdkboot("report", "--state-dir", str(root))
    assert text.returncode == 0 and text.stdout.startswith("1 events, 3 corrupt lines skipped")


@pytest.mark.e2e
def test_a_torn_install_state_is_rebuilt_for_real_then_noops(tmp_path: Path, probe_wheelhouse: Path) -> None:
    root = tmp_path / "state"
    args = ensure_args(
        root, "--import-name", PROBE_MODULE, "--no-index", "--find-links", str(probe_wheelhouse), PROBE_DIST
    )
    first = one_line_json(sdkboot(*args, timeout=240))
    assert first["outcome"] == "BUILT"
    (root / "install-state.json").write_text((root / "install-state.json").read_text()[:25])  # a torn write

    done = sdkboot(*args, timeout=240)

    again = one_line_json(done)
    assert done.returncode == 0
    assert again["outcome"] == "BUILT" and again["env"] != first["env"]
    assert "(rebuilt: install-state corrupt" in again["message"]
    assert one_line_json(sdkboot(*args))["outcome"] == "NOOP_VENV"
