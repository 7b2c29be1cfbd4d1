"""A fixed mutation run: 20 small changes to the runtime, each of which a test should catch.

``python3 -m tests.mutation_run`` (from the repo root) copies the tracked tree into a scratch
dir, applies one mutation at a time there (never to this checkout), runs the tests that should
notice it with ``-x`` and reports caught / slipped. Not collected by pytest (no ``test_`` name).

Test selection is targeted to keep the run under a few minutes on two shared cores: each
mutation names the test files of the module it touches (the unit tier's marker expression from
tox.ini), plus, with ``e2e``, the real-interpreter tests where the change only shows for real.
``--full`` runs the whole unit tier (and the e2e tier for ``e2e`` mutations) instead.
``--only N,M`` runs some of them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UNIT = "not e2e and not linux and not root and not docker"
E2E = "e2e or linux or root or docker"


@dataclass(frozen=True)
class Mutation:
    path: str
    old: str
    new: str
    breaks: str
    tests: tuple[str, ...]
    e2e: tuple[str, ...] = ()


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "sdkboot/strategies/target.py",
        '[spec.python, "-I", "-S", "-c", code]',
        '[spec.python, "-I", "-c", code]',
        "the --target verification import sees the host's site-packages (a broken install looks healthy)",
        ("tests/test_target.py", "tests/test_all_strategies.py", "tests/test_ensure.py"),
        ("tests/test_e2e_chain.py", "tests/test_e2e_builds.py"),
    ),
    Mutation(
        "sdkboot/memlimit.py",
        'if path != base and not path.startswith(base + "/"):',
        "if path != base and not path.startswith(base):",
        "a sibling cgroup sharing a name prefix (/docker/abc vs /docker/abcdef) is read as ours",
        ("tests/test_memlimit.py", "tests/test_preflight.py"),
    ),
    Mutation(
        "sdkboot/lock.py",
        "    os.ftruncate(fd, 0)\n    os.lseek(fd, 0, os.SEEK_SET)\n",
        "    os.lseek(fd, 0, os.SEEK_SET)\n",
        "a shorter PID written over a longer one leaves its tail: the lock file names a wrong process",
        ("tests/test_lock.py", "tests/faults/test_lock_faults.py"),
    ),
    Mutation(
        "sdkboot/__init__.py",
        "import sys\nimport types\n",
        "import subprocess  # noqa: F401\nimport sys\nimport types\n",
        "import sdkboot loads subprocess (the no-op path pays for build machinery)",
        ("tests/test_entry.py", "tests/test_ensure.py"),
    ),
    Mutation(
        "sdkboot/ensure.py",
        "from .lock import BuildLock, holder\n",
        "from .lock import BuildLock, holder\nfrom .classify import Failure, from_exception  # noqa: F401\n",
        "the no-op ensure() loads the classifier",
        ("tests/test_ensure.py", "tests/test_entry.py"),
    ),
    Mutation(
        "sdkboot/ensure.py",
        "import time\n",
        "import threading  # noqa: F401\nimport time\n",
        "the no-op ensure() loads threading",
        ("tests/test_ensure.py", "tests/test_entry.py"),
    ),
    Mutation(
        "sdkboot/runner.py",
        "start_new_session=own_group, umask=0o022,",
        "start_new_session=own_group,",
        "a child builds with the user's umask: a 002 umask makes the env group-writable and refused",
        ("tests/test_runner.py",),
    ),
    Mutation(
        "sdkboot/ownership.py",
        "elif (st.st_uid != me and st.st_uid != 0) or st.st_mode & _WRITABLE_BY_OTHERS:",
        "elif st.st_uid != me and st.st_uid != 0:",
        "a world-writable dir on the state dir's path is trusted",
        ("tests/test_ownership.py", "tests/faults/test_hostile_permissions.py"),
    ),
    Mutation(
        "sdkboot/state.py",
        "return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10 ** 12",
        "return isinstance(value, int) and not isinstance(value, bool) and 0 <= value",
        "a 400-digit built_at passes validation (float() of it overflows later)",
        ("tests/test_state.py", "tests/faults/test_hostile_files.py"),
    ),
    Mutation(
        "sdkboot/retention.py",
        "(kept >= keep_count or now",
        "(kept > keep_count or now",
        "retention keeps one build more than its bound",
        ("tests/test_retention.py",),
    ),
    Mutation(
        "sdkboot/events.py",
        "os.replace(path, rotated(path))  # keep exactly one old file",
        "os.remove(path)",
        "a full event log is dropped instead of rotated (history lost)",
        ("tests/test_events.py", "tests/faults/test_log_rotation.py"),
    ),
    Mutation(
        "sdkboot/consumer.py",
        "    if built >= tuple(spec.min_python):\n",
        "    if built > tuple(spec.min_python):\n",
        "an env built exactly on --min-python is called too old and rebuilt",
        ("tests/test_consumer.py", "tests/test_ensure.py", "tests/test_cmd_status.py", "tests/test_cmd_run.py"),
    ),
    Mutation(
        "sdkboot/progress.py",
        "    if cells(text) <= limit:\n",
        "    if cells(text) <= limit + 20:\n",
        "the progress line runs past the terminal's width",
        ("tests/test_progress.py",),
    ),
    Mutation(
        "sdkboot/memlimit.py",
        "return None if version == 1 and value >= V1_UNLIMITED else value",
        "return value",
        "cgroup v1's 'unlimited' (2^63 rounded to pages) is read as a real limit",
        ("tests/test_memlimit.py", "tests/test_preflight.py"),
    ),
    Mutation(
        "sdkboot/cooldown.py",
        "return elapsed if elapsed >= 0 else math.inf",
        "return abs(elapsed)",
        "a cooldown record from the future (clock stepped back) holds builds off",
        ("tests/test_cooldown.py", "tests/faults/test_clock.py"),
    ),
    Mutation(
        "sdkboot/lock.py",
        "            os.ftruncate(fd, 0)\n            _unlock(fd)\n",
        "            _unlock(fd)\n",
        "a released lock still names its old holder (status and the off-Linux holder() trust it)",
        ("tests/test_lock.py", "tests/faults/test_lock_faults.py"),
    ),
    Mutation(
        "sdkboot/strategies/target.py",
        '    "sys.path[:] = sys.path[n:] + sys.path[:n]\\n"\n',
        "",
        "the --target dir is checked behind the stdlib, not first as activate() puts it",
        ("tests/test_target.py", "tests/test_all_strategies.py", "tests/test_ensure.py"),
        ("tests/test_e2e_chain.py",),
    ),
    Mutation(
        "sdkboot/safefs.py",
        '_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)',
        "_NOFOLLOW = 0",
        "state files are opened through a planted symlink",
        ("tests/test_safefs.py", "tests/faults/test_defects_links.py"),
    ),
    Mutation(
        "sdkboot/classify.py",
        "if named and 0 < int(named.group(1)) <= _MAX_SIGNAL:",
        "if named and 0 < int(named.group(1)) <= _MAX_SIGNAL and phase is not Phase.VENV:",
        "venv's ensurepip child killed by a signal (said only in its text) is not a signal kill: no cooldown",
        ("tests/test_classify.py", "tests/faults/test_classifier_faults.py", "tests/test_ensure.py"),
    ),
    Mutation(
        "sdkboot/ownership.py",
        "    if me is not None and st.st_uid != me and st.st_uid != 0:\n",
        "    if me is not None and st.st_uid != me and st.st_uid != 0 and False:\n",
        "an entry owned by another (non-root) user is trusted",
        ("tests/test_ownership.py", "tests/faults/test_hostile_permissions.py"),
        ("tests/test_ownership.py",),  # chown to another user: the root-marked tests
    ),
)


def copy_tree(dest: Path) -> None:
    """The tracked files as they are in this checkout (uncommitted edits included)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True)
    for rel in listed.stdout.decode().split("\0"):
        if not rel or not (REPO / rel).is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)


