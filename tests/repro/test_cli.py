"""The dispatcher: bad input is one line and exit 2; command modules plug in by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro import cli

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "required: COMMAND"),
        (["sweep"], "required: SCENARIO"),
        (["sweep", "venv", "--limit", "as", "--lo", "5x"], "bad size '5x'"),
        (["sweep", "nope", "--limit", "as"], "invalid choice: 'nope'"),
        (["floor", "venv", "--limit", "ram"], "invalid choice: 'ram'"),
        (["sweep", "venv", "--limit", "as", "--lo", "64m", "--hi", "8m"], "must be below --hi"),
        (["sweep", "venv", "--limit", "as", "--points", "1"], "--points must be at least 2"),
        (["floor", "venv", "--limit", "as", "--python", "/nonexistent/python3"], "no such interpreter"),
        (["validate", "--timeout", "0"], "--timeout must be positive"),
        (["sweep", "venv", "--limit", "as", "--tree"], "--tree puts sdkboot itself under the limit"),
        (["floor", "pip-target", "--limit", "as", "--tree"], "only sdkboot, hook run sdkboot"),
        (["validate", "--only", "tree-as-18MiB"], "not a child check (add --tree)"),
        (["validate", "--tree", "--only", "rlimit-segv"], "not a tree check (drop --tree)"),
        (["validate", "--repeat", "0"], "expected a whole number of runs"),
        (["containers", "--repeat", "x"], "expected a whole number of runs"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        code = cli.main(argv)
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_sweep_hook_tree_needs_no_other_option() -> None:
    args = cli.build_parser().parse_args(["sweep", "hook", "--tree"])
    assert (args.scenario, args.tree, args.limit, args.lo, args.hi) == (["hook"], True, "as", None, None)


def test_a_missing_wheelhouse_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["floor", "pip-target", "--limit", "as", "--python", sys.executable, "--wheelhouse", str(tmp_path)])
    assert code == 2
    assert "python -m repro wheelhouse" in capsys.readouterr().err


def test_an_unimportable_command_module_still_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    modules = (*cli.COMMAND_MODULES, "repro.not_written_yet")
    assert cli.main(["not_written_yet"], modules) == cli.EXIT_UNSUPPORTED
    err = capsys.readouterr().err.strip()
    assert err.startswith("repro: unsupported here: not_written_yet is unavailable:")
    assert len(err.splitlines()) == 1


def test_every_command_module_registers_its_command() -> None:
    parser = cli.build_parser()
    for name in ("sweep", "floor", "validate", "wheelhouse"):
        args = parser.parse_args([name] + (["venv", "--limit", "as"] if name in ("sweep", "floor") else []))
        assert callable(args.handler)


def test_module_entry_point_has_no_traceback_on_bad_input() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "repro", "sweep", "venv", "--limit", "as", "--hi", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_a_reader_that_left_gets_no_traceback(unbuffered: str) -> None:
    # Buffered (what users get): short output fails only when flushed, after the command returned.
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": unbuffered}
    read_end, write_end = os.pipe()
    os.close(read_end)  # gone before the first write: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "repro", "containers", "--list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (cli.EXIT_PIPE, "")
