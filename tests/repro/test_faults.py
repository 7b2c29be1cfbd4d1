"""``python -m repro faults``: the per-fault sums, the table, the exit codes, and one real run."""

from __future__ import annotations

import json
import subprocess
import sys

from repro import faults
from repro.faults import Fault, Run, collect
from tests.conftest import REPO

RECORDS = [
    {"fault": "kills", "test": "t::a", "trials": 3, "passed": 3, "lost": []},
    {
        "fault": "disk full",
        "test": "t::b",
        "trials": 2,
        "passed": 1,
        "lost": ["the lock stayed held"],
        "test_failed": True,
    },
    {"fault": "kills", "test": "t::c", "trials": 4, "passed": 4, "lost": []},
]


def run_of(found: list[Fault], skipped: list[str] = [], code: int = 0) -> Run:  # noqa: B006 - never mutated
    return Run(found, code, list(skipped), 1.0, "7", "")


def test_records_are_summed_by_fault() -> None:
    found = {f.name: f for f in collect(RECORDS)}
    assert (found["kills"].trials, found["kills"].passed, found["kills"].ok) == (7, 7, True)
    assert found["disk full"].lost == ["the lock stayed held"] and found["disk full"].failed_tests == ["t::b"]
    assert not found["disk full"].ok


def test_the_table_says_what_was_lost() -> None:
    text = faults.table(run_of(collect(RECORDS)))
    assert "| kills | 7 | 7 | nothing |" in text
    assert "| disk full | 2 | 1 | the lock stayed held |" in text
    assert text.splitlines()[-1] == "| **all** | 9 | 8 | see above |"


def test_exit_codes() -> None:
    clean = [Fault("kills", 2, 2)]
    assert faults.exit_code(run_of(clean)) == 0
    assert faults.exit_code(run_of(clean, ["test: needs root"])) == 3
    assert faults.exit_code(run_of(collect(RECORDS))) == 1
    assert faults.exit_code(run_of(clean, code=1)) == 1
    assert faults.exit_code(run_of([])) == 1  # nothing ran is no pass
    assert faults.exit_code(run_of([Fault("never tried")])) == 1


def test_a_real_run_of_one_fault() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "repro", "faults", "--json", "--workers", "1", "-k", "d18"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert [f["fault"] for f in data["faults"]] == ["huge signal numbers in the text (D18)"]
    assert data["faults"][0]["trials"] == data["faults"][0]["passed"] == 4 and data["seed"] == "1301"