def pytest_run(tree: Path, files: Sequence[str], marker: str, full: bool, tier_dir: str) -> tuple[int, str]:
    # A guard file that this tree does not have yet (the run before the guards) is left out.
    selection = [tier_dir] if full else [name for name in files if (tree / name).exists()]
    if not selection:
        return 5, ""
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-m", marker, *selection]
    if full:
        argv[3:3] = ["-n", "2"]
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True)
    failed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return done.returncode, (failed[0] if failed else "")


def run_one(tree: Path, mutation: Mutation, full: bool) -> tuple[bool, str]:
    path = tree / mutation.path
    original = path.read_text(encoding="utf-8")
    count = original.count(mutation.old)
    if count != 1:
        raise SystemExit(f"mutation_run: {mutation.path}: the old text occurs {count} times, not once")
    path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
    try:
        rc, failed = pytest_run(tree, mutation.tests, UNIT, full, "tests")
        if rc in (1, 2):  # 2: collection failed, i.e. the mutant does not even import
            return True, f"unit {failed}"
        if rc not in (0, 5):
            raise SystemExit(f"mutation_run: pytest could not run ({rc}): check the selection")
        if mutation.e2e:
            rc, failed = pytest_run(tree, mutation.e2e, E2E, full, "tests")
            if rc in (1, 2):
                return True, f"e2e {failed}"
        return False, "-"
    finally:
        path.write_text(original, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.mutation_run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="run the whole tier, not the targeted files")
    parser.add_argument("--only", default="", help="comma-separated mutation numbers (1-based)")
    args = parser.parse_args(argv)
    chosen = [int(n) for n in args.only.split(",") if n] or list(range(1, len(MUTATIONS) + 1))
    caught = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sdkboot-mutants-") as scratch:
        tree = Path(scratch)
        copy_tree(tree)
        for number in chosen:
            mutation = MUTATIONS[number - 1]
            t0 = time.monotonic()
            hit, by = run_one(tree, mutation, args.full)
            caught += hit
            print(
                f"{number:2d} {'caught ' if hit else 'SLIPPED'} {time.monotonic() - t0:6.1f}s"
                f"  {mutation.path}: {mutation.breaks}\n   by: {by}",
                flush=True,
            )
    print(f"caught {caught} of {len(chosen)} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
