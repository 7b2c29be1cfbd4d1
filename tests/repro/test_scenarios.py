"""Scenario commands and options, without running the heavy steps."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repro import limits, scenarios
from repro.scenarios import SCENARIOS, Command, Context, Scenario


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return Context("/usr/bin/python3", tmp_path / "wheels", tmp_path, timeout=30.0)


def test_every_named_scenario_exists() -> None:
    assert set(SCENARIOS) == {"venv", "venv-without-pip", "pip-venv", "pip-target", "sdkboot", "import"}
    assert [n for n, s in sorted(SCENARIOS.items()) if not s.needs_wheelhouse] == ["venv", "venv-without-pip"]


def test_commands_of_the_setup_free_scenarios(ctx: Context, tmp_path: Path) -> None:
    work, house = tmp_path / "w", str(tmp_path / "wheels")
    assert SCENARIOS["venv"].build(ctx, work).argv == ["/usr/bin/python3", "-m", "venv", f"{work}/env"]
    assert SCENARIOS["venv-without-pip"].build(ctx, work).argv[-2:] == ["--without-pip", f"{work}/env"]
    assert SCENARIOS["pip-target"].build(ctx, work).argv == [
        "/usr/bin/python3", "-m", "pip", "install", "--target", f"{work}/t", "--no-index",
        "--find-links", house, "--no-cache-dir", "claude-agent-sdk"]


def test_sdkboot_scenario_runs_the_cli_with_this_checkout(ctx: Context, tmp_path: Path) -> None:
    command = SCENARIOS["sdkboot"].build(ctx, tmp_path / "w")
    assert command.argv[:4] == ["/usr/bin/python3", "-m", "sdkboot", "ensure"]
    assert command.argv[-1] == "--json" and "--no-index" in command.argv
    assert (Path(command.env["PYTHONPATH"]) / "sdkboot" / "__init__.py").is_file()


def test_run_env_drops_the_hosts_pip_and_python_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/srv/wheels")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = scenarios.run_env({"PYTHONPATH": "/mine"})
    assert "PIP_FIND_LINKS" not in env
    assert (env["PYTHONPATH"], env["PIP_CONFIG_FILE"], env["HOME"]) == ("/mine", scenarios.os.devnull,
                                                                       scenarios.os.environ["HOME"])


def test_run_once_masks_and_removes_its_work_dir(ctx: Context) -> None:
    show = Scenario("show", "print the work dir", False,
                    lambda c, work: Command([sys.executable, "-c", f"print({str(work)!r})"]))
    run = scenarios.run_once(show, ctx, limits.NO_LIMIT)
    assert (run.rc, run.stdout) == (0, "<work>\n")
    assert [p.name for p in ctx.scratch.iterdir() if p.name.startswith("show-")] == []
