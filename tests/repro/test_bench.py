"""``python -m repro bench``: ratio rows, the table, the hook contract check, and the real thing.

The pure parts run anywhere on hand-made documents; the ``linux``/``root`` tests run real builds
of the claude-agent-sdk closure under cgroup limits: ``bench --quick`` end to end (the CI size),
and the proof that the lean strategy succeeds at a limit where naive venv + pip is killed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from repro import limits
from repro.bench import floors as writer
from repro.bench import ratios, render
from repro.bench.measure import run_way
from repro.bench.ways import WAYS, Context, Tools, hook_built, hook_contract
from sdkboot import floors as runtime_floors
from sdkboot.floors import Floor
from tests.conftest import require_capability
from tests.repro.conftest import require_linux_root

REPO = Path(__file__).resolve().parent.parent.parent


def doc(**ways: dict[str, Any]) -> dict[str, Any]:
    return {"date": "2026-12-02", "machine": {"cpu": "test"}, "ways": ways, "wheelhouse": {"requirement": "x"}}


def way(wall: float, cgroup: int, as_kib: int) -> dict[str, Any]:
    return {
        "wall_median_s": wall,
        "wall_s": [wall],
        "cgroup_floor": {"floor_kib": cgroup, "confirmed": True},
        "as_floor": {"floor_kib": as_kib, "confirmed": True},
    }


def test_ratio_rows_compare_within_one_run_and_say_whether_each_goal_is_met() -> None:
    found = ratios.rows(
        doc(
            **{
                "sdkboot-lean": way(4.0, 54 * 1024, 80 * 1024),
                "naive": way(10.0, 85 * 1024, 81 * 1024),
                "import": way(1.0, 49 * 1024, 81 * 1024),
                "uv": way(3.0, 55 * 1024, 1148 * 1024),
            }
        )
    )
    by = {(r["what"], r["baseline"]): r for r in found}
    assert by[("cgroup floor", "import")] == {
        "what": "cgroup floor",
        "way": "sdkboot-lean",
        "baseline": "import",
        "ratio": 1.1,
        "goal": 1.1,
        "met": True,
    }
    assert by[("cold wall", "uv")]["ratio"] == 1.33 and by[("cold wall", "uv")]["met"] is False
    assert by[("RLIMIT_AS floor", "import")]["met"] is True
    assert ("cgroup floor", "pip-target") not in by  # a way that was not measured gives no row
    assert ratios.line(by[("cold wall", "uv")]) == "sdkboot-lean cold wall / uv = 1.33  (goal <= 1.2: MISSED)"


def test_the_cpu_rows_report_the_work_behind_the_wall_time() -> None:
    found = ratios.rows(
        doc(**{"sdkboot-lean": {"cpu_median_s": 3.0}, "naive": {"cpu_median_s": 6.0}, "uv": {"cpu_median_s": 2.0}})
    )
    by = {(r["what"], r["baseline"]): r for r in found}
    assert by[("cold CPU", "naive")] == {
        "what": "cold CPU",
        "way": "sdkboot-lean",
        "baseline": "naive",
        "ratio": 0.5,
        "goal": None,
        "met": None,
    }
    assert ratios.line(by[("cold CPU", "uv")]) == "sdkboot-lean cold CPU / uv = 1.5"
    text = render.table(doc(naive={"wall_median_s": 10.0, "wall_s": [10.0], "cpu_median_s": 6.3}))
    assert "| `naive` | 10.0 s (n=1) | 6.3 s |" in text


def test_the_table_shows_every_way_and_what_was_not_measured() -> None:
    text = render.table(
        {
            **doc(naive=way(10.0, 85 * 1024, 81 * 1024), uv={"wall_median_s": None, "failures": ["rc 1: boom"]}),
            "skipped": {"virtualenv": "virtualenv not installed"},
        }
    )
    assert "| `naive` | 10.0 s (n=1) |" in text and "85.0 MiB" in text
    assert "failed: rc 1: boom" in text and "not measured" in text
    assert "skipped virtualenv: virtualenv not installed" in text


def run(stdout: str, rc: int = 0) -> limits.Run:
    return limits.Run(("x",), "none", rc, stdout, "", 1.0, None, 0)


@pytest.mark.parametrize(
    "stdout, why",
    [
        ('{"async": true}\n{"metrics": {"sdk_bootstrap": 2}}\n', None),
        ('{"async": true}\n', "1 stdout lines"),
        ('{"async": true}\n{"metrics": {}}\n{"metrics": {}}\n', "3 stdout lines"),
        ('{"async": true}\nnot json\n', "a stdout line is not JSON"),
    ],
)
def test_the_hook_contract_is_checked_on_every_run(stdout: str, why: Any) -> None:
    assert hook_contract(run(stdout)) == why
    assert hook_contract(run(stdout, rc=1)) == "exit 1"


def test_the_bench_measures_the_build_not_the_preflight(tmp_path: Path) -> None:
    ctx = Context(sys.executable, tmp_path / "wheels", tmp_path, Tools(None, None), 60.0)
    argv, _ = WAYS["sdkboot-lean"].command(ctx, tmp_path / "work")
    assert "--no-preflight" in argv and argv[argv.index("--strategy") + 1] == "lean"


def test_a_hook_that_answered_build_failed_is_no_build() -> None:
    assert hook_built(run('{"async": true}\n{"metrics": {"sdk_bootstrap": 2}}\n'))
    assert not hook_built(run('{"async": true}\n{"metrics": {"sdk_bootstrap": 3, "sdk_bootstrap_phase": 8}}\n'))


def test_every_registered_strategy_is_a_way() -> None:
    from sdkboot.strategies.all_strategies import STRATEGIES

    assert {f"sdkboot-{label}" for label in STRATEGIES} <= set(WAYS)


@pytest.mark.linux
@pytest.mark.root
def test_lean_builds_and_imports_under_a_cgroup_limit_that_kills_naive_venv_and_pip(
    tmp_path: Path, filled_wheelhouse: Path
) -> None:
    require_linux_root()
    ctx = Context(sys.executable, filled_wheelhouse.resolve(), tmp_path, Tools(None, None), 300.0)
    limit = limits.Cgroup(64 * 1024)  # naive's floor is 82-89 MiB here, lean's 54
    naive = run_way(WAYS["naive"], ctx, limit)
    assert naive.rc != 0 and naive.oom_kills >= 1, naive
    lean = run_way(WAYS["sdkboot-lean"], ctx, limit)
    assert lean.rc == 0 and hook_contract(lean) is None, (lean.stdout, lean.stderr)
    metrics = json.loads(lean.stdout.splitlines()[-1])["metrics"]
    assert (metrics["sdk_bootstrap"], metrics["sdk_bootstrap_strategy"]) == (2, 3)


@pytest.mark.linux
@pytest.mark.root
@pytest.mark.slow
def test_bench_quick_runs_end_to_end(tmp_path: Path, filled_wheelhouse: Path) -> None:
    require_linux_root()
    if importlib.util.find_spec("matplotlib") is None:
        require_capability("matplotlib (the plot extra) draws floors.png: pip install -e '.[plot]'")
    out = tmp_path / "quick.json"
    env = {**os.environ, "SDKBOOT_WHEELHOUSE": str(filled_wheelhouse), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "repro", "bench", "--quick", "--out", str(out), "--plot", str(tmp_path / "floors.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result["ways"]) == {"naive", "sdkboot-lean", "import"}
    assert result["ways"]["sdkboot-lean"]["cgroup_floor"]["floor_kib"]
    assert result["session"]["ensure_noop"]["calls"] == 10_000
    assert any(r["baseline"] == "import" for r in result["ratios"])
    assert (tmp_path / "floors.png").stat().st_size > 0
    assert "sdkboot-lean cgroup floor / import =" in done.stdout


def test_the_runtime_ships_the_file_this_writes_and_reads_its_format() -> None:
    assert runtime_floors.load()["schema"] == writer.SCHEMA == runtime_floors.SCHEMA
    assert writer.RUNTIME_FILE.name == runtime_floors.FILE and writer.RUNTIME_FILE.is_file()
    bench = {
        "date": "2026-12-02",
        "wheelhouse": {"requirement": "claude-agent-sdk"},
        "ways": {
            "sdkboot-lean": {"sdkboot": True, "cgroup_floor": {"floor_kib": 54272}, "as_floor": {"floor_kib": 83968}},
            "import": {"cgroup_floor": {"floor_kib": 49664}},
        },
    }
    written = json.loads(json.dumps(writer.floors_doc(bench)))
    assert runtime_floors.for_requirements(["claude-agent-sdk"], written) == {"lean": Floor("lean", 53.0, 82.0)}
