"""``python -m repro faults``: the fault suite (``tests/faults/``) outside tox, as a table.

It runs the same tests pytest and CI run, with ``SDKBOOT_FAULTS_REPORT`` set so that each
test writes down its trials (see ``FaultLog`` in tests/conftest.py), then prints per fault:
the trials, how many passed, and what the failing ones lost, which must be nothing. Tests that
could not run here (no root for the tmpfs, say) are listed with the capability they need.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro import UsageError, report

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "tests" / "faults"
REPORT_ENV = "SDKBOOT_FAULTS_REPORT"
SEED_ENV = "SDKBOOT_FAULT_SEED"


@dataclass
class Fault:
    """One fault's trials, summed over every test that exercises it."""

    name: str
    trials: int = 0
    passed: int = 0
    lost: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.trials > 0 and self.passed == self.trials and not self.lost and not self.failed_tests


@dataclass
class Run:
    faults: list[Fault]
    exit_code: int  # pytest's
    skipped: list[str]  # "test: reason"
    seconds: float
    seed: str
    tail: str  # pytest's last lines, shown when it failed


def collect(records: list[dict[str, Any]]) -> list[Fault]:
    """Sum the per-test records by fault, in the order faults first appear."""
    faults: dict[str, Fault] = {}
    for record in records:
        fault = faults.setdefault(str(record["fault"]), Fault(str(record["fault"])))
        fault.trials += int(record["trials"])
        fault.passed += int(record["passed"])
        fault.lost.extend(str(item) for item in record.get("lost", []))
        if record.get("test_failed") and record["test"] not in fault.failed_tests:
            fault.failed_tests.append(str(record["test"]))
    return sorted(faults.values(), key=lambda f: f.name)


def _skips(output: str) -> list[str]:
    """pytest's ``-rs`` lines: ``SKIPPED [1] path:line: reason``."""
    return [line.split("] ", 1)[-1] for line in output.splitlines() if line.startswith("SKIPPED")]


def _pytest_argv(workers: int, select: str | None) -> list[str]:
    argv = [sys.executable, "-m", "pytest", str(SUITE), "-q", "-rs", "-p", "no:cacheprovider"]
    if workers > 1:
        argv += ["-n", str(workers)]
    if select:
        argv += ["-k", select]
    return argv


def run_suite(workers: int, select: str | None, seed: str) -> Run:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sdkboot-faults-") as directory:
        env = {
            **os.environ,
            REPORT_ENV: directory,
            SEED_ENV: seed,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        done = subprocess.run(_pytest_argv(workers, select), cwd=REPO, env=env, capture_output=True, text=True)
        records: list[dict[str, Any]] = []
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                records.extend(json.load(handle))
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return Run(collect(records), done.returncode, _skips(done.stdout), time.monotonic() - started, seed, tail)


def _lost(fault: Fault) -> str:
    if fault.lost:
        more = f" (+{len(fault.lost) - 1} more)" if len(fault.lost) > 1 else ""
        return report.clip(fault.lost[0], 100) + more
    if fault.failed_tests:
        return "its test failed: " + ", ".join(fault.failed_tests)
    return "nothing"


def table(run: Run) -> str:
    rows = [[f.name, f.trials, f.passed, _lost(f)] for f in run.faults]
    total = [sum(f.trials for f in run.faults), sum(f.passed for f in run.faults)]
    rows.append(["**all**", *total, "nothing" if all(f.ok for f in run.faults) else "see above"])
    return report.markdown_table(["fault", "trials", "passed", "lost"], rows)


def to_json(run: Run) -> dict[str, Any]:
    return {
        "seed": run.seed,
        "seconds": round(run.seconds, 1),
        "pytest_exit": run.exit_code,
        "skipped": run.skipped,
        "faults": [
            {"fault": f.name, "trials": f.trials, "passed": f.passed, "lost": f.lost, "failed_tests": f.failed_tests}
            for f in run.faults
        ],
    }


def exit_code(run: Run) -> int:
    """1 when anything was lost or a test failed; 3 when all passed but some could not run here."""
    if run.exit_code not in (0, 5) or not all(f.ok for f in run.faults) or not run.faults:
        return 1
    return 3 if run.skipped else 0


def _main(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError(f"--workers must be 1 or more, not {args.workers}")
    run = run_suite(args.workers, args.k, args.seed)
    if args.json:
        print(json.dumps(to_json(run), indent=2))
        return exit_code(run)
    print(table(run))
    print(
        f"\n{sum(f.trials for f in run.faults)} trials in {run.seconds:.0f} s, seed {run.seed}"
        f" (replay with --seed {run.seed})"
    )
    for skip in run.skipped:
        print(f"not run here: {skip}")
    if run.exit_code not in (0, 5):
        print(f"\npytest exited {run.exit_code}:\n{run.tail}")
    return exit_code(run)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "faults",
        help="run the fault suite and print trials, passes and losses per fault",
        description="Runs tests/faults/ (races, kills and signals at seeded moments, disk full, "
        "read-only and hostile state dirs, hostile permissions and links, fuzz, clock jumps, "
        "readers during publish) and prints, per fault, the trials, how many passed and "
        "what was lost. Root on Linux runs all of it; elsewhere the root-only faults are "
        "listed as not run. Exit 0: nothing lost; 1: something lost or failed; 3: all "
        "passed but some faults could not run here.",
        epilog="example:\n  python -m repro faults --workers 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workers", type=int, default=2, metavar="N", help="pytest-xdist workers (default 2; 1 runs in one process)"
    )
    parser.add_argument(
        "--seed",
        default=os.environ.get(SEED_ENV, "1301"),
        metavar="SEED",
        help="the seed of every random moment (default 1301, or $SDKBOOT_FAULT_SEED)",
    )
    parser.add_argument("-k", metavar="EXPR", help="only the fault tests pytest -k EXPR selects")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=_main)
