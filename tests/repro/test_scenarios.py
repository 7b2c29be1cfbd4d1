"""Scenario commands and options, without running the heavy steps."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from repro import limits, scenarios
from repro.scenarios import CHILD, SCENARIOS, TREE, Command, Context, Launch, Scenario


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context("/usr/bin/python3", tmp_path / "wheels", tmp_path, timeout=30.0)


def test_every_named_scenario_exists() -> None:
    assert set(SCENARIOS) == {"bare", "venv", "venv-without-pip", "pip-venv", "pip-target", "sdkboot", "hook", "import"}
    assert [n for n, s in sorted(SCENARIOS.items()) if not s.needs_wheelhouse] == ["bare", "venv", "venv-without-pip"]
    assert [n for n, s in SCENARIOS.items() if TREE in s.modes] == ["sdkboot", "hook"]


def test_commands_of_the_setup_free_scenarios(ctx: Context, tmp_path: Path) -> None:
    work, house, launch = tmp_path / "w", str(tmp_path / "wheels"), Launch()
    assert SCENARIOS["bare"].build(ctx, work, launch).argv == ["/usr/bin/python3", "-c", "pass"]
    assert SCENARIOS["venv"].build(ctx, work, launch).argv == ["/usr/bin/python3", "-m", "venv", f"{work}/env"]
    assert SCENARIOS["venv-without-pip"].build(ctx, work, launch).argv[-2:] == ["--without-pip", f"{work}/env"]
    assert SCENARIOS["pip-target"].build(ctx, work, launch).argv == [
        "/usr/bin/python3",
        "-m",
        "pip",
        "install",
        "--target",
        f"{work}/t",
        "--no-index",
        "--find-links",
        house,
        "--no-cache-dir",
        "claude-agent-sdk",
    ]
    assert SCENARIOS["venv"].build(ctx, work, launch).limited  # the step is the whole tree


def test_sdkboot_scenario_runs_the_cli_with_this_checkout(ctx: Context, tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    command = SCENARIOS["sdkboot"].build(ctx, tmp_path / "w", Launch(TREE))
    assert command.argv[:4] == ["/usr/bin/python3", "-m", "sdkboot", "ensure"]
    assert command.argv[-1] == "--json" and "--no-index" in command.argv
    assert (Path(command.env["PYTHONPATH"]) / "sdkboot" / "__init__.py").is_file()


def test_tree_mode_limits_sdkboot_itself(ctx: Context, tmp_path: Path) -> None:
    command = SCENARIOS["hook"].build(ctx, tmp_path, Launch(TREE, "ulimit -v 30720"))
    assert command.limited
    assert command.argv[:4] == ["/usr/bin/python3", "-m", "sdkboot", "hook"]
    assert command.argv[command.argv.index("--python") + 1] == "/usr/bin/python3"


def test_child_mode_limits_only_the_build_interpreter(ctx: Context, tmp_path: Path) -> None:
    command = SCENARIOS["hook"].build(ctx, tmp_path, Launch(CHILD, "ulimit -v 30720"))
    assert not command.limited  # sdkboot itself runs unlimited
    wrapper = Path(command.argv[command.argv.index("--python") + 1])
    assert wrapper.read_text() == limits.wrapper_script("ulimit -v 30720", "/usr/bin/python3")
    assert wrapper.stat().st_mode & 0o111


def test_sdkboot_args_reach_the_command(tmp_path: Path) -> None:
    ctx = Context("/usr/bin/python3", tmp_path, tmp_path, sdkboot_args=("--no-preflight",))
    assert SCENARIOS["hook"].build(ctx, tmp_path, Launch(TREE)).argv[-1] == "--no-preflight"


def test_a_mode_the_scenario_lacks_is_refused(ctx: Context) -> None:
    with pytest.raises(scenarios.ScenarioError, match="no tree mode"):
        scenarios.run_once(SCENARIOS["venv"], ctx, limits.NO_LIMIT, TREE)


def test_the_hook_report_says_whether_its_contract_holds() -> None:
    good = (
        '{"async": true, "asyncTimeout": 1}\n{"metrics": {"sdk_bootstrap": 3, "sdk_bootstrap_err": 17, '
        '"sdk_bootstrap_phase": 2}}\n'
    )
    run = limits.Run((), "", 0, good, "", 0.1, None, 0)
    said = scenarios.read_hook(run)
    assert (said.text, said.holds) == ("BUILD_FAILED out_of_memory phase venv", True)
    died = scenarios.read_hook(limits.Run((), "", -9, good.splitlines()[0], "", 0.1, None, 0))
    assert died.holds is False and died.text.startswith("protocol broken (1 lines")


def test_run_env_drops_the_hosts_pip_and_python_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/srv/wheels")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = scenarios.run_env({"PYTHONPATH": "/mine"})
    assert "PIP_FIND_LINKS" not in env
    assert (env["PYTHONPATH"], env["PIP_CONFIG_FILE"], env["HOME"]) == ("/mine", os.devnull, os.environ["HOME"])


def test_run_once_masks_and_removes_its_work_dir(ctx: Context) -> None:
    show = Scenario(
        "show",
        "print the work dir",
        False,
        lambda c, work, launch: Command([sys.executable, "-c", f"print({str(work)!r})"]),
    )
    run = scenarios.run_once(show, ctx, limits.NO_LIMIT)
    assert (run.rc, run.stdout) == (0, "<work>\n")
    assert [p.name for p in ctx.scratch.iterdir() if p.name.startswith("show-")] == []
