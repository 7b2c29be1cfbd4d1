"""The lean strategy: pip resolves, venv --without-pip, sdkboot installs, the import verifies."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import sdkboot
from sdkboot.codes import Outcome, Phase, Strategy
from sdkboot.runner import Completed
from sdkboot.strategies.lean import PARALLEL_MIN_BYTES, Planned, jobs, parse_plan
from tests.conftest import PROBE_DIST, PROBE_MODULE
from tests.fake_envs import MIN_PYTHON, child_env
from tests.fake_envs import sdkboot as run_sdkboot
from tests.test_ensure import Clock, FakeRunner, make_spec
from tests.test_memlimit import V1_DIR, V1_MEMORY, tree

RUNNER = importlib.import_module("sdkboot.runner")


def report(*items: Any) -> bytes:
    return json.dumps({"version": "1", "install": list(items)}).encode()


def item(name: str, url: str, requested: bool = False) -> Any:
    return {
        "metadata": {"name": name, "version": "1.0"},
        "requested": requested,
        "download_info": {"url": url, "archive_info": {"hashes": {"sha256": "ab" * 32}}},
    }


def test_the_report_names_each_wheel_and_whether_it_was_asked_for() -> None:
    plan = parse_plan(
        report(
            item("a", "file:///w/a-1.0-py3-none-any.whl", True),
            item("b", "https://files.example/b-1.0-py3-none-any.whl"),
        )
    )
    assert plan == [
        Planned("a", "file:///w/a-1.0-py3-none-any.whl", "ab" * 32, True),
        Planned("b", "https://files.example/b-1.0-py3-none-any.whl", "ab" * 32, False),
    ]
    assert (plan[0].local, plan[1].local) == ("/w/a-1.0-py3-none-any.whl", "")


@pytest.mark.parametrize("text", [b"", b"[]", b'{"install": [{"metadata": {}}]}', b"not json"])
def test_anything_but_a_report_is_a_value_error(text: bytes) -> None:
    with pytest.raises(ValueError):
        parse_plan(text)


class LeanFake(FakeRunner):
    """Adds the lean steps to the venv/pip fake: the resolve answers with ``plan``."""

    def __init__(self, plan: bytes, **script: Any) -> None:
        super().__init__(**script)
        self.plan = plan

    def __call__(
        self, argv: Sequence[str], timeout: float | None = None, env: Any = None, on_line: Any = None, **options: Any
    ) -> Completed:
        if "--dry-run" in argv:
            self.calls.append(list(argv))
            return Completed(0, self.plan, b"", 0.01)
        return super().__call__(argv, timeout, env, on_line)


def test_a_closure_with_an_sdist_skips_lean_and_the_next_strategy_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = LeanFake(report(item("sdkboot-probe", "file:///w/sdkboot-probe-1.0.tar.gz", True)))
    monkeypatch.setattr(RUNNER, "run", fake)
    result = sdkboot.ensure(make_spec(tmp_path, strategies=("lean", "venv")), clock=Clock())
    assert (result.outcome, result.strategy) == (Outcome.BUILT, Strategy.VENV), result.message
    assert result.skipped == ("lean: sdkboot-probe has no wheel here (an sdist needs pip to build it)",)
    assert fake.kinds[1:] == ["venv", "pip", "verify"]  # nothing of lean's was built first


def test_no_pip_to_resolve_with_skips_lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = LeanFake(b"")

    def no_pip(
        argv: Sequence[str], timeout: float | None = None, env: Any = None, on_line: Any = None, **options: Any
    ) -> Completed:
        if "--dry-run" in argv:
            fake.calls.append(list(argv))
            return Completed(1, b"", b"/usr/bin/python3: No module named pip\n", 0.01)
        return FakeRunner.__call__(fake, argv, timeout, env, on_line)

    monkeypatch.setattr(RUNNER, "run", no_pip)
    result = sdkboot.ensure(make_spec(tmp_path, strategies=("lean", "venv")), clock=Clock())
    assert result.outcome is Outcome.BUILT
    assert result.skipped == ("lean: the build interpreter has no pip to resolve with",)


def test_a_killed_resolve_stops_the_build_and_cools_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def killed(
        argv: Sequence[str], timeout: float | None = None, env: Any = None, on_line: Any = None, **options: Any
    ) -> Completed:
        return Completed(-9, b"", b"", 0.01)

    monkeypatch.setattr(RUNNER, "run", killed)
    result = sdkboot.ensure(make_spec(tmp_path, strategies=("lean", "venv")), clock=Clock())
    assert (result.phase, result.err_kind, result.strategy) == (Phase.RESOLVE, "signal_killed:-9", Strategy.LEAN)
    assert result.subprocesses == 1  # venv + pip would need even more memory: not tried


@pytest.mark.e2e
def test_lean_builds_a_real_env_from_a_local_wheelhouse(tmp_path: Path, probe_wheelhouse: Path) -> None:
    state = tmp_path / "state"
    argv = [
        "ensure",
        "--json",
        *MIN_PYTHON,
        "--strategy",
        "lean",
        "--state-dir",
        str(state),
        "--import-name",
        PROBE_MODULE,
        "--no-index",
        "--find-links",
        str(probe_wheelhouse),
        PROBE_DIST,
    ]
    built = json.loads(run_sdkboot(*argv).stdout)
    assert (built["outcome"], built["strategy"], built["metrics"]["sdk_bootstrap_strategy"]) == ("BUILT", "lean", 3)
    again = json.loads(run_sdkboot(*argv).stdout)
    assert (again["outcome"], again["subprocesses"]) == ("NOOP_VENV", 0)
    env = Path(built["env"])
    installer = list(env.glob("lib/python*/site-packages/sdkboot_probe-1.0.dist-info/INSTALLER"))
    assert [p.read_text() for p in installer] == ["sdkboot\n"]
    assert not (env / ".sdkboot-wheels").exists()
    code = (
        "import sdkboot, sys; a = sdkboot.activate(sdkboot.Spec(import_name=sys.argv[1], state_dir=sys.argv[2]));"
        " import sdkboot_probe; print(a.ok, sdkboot_probe.VALUE)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, PROBE_MODULE, str(state)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert done.stdout == "True 42\n", done.stderr


@pytest.mark.parametrize(
    "limit, expected",
    [(None, 2), (str(PARALLEL_MIN_BYTES), 2), (str(PARALLEL_MIN_BYTES - 4096), 1), (str(54 << 20), 1)],
)
def test_one_installer_process_under_a_tight_cgroup_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str | None, expected: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    files = {f"{V1_DIR}/memory.limit_in_bytes": limit + "\n"} if limit else {}
    assert jobs(tree(tmp_path, V1_MEMORY, "4:memory:/", files)) == expected
