"""Size parsing and the runner's contract: never raises OSError, always reaps the whole tree."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repro import cgroups, limits
from tests.repro.conftest import gone_within


@pytest.mark.parametrize(
    ("text", "kib"),
    [
        ("5000k", 5000),
        ("5000", 5000),
        ("64m", 65536),
        ("64MiB", 65536),
        ("1.5g", 1572864),
        (" 2M ", 2048),
        (".5m", 512),
        ("7336KiB", 7336),
        ("10.25mb", 10496),
        ("1G", 1048576),
    ],
)
def test_parse_size_accepts_k_m_g(text: str, kib: int) -> None:
    assert limits.parse_size(text) == kib


@pytest.mark.parametrize("text", ["", "m", "abc", "-5m", "5x", "0k", "0.0004k", "1e3k", "nan", "5 m b", "64t"])
def test_parse_size_rejects_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match=r"5000k, 64m, 1\.5g|at least 1k"):
        limits.parse_size(text)


@pytest.mark.parametrize(
    ("kib", "text"),
    [
        (5000, "5000 KiB"),
        (7336, "7336 KiB"),
        (65536, "64 MiB"),
        (58880, "57.5 MiB"),
        (83008, "81.06 MiB"),
        (1024, "1 MiB"),
    ],
)
def test_format_size(kib: int, text: str) -> None:
    assert limits.format_size(kib) == text


@settings(deadline=None)  # a shared, loaded machine: no per-example time limit
@given(st.integers(min_value=1, max_value=64 * 1024 * 1024))
def test_format_then_parse_is_within_display_precision(kib: int) -> None:
    parsed = limits.parse_size(limits.format_size(kib).replace(" ", ""))
    assert abs(parsed - kib) <= 6  # MiB shown to 2 decimals: at most 5.12 KiB off


def test_kinds_are_table_driven() -> None:
    assert limits.KINDS["as"].make(5000) == limits.rlimit_as(5000)
    assert limits.KINDS["cgroup"].make(10240) == limits.cgroup(10)
    assert limits.describe(limits.cgroup(57.5)) == "cgroup 57.5 MiB"
    assert limits.describe(limits.NO_LIMIT) == "no limit"


def test_run_captures_both_streams() -> None:
    code = "import sys; print('out'); sys.stderr.write('err'); sys.exit(3)"
    run = limits.run([sys.executable, "-c", code], timeout=60)
    assert (run.rc, run.stdout, run.stderr, run.timed_out, run.error) == (3, "out\n", "err", False, None)
    assert run.peak_kib and run.peak_kib > 1000  # an interpreter is at least a few MiB


def test_run_counts_the_cpu_of_the_command_and_the_children_it_reaped() -> None:
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}])"
    run = limits.run([sys.executable, "-c", child], timeout=30)
    assert run.rc == 0 and run.cpu_s is not None and 0.3 <= run.cpu_s < run.wall_s + 1


def test_run_reports_a_missing_command_instead_of_raising(tmp_path: Path) -> None:
    run = limits.run([str(tmp_path / "absent")], timeout=5)
    assert run.rc is None
    assert run.error and run.error.startswith("FileNotFoundError")


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(600)"
    )
    # Long enough for two interpreters to start on a loaded machine: the pid file must exist.
    run = limits.run([sys.executable, "-c", code], timeout=10)
    assert run.timed_out and run.rc == -9
    assert gone_within(int(pid_file.read_text()), 30.0)


def test_the_shell_form_of_each_limit(tmp_path: Path) -> None:
    with limits.rlimit_as(30720).applied() as hooks:
        assert hooks.shell == "ulimit -v 30720" and hooks.preexec is not None
    with limits.NO_LIMIT.applied() as hooks:
        assert hooks.shell == ":" and hooks.preexec is None


def test_the_shell_form_of_a_cgroup_joins_its_procs_file(tmp_path: Path) -> None:
    # A v2 fixture tree: the controller files are plain files here, so only what the harness
    # writes can be checked, never the kernel's reaction.
    own = tmp_path / "my dir"
    own.mkdir()
    hierarchy = cgroups.Hierarchy(cgroups.FLAVORS[2], own, tmp_path)
    limit = limits.Cgroup(24 * 1024, hierarchy)
    with limit.applied() as hooks:
        (group,) = [p for p in own.iterdir() if p.name.startswith("repro-")]
        assert (group / "memory.max").read_text() == str(24 * 1024 * 1024)
        assert hooks.shell == f"echo $$ > '{group}/cgroup.procs' || exit 97"
        (group / "memory.max").unlink()  # so the fixture dir can be removed like a real cgroup


def test_a_wrapper_limits_every_use_but_sdkboots_interpreter_probe(tmp_path: Path) -> None:
    # The "limit" here is an exit: what it reaches is plain to see.
    wrapper = tmp_path / "python"
    wrapper.write_text(limits.wrapper_script("exit 42", sys.executable))
    wrapper.chmod(0o755)
    probe = tmp_path / "sdkboot" / "discovery" / "_probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("print('probed')")
    assert limits.run([str(wrapper), "-c", "print(1)"], timeout=60).rc == 42
    assert limits.run([str(wrapper), "-m", "venv", "x"], timeout=60).rc == 42
    free = limits.run([str(wrapper), "-I", str(probe)], timeout=60)
    assert (free.rc, free.stdout) == (0, "probed\n")
