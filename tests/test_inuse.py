"""Live-use locks: held by activate() for the life of the process (exec included), never by a dead one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdkboot import inuse
from tests.fake_envs import child_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock")

# Holds the build's lock, optionally execs a fresh interpreter (which keeps the fd), then waits for EOF.
_HOLDER = textwrap.dedent("""
    import os, sys
    from sdkboot import inuse
    assert inuse.hold(sys.argv[1]) is None
    if sys.argv[2] == "exec":
        os.execv(sys.executable, [sys.executable, "-c", "import sys; print('held', flush=True); sys.stdin.read()"])
    print("held", flush=True)
    sys.stdin.read()
""")


@pytest.fixture(autouse=True)
def released() -> Iterator[None]:
    yield
    inuse.release_all()


@pytest.fixture
def env(tmp_path: Path) -> str:
    path = tmp_path / "builds" / "venv-1"
    path.mkdir(parents=True)
    inuse.create(str(path))
    return str(path)


def free(env: str) -> bool:
    with inuse.claimed(env) as ok:
        return ok


def held_elsewhere(env: str, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, env, mode],
        env=child_env(),
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def end(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.wait(30)
    proc.stdout.close()


def test_a_build_nobody_holds_is_free(env: str) -> None:
    assert free(env)


def test_this_process_holding_it_keeps_it(env: str) -> None:
    assert inuse.hold(env) is None and inuse.held(env)
    assert inuse.hold(env) is None  # idempotent: one descriptor per build
    assert not free(env)
    inuse.release_all()
    assert free(env)


@pytest.mark.parametrize("mode", ["stay", "exec"])
def test_another_live_process_keeps_it_until_it_exits(env: str, mode: str) -> None:
    proc = held_elsewhere(env, mode)
    try:
        assert not free(env), "a live holder (also after exec) keeps the build"
    finally:
        end(proc)
    assert free(env), "the kernel dropped the lock with the process"


def test_a_killed_holder_frees_it(env: str) -> None:
    proc = held_elsewhere(env, "stay")
    proc.kill()
    proc.wait(30)
    assert free(env)


def test_the_lock_is_inheritable_for_exec(env: str) -> None:
    inuse.hold(env)
    assert os.get_inheritable(inuse._HELD[env])


def test_holding_waits_for_no_one_being_removed(env: str) -> None:
    with inuse.claimed(env) as ok:
        assert ok
        assert inuse.hold(env) == f"the build at {env} is being removed"
    assert not inuse.held(env)


def test_a_build_without_a_use_lock_is_not_held_and_has_no_user(tmp_path: Path) -> None:
    path = str(tmp_path / "builds" / "stage")
    os.makedirs(path)
    reason = inuse.hold(path)
    assert reason is not None and "has no use-lock" in reason
    assert free(path) and free(str(tmp_path / "never-made"))


def test_use_marks_the_last_use(env: str) -> None:
    os.utime(inuse.use_file(env), (1_000_000, 1_000_000))
    assert inuse.last_used(env) == 1_000_000
    inuse.touch(env)
    assert inuse.last_used(env) > 1_000_000
