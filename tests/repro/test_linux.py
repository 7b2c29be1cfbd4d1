"""The canonical repros on a real Linux host as root, end to end: each exact or a declared set.

Each test skips, naming the missing capability, where it cannot run (see conftest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro import cgroups, limits, scenarios, validate, validate_checks
from repro.scenarios import DEFAULT_PYTHON, SCENARIOS, Context

pytestmark = [pytest.mark.linux, pytest.mark.root]
REPO = Path(__file__).resolve().parents[2]


CHILD_CHECKS = [c for c in validate_checks.CHECKS if c.mode == "child"]
TREE_CHECKS = [c for c in validate_checks.CHECKS if c.mode == "tree"]


@pytest.mark.parametrize("check", CHILD_CHECKS, ids=[c.name for c in CHILD_CHECKS])
def test_canonical_repro(check: validate_checks.Check, linux_ctx: Context, request: pytest.FixtureRequest) -> None:
    ctx = request.getfixturevalue("wheel_ctx") if "wheelhouse" in check.needs else linux_ctx
    found = validate.run_check(check, ctx)
    if found.verdict is None:
        pytest.skip(found.skipped or "skipped")
    assert found.verdict.passed, validate.table([found]) + f"\n{found.observed}"


@pytest.mark.parametrize("check", TREE_CHECKS, ids=[c.name for c in TREE_CHECKS])
def test_whole_tree_check(check: validate_checks.Check, wheel_ctx: Context) -> None:
    """``sdkboot hook`` itself under the user's limit, twice: both protocol lines and exit 0 each
    time, the skip or the classified memory failure, then a session that spawns nothing, and no
    process of either session alive after it exited (the /proc census by environment mark)."""
    found = validate.run_check(check, wheel_ctx)
    if found.verdict is None:
        pytest.skip(found.skipped or "skipped")
    assert found.verdict.passed, validate.table([found]) + f"\n{found.observed}"


def test_cgroup_run_reports_peak_and_oom_kills_and_leaves_no_cgroup(
    cgroup_hierarchy: cgroups.Hierarchy,
) -> None:
    before = set(cgroup_hierarchy.own.iterdir())
    grab = "x = bytearray(256 << 20); print('survived')"
    run = limits.run([sys.executable, "-c", grab], limits.cgroup(32), timeout=60)
    assert (run.rc, run.stdout, run.oom_kills) == (-9, "", 1)
    assert run.peak_kib is not None and 30 * 1024 <= run.peak_kib <= 32 * 1024
    assert set(cgroup_hierarchy.own.iterdir()) == before


def test_rlimit_as_is_inherited_by_the_whole_tree(linux_ctx: Context) -> None:
    # The grandchild gets the same address-space limit: a 256 MiB allocation fails there too.
    code = (
        "import subprocess, sys; r = subprocess.run([sys.executable, '-c', "
        "'bytearray(256 << 20)'], capture_output=True); print(r.returncode)"
    )
    run = limits.run([sys.executable, "-c", code], limits.rlimit_as(128 * 1024), timeout=60)
    assert (run.rc, run.stdout.strip()) == (0, "1")


def test_floor_cli_finds_the_venv_without_pip_floor(tmp_path: Path, linux_ctx: Context) -> None:
    out = tmp_path / "floor.json"
    done = _repro(
        "floor",
        "venv-without-pip",
        "--limit",
        "as",
        "--lo",
        "4m",
        "--hi",
        "64m",
        "--resolution",
        "1m",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(out.read_text())
    assert found["confirmed"] and 8 * 1024 < found["floor_kib"] < 64 * 1024
    assert found["below"]["rc"] != 0 and "just below" in done.stdout


def test_sweep_cli_maps_segv_to_success(tmp_path: Path, linux_ctx: Context) -> None:
    out = tmp_path / "sweep.json"
    # --timeout: a run in the band where start-up is non-deterministic can hang (signatures.md).
    done = _repro(
        "sweep",
        "venv-without-pip",
        "--limit",
        "as",
        "--lo",
        "4m",
        "--hi",
        "64m",
        "--points",
        "4",
        "--resolution",
        "2m",
        "--timeout",
        "30",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(out.read_text())["sweeps"][0]["ranges"]
    assert (found[0]["rc"], found[0]["stdout_empty"], found[0]["stderr_empty"]) == (-11, True, True)
    assert (found[-1]["rc"], found[-1]["hi_kib"]) == (0, 64 * 1024)
    assert done.stdout.startswith("### venv-without-pip · as · child · /usr/bin/python3")
    assert json.loads(out.read_text())["mode"] == "child"


def test_tree_sweep_of_the_hook_starts_at_the_bare_start_floor(tmp_path: Path, wheel_ctx: Context) -> None:
    # A short top keeps it cheap (no build fits there): the span line must say so.
    out = tmp_path / "sweep.json"
    done = _repro(
        "sweep",
        "hook",
        "--tree",
        "--hi",
        "24m",
        "--points",
        "2",
        "--max-runs",
        "2",
        "--wheelhouse",
        str(wheel_ctx.wheelhouse),
        "--timeout",
        "60",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(out.read_text())
    start = found["bare_start_floor"]
    assert found["mode"] == found["sweeps"][0]["mode"] == "tree"
    assert start["confirmed"] and found["lo_kib"] == start["floor_kib"]
    assert found["build_floor"]["kib"] > found["hi_kib"] == 24 * 1024
    assert "(the bare start floor)" in done.stdout and "WARNING: --hi is at or below it" in done.stdout
    assert "### hook · as · tree · /usr/bin/python3" in done.stdout


def test_import_scenario_is_the_floor_of_everything(wheel_ctx: Context) -> None:
    run = scenarios.run_once(SCENARIOS["import"], wheel_ctx, limits.NO_LIMIT)
    assert (run.rc, run.stderr) == (0, "")
    starved = scenarios.run_once(SCENARIOS["import"], wheel_ctx, limits.rlimit_as(5000))
    assert (starved.rc, starved.stdout, starved.stderr) == (-11, "", "")


def _repro(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "repro", *argv, "--python", DEFAULT_PYTHON],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
