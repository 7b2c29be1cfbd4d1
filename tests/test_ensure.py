"""ensure()'s order of decisions, with every child process faked.

The real decision code, build steps, classifier, state, cooldown and lock all run; only
``sdkboot.runner.run`` is replaced, by ``FakeRunner``, which plays venv and pip: it
creates the files a real step would and returns scripted ``Completed`` values. No pip
or venv process is ever started here.
"""

from __future__ import annotations

import errno
import importlib
import importlib.machinery
import importlib.util
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Union

import pytest

import sdkboot
from sdkboot import cooldown, events, safefs, state
from sdkboot.codes import ErrKind, Outcome, Phase, Strategy
from sdkboot.interrupts import Interrupted
from sdkboot.layout import Layout
from sdkboot.lock import BuildLock
from sdkboot.result import EXIT_FAILED, EXIT_OK, EXIT_SKIPPED, Result, hook_py
from sdkboot.runner import Completed
from sdkboot.spec import DEFAULT_MIN_PYTHON, Spec
from tests.fake_envs import fake_env, publish_built, spec_for

# ``sdkboot.ensure`` the attribute is the function (the package re-exports it), so the
# module must be fetched by name: ``monkeypatch.setattr("sdkboot.ensure.build", ...)``
# would silently set an attribute on the function instead.
ENSURE = importlib.import_module("sdkboot.ensure")
RUNNER = importlib.import_module("sdkboot.runner")

REPO = Path(__file__).resolve().parent.parent
IMPORT_NAME = "sdkboot_unit_never_installed"
HOST_VERSION = "%d.%d.%d" % sys.version_info[:3]
WINDOW = 3600.0
T0 = 1_700_000_000.0
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses flock and POSIX signals")

DEBIAN_ENSUREPIP = (
    b"The virtual environment was not created successfully because ensurepip is not\n"
    b"available.  On Debian/Ubuntu systems, you need to install the python3-venv\n"
    b"package using the following command.\n\n    apt install python3.11-venv\n\n"
    b"You may need to use sudo with that command.  After installing the python3-venv\n"
    b"package, recreate your virtual environment.\n\nFailing command: /tmp/env/bin/python3\n"
)
ENSUREPIP_KILLED = (
    b"Error: Command '['/tmp/env/bin/python3', '-m', 'ensurepip', '--upgrade', '--default-pip']'"
    b" died with <Signals.SIGKILL: 9>.\n"
)

Behaviour = Union[Completed, Callable[[list[str]], Completed]]


def completed(rc: int = 0, out: bytes = b"", err: bytes = b"", timed_out: bool = False) -> Completed:
    return Completed(rc, out, err, 0.01, timed_out=timed_out)


def step_kind(argv: Sequence[str]) -> str:
    if list(argv[1:2]) == ["-I"] and str(argv[2]).endswith("_probe.py"):
        return "interpreter"
    if list(argv[1:3]) == ["-m", "venv"]:
        return "venv"
    if "--version" in argv:
        return "probe"
    if "--target" in argv:
        return "target"
    if "-c" in argv:
        return "verify"
    if list(argv[1:4]) == ["-m", "pip", "install"]:
        return "pip"
    raise AssertionError(f"unexpected child: {argv}")


def probe_answer(executable: str, version: Sequence[int] = sys.version_info[:3], **flags: bool) -> dict[str, Any]:
    """What sdkboot's interpreter probe prints for an interpreter like this one."""
    return {
        "executable": executable,
        "version": list(version),
        "implementation": "CPython",
        "venv": flags.get("venv", True),
        "ensurepip": flags.get("ensurepip", True),
        "pip": flags.get("pip", True),
        "prefix": "/p",
        "base_prefix": "/p",
        "tags": {},
    }


class FakeRunner:
    """Stands in for ``runner.run``: records each argv and plays a scripted step."""

    def __init__(self, **script: Behaviour) -> None:
        self.script: dict[str, Behaviour] = script
        self.calls: list[list[str]] = []
        self.timeouts: list[float | None] = []
        self.stage = ""
        # Interpreters other than this one, by path: what the probe says they are.
        self.pythons: dict[str, dict[str, Any]] = {}
        self.builder = sys.executable

    @property
    def built_version(self) -> str:
        """What the verification child reports: the version of the interpreter that built."""
        return ".".join(map(str, self.pythons.get(self.builder, {}).get("version", sys.version_info[:3])))

    @property
    def kinds(self) -> list[str]:
        return [step_kind(argv) for argv in self.calls]

    def __call__(
        self, argv: Sequence[str], timeout: float | None = None, env: Any = None, on_line: Any = None, **options: Any
    ) -> Completed:
        argv = list(argv)
        self.calls.append(argv)
        self.timeouts.append(timeout)
        kind = step_kind(argv)
        if kind in ("venv", "target"):
            self.builder = argv[0]
        behaviour = self.script.get(kind) or getattr(self, kind)
        done = behaviour(argv) if callable(behaviour) else behaviour
        if on_line is not None:
            for line in done.out.splitlines(keepends=True):
                on_line(line)
        return done

    # The default behaviours: each step succeeds and leaves what the real one would.
    def venv(self, argv: list[str]) -> Completed:
        self.stage = argv[3]
        python = Path(self.stage) / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text("#!fake interpreter\n")
        return completed()

    def pip(self, argv: list[str]) -> Completed:
        return completed(
            out=b"Collecting sdkboot-probe\nInstalling collected packages: "
            b"sdkboot-probe\nSuccessfully installed sdkboot-probe-1.0\n"
        )

    def target(self, argv: list[str]) -> Completed:
        self.stage = argv[argv.index("--target") + 1]
        os.makedirs(self.stage)
        return completed()

    def interpreter(self, argv: list[str]) -> Completed:
        """The discovery probe: unless told otherwise, every interpreter says it is this one."""
        answer = self.pythons.get(argv[0]) or probe_answer(argv[0])
        return completed(out=(json.dumps(answer) + "\n").encode())

    def probe(self, argv: list[str]) -> Completed:
        return completed(out=b"pip 23.0.1 from /usr/lib/python3/dist-packages/pip (python 3.11)\n")

    def verify(self, argv: list[str]) -> Completed:
        site = Path(self.stage) / "site"
        module = site / IMPORT_NAME / "__init__.py"
        module.parent.mkdir(parents=True)
        module.write_text("")
        report = {"file": str(module), "purelib": str(site), "version": self.built_version}
        return completed(out=(json.dumps(report) + "\n").encode())


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    runner = FakeRunner()
    monkeypatch.setattr(RUNNER, "run", runner)
    return runner


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    return make_spec(tmp_path)


@pytest.fixture
def layout(spec: Spec) -> Layout:
    return Layout(spec.root)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_spec(tmp_path: Path, **changes: Any) -> Spec:
    options: dict[str, Any] = dict(
        requirements=["sdkboot-probe"],
        import_name=IMPORT_NAME,
        min_python=(3, 0),
        state_dir=str(tmp_path / "state"),
        step_timeout=5.0,
        cooldown_seconds=WINDOW,
        strategies=("venv", "target"),  # FakeRunner plays venv and pip; the lean order has its own tests
    )
    options.update(changes)
    return Spec(**options)


def forbid_spawning(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to start a process fails the call (the no-op paths must not spawn)."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("spawned a process on a path that must not")

    monkeypatch.setattr(RUNNER, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    if hasattr(os, "posix_spawn"):
        monkeypatch.setattr(os, "posix_spawn", forbidden)


def fake_importable(monkeypatch: pytest.MonkeyPatch, behaviour: Any) -> None:
    """Make find_spec answer for IMPORT_NAME: a spec, None, or raise an exception."""
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        if name != IMPORT_NAME:
            return real(name, package)
        if isinstance(behaviour, BaseException):
            raise behaviour
        return behaviour

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


HOST_SPEC = importlib.machinery.ModuleSpec(IMPORT_NAME, None)


def builds(layout: Layout) -> list[str]:
    try:
        return sorted(os.listdir(layout.builds))
    except FileNotFoundError:
        return []


def publish_healthy(spec: Spec, layout: Layout, strategy: str = "venv") -> str:
    """What another process's finished build leaves behind."""
    env = os.path.join(layout.builds, f"{strategy}-other")
    os.makedirs(env)
    publish_built(Path(layout.root), strategy, Path(env), Path(env), HOST_VERSION, [env], state.fingerprint(spec))
    return env


def logged(layout: Layout) -> list[str]:
    return [json.loads(line)["outcome"] for line in events.read_lines(layout.events_file)]


# -- 1. too old, 2. importable in the host ------------------------------------------------------


def ensure_while_locked_elsewhere(spec: Spec, layout: Layout, clock: Clock) -> Result:
    """ensure() while another holder has the build lock (its own fd: flock sees another holder)."""
    held = BuildLock(layout.lock_file)
    assert held.acquire()
    try:
        return sdkboot.ensure(spec, clock=clock)
    finally:
        held.release()


def test_too_old_host_comes_before_everything(
    tmp_path: Path, fake: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_importable(monkeypatch, HOST_SPEC)
    result = sdkboot.ensure(make_spec(tmp_path, min_python=(99, 0)))
    assert result.outcome is Outcome.HOOK_PY_INCOMPATIBLE
    # Only discovery ran (to name an interpreter that could serve): no build step.
    assert set(fake.kinds) <= {"interpreter"} and result.subprocesses == len(fake.calls)
    assert result.exit_code == EXIT_SKIPPED
    assert "99.0" in result.message and "no Python 99.0+ was found" in result.message
    assert result.metrics()["sdk_bootstrap"] == 6 and result.metrics()["sdk_alt_py"] == 0
    again = sdkboot.ensure(make_spec(tmp_path, min_python=(99, 0)))
    assert (again.outcome, again.subprocesses) == (Outcome.HOOK_PY_INCOMPATIBLE, 0), "answers come from the cache"


def test_importable_in_host_is_noop_system(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even with a cooldown armed and the lock held: being importable settles it first.
    os.makedirs(layout.root)
    cooldown.arm(layout, T0, -9, "pip", state.fingerprint(spec))
    fake_importable(monkeypatch, HOST_SPEC)
    result = ensure_while_locked_elsewhere(spec, layout, clock)
    assert result.outcome is Outcome.NOOP_SYSTEM
    assert result.subprocesses == 0 and fake.calls == []
    assert result.exit_code == EXIT_OK


def test_a_really_importable_module_is_noop_system(tmp_path: Path, fake: FakeRunner) -> None:
    result = sdkboot.ensure(make_spec(tmp_path, import_name="json"))
    assert result.outcome is Outcome.NOOP_SYSTEM and fake.calls == []


@pytest.mark.parametrize("answer", [None, ValueError("__spec__ is None"), ModuleNotFoundError("no parent")])
def test_find_spec_none_or_error_means_not_importable(
    spec: Spec, fake: FakeRunner, clock: Clock, answer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_importable(monkeypatch, answer)
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.BUILT


def test_dotted_name_with_missing_parent_is_not_importable(tmp_path: Path, fake: FakeRunner, clock: Clock) -> None:
    spec = make_spec(tmp_path, import_name="sdkboot_no_such_parent.child")
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is not Outcome.NOOP_SYSTEM
    assert fake.calls, "it went on to build"


# -- 3./4. healthy install-state ------------------------------------------------------------------


def test_build_then_noop_venv(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = sdkboot.ensure(spec, clock=clock)
    assert first.outcome is Outcome.BUILT, first.message
    assert first.strategy is Strategy.VENV
    assert fake.kinds == ["venv", "pip", "verify"]
    assert first.subprocesses == 3
    assert first.env is not None and builds(layout) == [os.path.basename(first.env)]
    assert first.exit_code == EXIT_OK

    forbid_spawning(monkeypatch)
    second = sdkboot.ensure(spec, clock=clock)
    assert second.outcome is Outcome.NOOP_VENV, second.message
    assert second.subprocesses == 0
    assert second.env == first.env
    assert logged(layout) == ["BUILT", "NOOP_VENV"]


NOOP_IN_A_FRESH_PROCESS = """
import json, sys
sys.path.insert(0, {repo!r})
before = set(sys.modules)
import sdkboot
result = sdkboot.ensure(sdkboot.Spec(requirements=("fake-dist",), import_name="fake_mod", state_dir={root!r},
                                     min_python={min_python!r}))
print(json.dumps([result.outcome.name, sorted(before), sorted(set(sys.modules) - before)]))
"""
# What the no-op must never load: it runs on every session, often under the user's memory limit.
BUILD_MACHINERY = ("subprocess", "threading", "sdkboot.classify")


def test_a_noop_ensure_loads_neither_subprocess_nor_threading_nor_the_classifier(tmp_path: Path) -> None:
    root = tmp_path / "state"
    min_python = tuple(sys.version_info[:2])
    fake_env(root, "venv", spec=spec_for(root, min_python=min_python))
    code = NOOP_IN_A_FRESH_PROCESS.format(repo=str(REPO), root=str(root), min_python=min_python)
    # -S: a site-packages .pth file may load threading at startup, and the test could not fail.
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    outcome, preloaded, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == "NOOP_VENV"
    assert [name for name in BUILD_MACHINERY if name in preloaded] == [], "the interpreter loads them at start"
    assert "sdkboot.ensure" in loaded  # the snapshot did see the no-op's imports
    assert [name for name in BUILD_MACHINERY if name in loaded] == []


def test_noop_path_never_spawns_even_with_the_real_runner(
    spec: Spec, layout: Layout, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.makedirs(layout.root)
    publish_healthy(spec, layout)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the no-op path spawned a process")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.NOOP_VENV, result.message
    assert result.subprocesses == 0
    assert result.failure is None


def test_healthy_state_beats_an_active_cooldown_and_a_held_lock(
    spec: Spec, layout: Layout, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.makedirs(layout.root)
    publish_healthy(spec, layout, "target")
    cooldown.arm(layout, T0, -9, "pip", state.fingerprint(spec))
    forbid_spawning(monkeypatch)
    result = ensure_while_locked_elsewhere(spec, layout, clock)
    assert result.outcome is Outcome.NOOP_TARGET
    assert result.strategy is Strategy.TARGET


def test_deleted_path_rebuilds_and_says_why(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    first = sdkboot.ensure(spec, clock=clock)
    assert first.env is not None
    os.unlink(os.path.join(first.env, "bin", "python"))
    second = sdkboot.ensure(spec, clock=clock)
    assert second.outcome is Outcome.BUILT
    assert "rebuilt: missing" in second.message
    assert second.env is not None and builds(layout) == [os.path.basename(second.env)]


def test_upgraded_interpreter_rebuilds(tmp_path: Path, fake: FakeRunner, clock: Clock) -> None:
    python = tmp_path / "python3.11"
    python.write_bytes(b"old build")
    spec = make_spec(tmp_path, python=str(python))
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT
    python.write_bytes(b"a newer, bigger interpreter build")
    again = sdkboot.ensure(spec, clock=clock)
    assert again.outcome is Outcome.BUILT
    assert f"the interpreter at {python} was replaced" in again.message
    assert fake.kinds.count("venv") == 2


def test_changed_requirements_rebuild(tmp_path: Path, fake: FakeRunner, clock: Clock) -> None:
    assert sdkboot.ensure(make_spec(tmp_path), clock=clock).outcome is Outcome.BUILT
    changed = make_spec(tmp_path, requirements=["sdkboot-probe>=2"])
    result = sdkboot.ensure(changed, clock=clock)
    assert result.outcome is Outcome.BUILT
    assert "requirements" in result.message
    assert fake.calls[-2][-1] == "sdkboot-probe>=2"  # the pip step installs the new set


def test_corrupt_state_file_rebuilds(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    os.makedirs(layout.root)
    Path(layout.state_file).write_text("{ half a json")
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.BUILT
    assert "corrupt" in result.message


def test_state_with_an_unknown_strategy_rebuilds(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    # Well-formed JSON, matching fingerprint, existing paths, but a strategy this version never
    # writes: it is a corrupt state, so the answer is a rebuild, not a crash in every session.
    os.makedirs(layout.root)
    publish_healthy(spec, layout, "bogus")
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.phase, result.err_kind) == (Outcome.BUILT, Phase.UNSET, None)


# -- 5. cooldown ---------------------------------------------------------------------------------


def test_cooldown_lifecycle(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    fp = state.fingerprint(spec)
    assert cooldown.read(layout) is None  # none

    fake.script["venv"] = completed(rc=-9)  # memory-killed
    killed = sdkboot.ensure(spec, clock=clock)
    assert killed.outcome is Outcome.BUILD_FAILED
    assert (killed.phase, killed.err_kind, killed.rc) == (Phase.VENV, "signal_killed:-9", -9)
    assert killed.subprocesses == 1
    assert killed.exit_code == EXIT_FAILED
    assert killed.metrics()["sdk_bootstrap_rc"] == -9
    record = cooldown.read(layout)  # armed
    assert record == {"time": T0, "rc": -9, "phase": "venv", "fingerprint": fp}
    assert builds(layout) == []  # the killed stage was removed

    clock.now = T0 + 60
    skipped = sdkboot.ensure(spec, clock=clock)  # skip
    assert skipped.outcome is Outcome.SKIP_COOLDOWN
    assert skipped.subprocesses == 0
    assert len(fake.calls) == 1
    assert skipped.exit_code == EXIT_SKIPPED
    assert skipped.metrics().get("sdk_bootstrap_err") is None
    assert "--cooldown 0" in skipped.message

    clock.now = T0 + WINDOW - 1
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.SKIP_COOLDOWN

    del fake.script["venv"]
    clock.now = T0 + WINDOW + 1  # expired
    retried = sdkboot.ensure(spec, clock=clock)  # retry
    assert retried.outcome is Outcome.BUILT, retried.message
    assert cooldown.read(layout) is None  # a good build ends the cooldown

    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.NOOP_VENV
    assert logged(layout) == ["BUILD_FAILED", "SKIP_COOLDOWN", "SKIP_COOLDOWN", "BUILT", "NOOP_VENV"]


def test_cooldown_for_another_fingerprint_does_not_block(tmp_path: Path, fake: FakeRunner, clock: Clock) -> None:
    fake.script["venv"] = completed(rc=137, err=b"Killed\n")
    first = sdkboot.ensure(make_spec(tmp_path), clock=clock)
    assert first.err_kind == "signal_killed:137"
    other = make_spec(tmp_path, requirements=["sdkboot-probe==1.0"])
    clock.now = T0 + 1
    result = sdkboot.ensure(other, clock=clock)
    assert result.outcome is Outcome.BUILD_FAILED  # it tried again, for the new set
    assert len(fake.calls) == 2


def test_corrupt_cooldown_record_is_ignored(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    os.makedirs(layout.root)
    Path(layout.cooldown_file).write_text('{"time": "soon", "fingerprint": 3')
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT


def test_future_cooldown_stamp_blocks_at_most_one_window(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    os.makedirs(layout.root)
    cooldown.arm(layout, T0 + 10 * WINDOW, -9, "pip", state.fingerprint(spec))
    first = sdkboot.ensure(spec, clock=clock)
    assert first.outcome in (Outcome.SKIP_COOLDOWN, Outcome.BUILT)
    clock.now = T0 + WINDOW + 1
    later = sdkboot.ensure(spec, clock=clock)
    assert later.outcome in (Outcome.BUILT, Outcome.NOOP_VENV), "a stamp in the future kept blocking past one window"


def test_zero_cooldown_retries_at_once(tmp_path: Path, fake: FakeRunner, clock: Clock) -> None:
    spec = make_spec(tmp_path, cooldown_seconds=0.0)
    fake.script["pip"] = completed(rc=-9)
    assert sdkboot.ensure(spec, clock=clock).err_kind == "signal_killed:-9"
    del fake.script["pip"]
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT


def test_timeout_does_not_arm_the_cooldown(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    fake.script["pip"] = completed(rc=-9, timed_out=True)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.phase, result.err_kind) == (Phase.PIP, "subprocess_timeout")
    assert "sdk_bootstrap_rc" not in result.metrics()
    assert cooldown.read(layout) is None
    clock.now = T0 + 1
    del fake.script["pip"]
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT


def test_ensurepip_killed_arms_the_cooldown_and_skips_the_fallback(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    fake.script["venv"] = completed(rc=1, err=ENSUREPIP_KILLED)
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.BUILD_FAILED
    assert (result.phase, result.err_kind) == (Phase.VENV, "signal_killed:-9")
    assert result.failure is not None and result.failure.kind is ErrKind.SIGNAL_KILLED
    assert result.metrics()["sdk_bootstrap_rc"] == -9
    assert fake.kinds == ["venv"]  # no pip probe: this is a kill, not a missing ensurepip
    assert (cooldown.read(layout) or {}).get("rc") == -9


# -- 6. the lock ---------------------------------------------------------------------------------


def test_lock_held_in_process_gives_skip_sentinel(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    os.makedirs(layout.root)
    result = ensure_while_locked_elsewhere(spec, layout, clock)
    assert result.outcome is Outcome.SKIP_SENTINEL
    assert result.subprocesses == 0 and fake.calls == []
    assert f"pid {os.getpid()}" in result.message
    assert result.exit_code == EXIT_SKIPPED
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT  # free again


@posix_only
def test_lock_held_by_another_process_gives_skip_sentinel(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    os.makedirs(layout.root)
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from sdkboot.lock import BuildLock
        lock = BuildLock({layout.lock_file!r})
        print("locked" if lock.acquire() else "busy", flush=True)
        sys.stdin.read()
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = sdkboot.ensure(spec, clock=clock)
    finally:
        holder.kill()
        holder.wait()
    assert result.outcome is Outcome.SKIP_SENTINEL
    assert result.subprocesses == 0 and fake.calls == []
    assert f"pid {holder.pid}" in result.message


def test_recheck_under_the_lock_sees_a_build_published_meanwhile(
    spec: Spec, layout: Layout, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    class LateLock(BuildLock):
        def acquire(self) -> bool:
            publish_healthy(spec, layout)  # another process finished while we got here
            return super().acquire()

    def no_build(*args: object, **kwargs: object) -> Result:
        raise AssertionError("rebuilt although a healthy state had just been published")

    monkeypatch.setattr(ENSURE, "BuildLock", LateLock)
    monkeypatch.setattr(importlib.import_module("sdkboot.build"), "build", no_build)
    forbid_spawning(monkeypatch)
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.NOOP_VENV
    assert result.subprocesses == 0


def test_recheck_under_the_lock_sees_a_cooldown_armed_meanwhile(
    spec: Spec, layout: Layout, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    class LateLock(BuildLock):
        def acquire(self) -> bool:
            cooldown.arm(layout, clock(), -9, "pip", state.fingerprint(spec))
            return super().acquire()

    monkeypatch.setattr(ENSURE, "BuildLock", LateLock)
    forbid_spawning(monkeypatch)
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.SKIP_COOLDOWN
    assert result.subprocesses == 0


def test_lock_error_is_phase_pre(tmp_path: Path, fake: FakeRunner, clock: Clock) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = sdkboot.ensure(make_spec(tmp_path, state_dir=str(blocker / "state")), clock=clock)
    assert result.outcome is Outcome.BUILD_FAILED
    assert result.phase is Phase.PRE
    assert result.err_kind == "exc:NotADirectoryError:20"
    assert result.metrics()["sdk_bootstrap_exc"] == 3
    assert result.metrics()["sdk_bootstrap_errno"] == 20
    assert fake.calls == []


def test_unexpected_error_is_phase_main_never_a_raise(
    spec: Spec, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(spec: Spec) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(state, "fingerprint", broken)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.phase, result.err_kind) == (Outcome.BUILD_FAILED, Phase.MAIN, "exc:RuntimeError")
    assert "disk on fire" in result.message
    assert result.metrics()["sdk_bootstrap_exc"] == 15


def test_our_own_memory_failure_is_phase_main_and_cools_down(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def starved(*args: object) -> None:
        raise MemoryError()

    monkeypatch.setattr(ENSURE, "_locked_build", starved)  # say, loading the build machinery
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.phase, result.err_kind) == (Outcome.BUILD_FAILED, Phase.MAIN, "out_of_memory")
    assert (cooldown.read(layout) or {}).get("phase") == "main"
    assert_cools_down(spec, layout, clock, monkeypatch)


def test_an_unexpected_error_does_not_cool_down(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ENSURE, "_locked_build", broken)
    assert sdkboot.ensure(spec, clock=clock).err_kind == "exc:RuntimeError"
    assert cooldown.read(layout) is None


# -- 7. building: failures and the --target fallback ---------------------------------------------


def test_pip_failure_removes_the_stage_and_does_not_cool_down(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    fake.script["pip"] = completed(rc=1, err=b"ERROR: No matching distribution found for x\n")
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.phase, result.err_kind) == (Outcome.BUILD_FAILED, Phase.PIP, "pip_no_match")
    assert "No matching distribution" in result.stderr_tail
    assert builds(layout) == []
    assert cooldown.read(layout) is None


def test_verify_output_garbage_is_a_failure(spec: Spec, fake: FakeRunner, clock: Clock) -> None:
    fake.script["verify"] = completed(out=b"not json\n")
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.BUILD_FAILED and result.phase is Phase.PIP
    assert (result.err_kind or "").startswith("exc:")


def test_an_unexpected_error_keeps_its_traceback_in_the_event_log(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    """A field report must not read only "unexpected error: 'purelib'": the log has where it came from."""
    fake.script["verify"] = completed(out=b'{"file": "/x", "version": "3.11.7"}\n')  # no purelib
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.phase, result.err_kind) == (Phase.PIP, "exc:KeyError")
    [line] = events.read_lines(layout.events_file)
    trace = json.loads(line)["traceback"]
    assert trace.startswith("Traceback (most recent call last):") and "KeyError: 'purelib'" in trace
    assert "sdkboot/strategies" in trace and len(trace) <= 4000
    assert "Traceback" not in result.message and "traceback is in" in result.message
    metrics = result.metrics()
    metrics.pop("sdk_bootstrap_ms", None)
    assert metrics == {
        "sdk_bootstrap": 3,
        "sdk_bootstrap_phase": 3,
        "sdk_bootstrap_err": 99,
        "sdk_bootstrap_exc": 99,
        "sdk_hook_py": hook_py(),
        "sdk_bootstrap_strategy": 1,
        "sdk_bootstrap_spawns": 3,
    }, "the metrics carry no strings and no new keys"


def test_a_classified_failure_logs_no_traceback(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    fake.script["pip"] = completed(rc=1, err=b"ERROR: No matching distribution found for x\n")
    sdkboot.ensure(spec, clock=clock)
    [line] = events.read_lines(layout.events_file)
    assert json.loads(line)["traceback"] is None


def test_debian_without_ensurepip_or_pip(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    fake.script["venv"] = completed(rc=1, out=DEBIAN_ENSUREPIP, err=b"")
    fake.script["probe"] = completed(rc=1, err=b"/usr/bin/python3: No module named pip\n")
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.BUILD_FAILED
    assert (result.phase, result.err_kind) == (Phase.VENV, "venv_ensurepip_fail")
    assert result.has_pip is False
    assert result.metrics()["sdk_has_pip"] is False
    assert result.metrics()["sdk_bootstrap_err"] == 11
    assert "python3.11-venv" in result.message
    assert fake.kinds == ["venv", "probe"]
    assert result.subprocesses == 2
    assert cooldown.read(layout) is None


def test_debian_without_ensurepip_falls_back_to_target(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.script["venv"] = completed(rc=1, out=DEBIAN_ENSUREPIP, err=b"")
    built = sdkboot.ensure(spec, clock=clock)
    assert built.outcome is Outcome.BUILT_TARGET, built.message
    assert built.strategy is Strategy.TARGET
    assert built.has_pip is True
    assert built.fallback_reason == "venv_ensurepip_fail"
    assert fake.kinds == ["venv", "probe", "target", "verify"]
    assert built.subprocesses == 4
    assert built.metrics()["sdk_bootstrap"] == 7

    forbid_spawning(monkeypatch)
    again = sdkboot.ensure(spec, clock=clock)
    assert again.outcome is Outcome.NOOP_TARGET
    assert again.subprocesses == 0


def test_target_fallback_killed_cools_down_in_phase_pip_target(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    fake.script["venv"] = completed(rc=1, out=DEBIAN_ENSUREPIP)
    fake.script["target"] = completed(rc=-9, out=b"Looking in links: /wheels\n")
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.phase, result.err_kind) == (
        Outcome.BUILD_FAILED,
        Phase.PIP_TARGET,
        "signal_killed:-9",
    )
    assert result.strategy is Strategy.TARGET
    assert (cooldown.read(layout) or {}).get("phase") == "pip_target"


# -- memory failures (the user's limit is on the whole tree: children fail with MemoryError) --------

MEMORY_TRACEBACK = b'Traceback (most recent call last):\n  File "<frozen runpy>", line 198\nMemoryError\n'
ENSUREPIP_NONZERO = (
    b"Error: Command '['/s/bin/python', '-m', 'ensurepip', '--upgrade', '--default-pip']'"
    b" returned non-zero exit status 1.\n"
)
MAP_SEGMENT = (
    b"ImportError: /s/lib/python3.11/site-packages/pydantic_core/_pydantic_core.so:"
    b" failed to map segment from shared object\n"
)


def assert_cools_down(spec: Spec, layout: Layout, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next session is SKIP_COOLDOWN and spawns nothing."""
    forbid_spawning(monkeypatch)
    again = sdkboot.ensure(spec, clock=clock)
    assert (again.outcome, again.subprocesses) == (Outcome.SKIP_COOLDOWN, 0), again.message


def test_a_memory_starved_pip_is_out_of_memory_and_cools_down(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.script["pip"] = completed(rc=2, err=MEMORY_TRACEBACK)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.phase, result.err_kind) == (Outcome.BUILD_FAILED, Phase.PIP, "out_of_memory")
    assert result.metrics()["sdk_bootstrap_err"] == 17 and "sdk_bootstrap_rc" not in result.metrics()
    assert "MemoryError" in result.stderr_tail
    assert "out of memory" in result.message
    assert builds(layout) == []
    assert_cools_down(spec, layout, clock, monkeypatch)


def test_a_verification_import_that_cannot_map_its_library_publishes_nothing(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 70 MiB storm: pip fits, the import does not; every session rebuilt for 15-27 s."""
    fake.script["verify"] = completed(rc=1, err=MAP_SEGMENT)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.phase, result.err_kind) == (Phase.PIP, "out_of_memory")
    assert fake.kinds == ["venv", "pip", "verify"]
    assert state.load(layout).builds == (), "a build whose import failed was published"
    assert builds(layout) == []
    assert_cools_down(spec, layout, clock, monkeypatch)


def test_a_memory_starved_ensurepip_and_probe_leave_has_pip_unknown(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """venv hides ensurepip's MemoryError; the pip probe then fails for memory too: it proves nothing."""
    fake.script["venv"] = completed(rc=1, err=ENSUREPIP_NONZERO)
    fake.script["probe"] = completed(rc=1, err=MEMORY_TRACEBACK)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.phase, result.err_kind) == (Phase.VENV, "out_of_memory")
    assert result.has_pip is None and "sdk_has_pip" not in result.metrics()
    assert fake.kinds == ["venv", "probe"]
    assert_cools_down(spec, layout, clock, monkeypatch)


def test_a_memory_starved_target_fallback_cools_down(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.script["venv"] = completed(rc=1, err=ENSUREPIP_NONZERO)
    fake.script["target"] = completed(
        rc=1, err=b"ERROR: Could not install packages due to an OSError: [Errno 12] Cannot allocate memory\n"
    )
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.phase, result.err_kind, result.has_pip) == (Phase.PIP_TARGET, "out_of_memory", True)
    assert_cools_down(spec, layout, clock, monkeypatch)


def test_a_killed_probe_leaves_has_pip_unknown(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    fake.script["venv"] = completed(rc=1, err=ENSUREPIP_NONZERO)
    fake.script["probe"] = completed(rc=-9)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.err_kind, result.has_pip) == ("signal_killed:-9", None)


def test_a_step_that_cannot_start_for_memory_is_out_of_memory(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    fake.script["venv"] = Completed(127, b"", b"", 0.0, error=OSError(errno.EAGAIN, "Resource temporarily unavailable"))
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.phase, result.err_kind) == (Phase.VENV, "out_of_memory")
    assert result.metrics()["sdk_bootstrap_errno"] == errno.EAGAIN
    assert cooldown.remaining(layout, clock(), WINDOW, state.fingerprint(spec)) > 0


def test_a_signal_kill_on_a_full_disk_stays_a_signal_kill_and_cools_down(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D12: the cooldown record goes into the space reserved before the build, in place."""
    real_write = safefs.write_json_atomic  # the one cooldown imported

    def full_disk_after_start(path: str, data: dict[str, Any]) -> None:
        if path == layout.cooldown_file and not data.get("reserved"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(cooldown, "write_json_atomic", full_disk_after_start)
    fake.script["pip"] = completed(rc=-9)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.err_kind) == (Outcome.BUILD_FAILED, "signal_killed:-9")
    assert (cooldown.read(layout) or {}).get("rc") == -9
    assert_cools_down(spec, layout, clock, monkeypatch)


def test_a_cooldown_that_cannot_be_written_at_all_keeps_the_failure(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(path: str, data: dict[str, Any]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cooldown, "write_json_atomic", no_space)
    fake.script["pip"] = completed(rc=-9)
    result = sdkboot.ensure(spec, clock=clock)
    assert result.err_kind == "signal_killed:-9", "a full disk turned the kill into exc:OSError:28"
    assert "cooldown not recorded" in result.message


def test_the_reservation_is_gone_after_a_build_that_arms_nothing(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    fake.script["pip"] = completed(rc=1, err=b"ERROR: No matching distribution found for sdkboot-probe\n")
    sdkboot.ensure(spec, clock=clock)
    assert not os.path.exists(layout.cooldown_file)


@pytest.mark.parametrize(
    "exc, text, rc",
    [
        (KeyboardInterrupt(), "interrupted:SIGINT", -2),
        (Interrupted(15), "interrupted:SIGTERM", -15),
        (SystemExit(1), "interrupted:SystemExit", None),
    ],
    ids=["KeyboardInterrupt", "Interrupted", "SystemExit"],
)
def test_an_interrupted_build_is_logged_cleaned_up_and_re_raised(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock, exc: BaseException, text: str, rc: int | None
) -> None:
    def interrupted(argv: list[str]) -> Completed:
        raise exc

    fake.script["pip"] = interrupted
    with pytest.raises(type(exc)) as raised:
        sdkboot.ensure(spec, clock=clock)
    record = json.loads(events.read_lines(layout.events_file)[-1])
    assert (record["err"], record["err_kind"], record["rc"], record["phase"]) == ("interrupted", text, rc, "pip")
    assert record["subprocesses"] == 2
    assert builds(layout) == [], "the stage was left behind"
    assert BuildLock(layout.lock_file).acquire(), "the lock was not released"
    assert not os.path.exists(layout.cooldown_file)
    if isinstance(exc, Interrupted):
        assert isinstance(raised.value, Interrupted)
        carried = raised.value.result
        assert isinstance(carried, Result) and carried.metrics()["sdk_bootstrap_err"] == 19


def test_step_timeout_and_budget_reach_the_runner(
    tmp_path: Path, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdkboot.ensure(make_spec(tmp_path, step_timeout=7.5), clock=clock)
    assert fake.timeouts == [7.5, 7.5, 7.5]
    fresh = FakeRunner()
    monkeypatch.setattr(RUNNER, "run", fresh)
    sdkboot.ensure(make_spec(tmp_path / "b", step_timeout=300.0), clock=clock, budget=2.0)
    assert fresh.timeouts and all(0 < (t or 0) <= 2.0 for t in fresh.timeouts)


def test_progress_sees_each_phase(spec: Spec, fake: FakeRunner, clock: Clock) -> None:
    seen: list[tuple[Any, ...]] = []
    sdkboot.ensure(spec, clock=clock, progress=lambda phase, detail: seen.append((phase, detail)))
    phases = [phase for phase, _ in seen]
    assert phases[0] == "venv" and "pip" in phases
    assert ("pip", "collecting sdkboot-probe") in seen


def test_every_call_is_logged_with_its_strings(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    fake.script["pip"] = completed(rc=1, err=b"Traceback ...\nOSError: bad interpreter\n")
    result = sdkboot.ensure(spec, clock=clock)
    [line] = events.read_lines(layout.events_file)
    record = json.loads(line)
    assert record["outcome"] == "BUILD_FAILED" and record["outcome_code"] == 3
    assert record["err_kind"] == result.err_kind == "other:OSError: bad interpreter"
    assert record["phase"] == "pip" and record["time"] == T0
    assert "bad interpreter" in record["stderr_tail"]
    assert record["subprocesses"] == 2


def test_event_log_failure_never_changes_the_outcome(
    spec: Spec, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "append", lambda path, record: False)
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT


@posix_only
def test_state_dir_created_on_a_no_build_path_is_private(tmp_path: Path, fake: FakeRunner, clock: Clock) -> None:
    # The state dir goes on sys.path, and activate() refuses a group/world-writable one. The
    # lock path creates it 0700; the event log must not create it first with the umask's mode
    # (002 is a common umask), or every later build becomes unusable.
    spec = make_spec(tmp_path, min_python=(99, 0))
    old = os.umask(0o002)
    try:
        result = sdkboot.ensure(spec, clock=clock)
    finally:
        os.umask(old)
    assert result.outcome is Outcome.HOOK_PY_INCOMPATIBLE
    mode = stat.S_IMODE(os.stat(spec.root).st_mode)
    assert not mode & (stat.S_IWGRP | stat.S_IWOTH), oct(mode)


# -- which interpreter builds: in process, and for `sdkboot run` ---------------------------------

NEXT = (sys.version_info[0], sys.version_info[1] + 1)  # a floor this host is too old for
REQUIRES_PYTHON_REJECTION = b"ERROR: Package 'sdkboot-probe' requires a different Python: %s not in '%s'\n"


class Machine:
    """Other interpreters "installed" in a bin dir that discovery sees (the FakeRunner answers for them)."""

    def __init__(self, root: Path, fake: FakeRunner) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.fake = fake

    def add(self, name: str, version: Sequence[int], **flags: bool) -> str:
        path = self.bin / name
        path.write_text("#!/bin/sh\nexit 99\n")  # never really run: the FakeRunner plays it
        path.chmod(0o755)
        self.fake.pythons[str(path)] = probe_answer(str(path), version, **flags)
        return str(path)


@pytest.fixture
def machine(tmp_path: Path, fake: FakeRunner, monkeypatch: pytest.MonkeyPatch) -> Machine:
    from sdkboot.discovery import Places

    found = Machine(tmp_path, fake)
    places = Places(
        host=sys.executable,
        path=(str(found.bin),),
        platform="linux",
        pyenv_root=str(tmp_path / "n"),
        uv_dir=str(tmp_path / "n"),
        asdf_dir=str(tmp_path / "n"),
        mise_dir=str(tmp_path / "n"),
        system_bin=str(tmp_path / "n"),
        homebrew=(),
        frameworks=str(tmp_path / "n"),
    )
    monkeypatch.setattr(Places, "from_env", classmethod(lambda cls, *a, **k: places))
    return found


def builders_used(fake: FakeRunner) -> list[str]:
    return [argv[0] for argv in fake.calls if step_kind(argv) in ("venv", "target")]


def test_for_run_a_too_old_host_builds_with_the_newest_found(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = machine.add("python3.%d" % (NEXT[1] + 1), (NEXT[0], NEXT[1] + 1, 0))
    machine.add("python3.%d" % NEXT[1], (*NEXT, 4))
    spec = make_spec(tmp_path, min_python=NEXT, for_run=True)
    built = sdkboot.ensure(spec, clock=clock)
    assert built.outcome is Outcome.BUILT, built.message
    assert builders_used(fake) == [newer] and built.python == newer
    assert built.metrics()["sdk_alt_py"] == NEXT[0] * 100 + NEXT[1] + 1, "another interpreter built the env"
    assert fake.kinds.count("interpreter") == 3, "the host and both others, probed once each"

    forbid_spawning(monkeypatch)
    again = sdkboot.ensure(spec, clock=clock)
    assert (again.outcome, again.subprocesses, again.python) == (Outcome.NOOP_VENV, 0, newer)
    assert again.metrics()["sdk_alt_py"] == built.metrics()["sdk_alt_py"]


def test_for_run_the_host_builds_when_it_qualifies(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock
) -> None:
    machine.add("python3.99", (3, 99, 0))
    built = sdkboot.ensure(make_spec(tmp_path, for_run=True), clock=clock)
    assert built.outcome is Outcome.BUILT and builders_used(fake) == [sys.executable]
    assert "sdk_alt_py" not in built.metrics()


def test_for_run_requires_python_rejection_tries_the_next(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock
) -> None:
    newest = machine.add("python3.99", (3, 99, 0))
    older = machine.add("python3.98", (3, 98, 1))

    def pip(argv: list[str]) -> Completed:
        if fake.builder == newest:
            return completed(rc=1, err=REQUIRES_PYTHON_REJECTION % (b"3.99.0", b"<3.99"))
        return FakeRunner.pip(fake, argv)

    fake.script["pip"] = pip
    built = sdkboot.ensure(make_spec(tmp_path, min_python=(3, 98), for_run=True), clock=clock)
    assert built.outcome is Outcome.BUILT, built.message
    assert builders_used(fake) == [newest, older] and built.python == older
    assert "pip rejected Python 3.99.0" in built.message
    assert built.metrics()["sdk_alt_py"] == 398


def test_requires_python_rejection_in_process_names_both_versions(spec: Spec, fake: FakeRunner, clock: Clock) -> None:
    fake.script["pip"] = completed(rc=1, err=REQUIRES_PYTHON_REJECTION % (HOST_VERSION.encode(), b">=3.99"))
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.err_kind) == (Outcome.BUILD_FAILED, "requires_python")
    assert result.metrics()["sdk_bootstrap_err"] == 18
    assert HOST_VERSION in result.message and ">=3.99" in result.message
    assert builders_used(fake) == [sys.executable], "in process there is no other interpreter to try"


def test_for_run_when_every_candidate_is_rejected_the_last_failure_is_reported(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock
) -> None:
    machine.add("python3.99", (3, 99, 0))
    fake.script["pip"] = completed(
        rc=1,
        err=b"ERROR: Ignored the following versions that require a different"
        b" python version: 1.0 Requires-Python >=4.0\n",
    )
    result = sdkboot.ensure(make_spec(tmp_path, for_run=True), clock=clock)
    assert result.err_kind == "requires_python" and len(builders_used(fake)) == 2
    assert ">=4.0" in result.message and HOST_VERSION in result.message


def test_for_run_a_too_old_host_with_nothing_found(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock
) -> None:
    machine.add("python3.8", (3, 8, 0))
    result = sdkboot.ensure(make_spec(tmp_path, min_python=(99, 0), for_run=True), clock=clock)
    assert result.outcome is Outcome.HOOK_PY_INCOMPATIBLE and result.metrics()["sdk_alt_py"] == 0
    assert builders_used(fake) == []


def test_for_run_when_nothing_can_build_the_best_one_is_tried_for_the_real_error(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock
) -> None:
    bare = machine.add("python3.99", (3, 99, 0), ensurepip=False, pip=False)
    fake.script["venv"] = completed(rc=1, out=DEBIAN_ENSUREPIP)
    fake.script["probe"] = completed(rc=1, err=b"No module named pip\n")
    result = sdkboot.ensure(make_spec(tmp_path, min_python=(3, 99), for_run=True), clock=clock)
    assert builders_used(fake) == [bare]
    assert (result.err_kind, result.has_pip) == ("venv_ensurepip_fail", False)
    assert "python3.11-venv" in result.message


def test_a_too_old_host_names_the_interpreter_found_and_the_run_line(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock
) -> None:
    newer = machine.add("python3.%d" % NEXT[1], (*NEXT, 2))
    result = sdkboot.ensure(make_spec(tmp_path, min_python=NEXT), clock=clock)
    assert result.outcome is Outcome.HOOK_PY_INCOMPATIBLE
    assert result.metrics()["sdk_alt_py"] == NEXT[0] * 100 + NEXT[1]
    assert f"Python {NEXT[0]}.{NEXT[1]}.2 at {newer} was found" in result.message
    floor = "--min-python %d.%d " % NEXT if NEXT != DEFAULT_MIN_PYTHON else ""  # a default is left out
    assert f" run {floor}--import-name {IMPORT_NAME} --state-dir " in result.message
    assert builders_used(fake) == []


def test_an_explicit_python_of_another_version_is_refused_in_process(
    tmp_path: Path, machine: Machine, fake: FakeRunner, clock: Clock
) -> None:
    other = machine.add("python3.99", (3, 99, 0))
    result = sdkboot.ensure(make_spec(tmp_path, python=other), clock=clock)
    assert result.outcome is Outcome.HOOK_PY_INCOMPATIBLE, result.message
    assert "is Python 3.99.0" in result.message and "--for-run" in result.message
    assert builders_used(fake) == []
    built = sdkboot.ensure(make_spec(tmp_path, python=other, for_run=True), clock=clock)
    assert built.outcome is Outcome.BUILT and builders_used(fake) == [other]
    assert built.metrics()["sdk_alt_py"] == 399


def test_an_env_for_another_version_is_never_healthy_in_process(
    spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock
) -> None:
    os.makedirs(layout.root)
    env = os.path.join(layout.builds, "venv-other")
    os.makedirs(env)
    publish_built(Path(layout.root), "venv", Path(env), Path(env), "3.99.0", [env], state.fingerprint(spec))
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.BUILT
    assert "rebuilt: env was built for Python 3.99" in result.message
    assert sdkboot.ensure(dataclasses_replace(spec, for_run=True), clock=clock).outcome is Outcome.NOOP_VENV


def dataclasses_replace(spec: Spec, **changes: Any) -> Spec:
    import dataclasses

    return dataclasses.replace(spec, **changes)


# -- retired builds: what a kill between publish and sweep, or during a build, leaves -----------------


def test_a_noop_removes_what_a_kill_between_publish_and_sweep_left(
    spec: Spec, layout: Layout, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.makedirs(layout.root)
    old = Path(publish_healthy(spec, layout))
    old.rename(old.with_name("venv-superseded"))
    state.save(layout, state.Installs())
    superseded = publish_built(
        Path(layout.root),
        "venv",
        old.with_name("venv-superseded"),
        old.with_name("venv-superseded"),
        "3.11.7",
        [],
        state.fingerprint(spec),
    )
    current = publish_healthy(spec, layout)  # published; the sweep after it never ran
    assert state.load(layout).retired == (superseded.env,)
    forbid_spawning(monkeypatch)

    result = sdkboot.ensure(spec, clock=clock)

    assert result.outcome is Outcome.NOOP_VENV and result.subprocesses == 0
    assert builds(layout) == [os.path.basename(current)]
    assert state.load(layout).retired == ()


def test_the_stage_is_retired_while_it_builds(spec: Spec, layout: Layout, fake: FakeRunner, clock: Clock) -> None:
    seen: list[Any] = []
    real_pip = fake.pip

    def pip(argv: list[str]) -> Completed:
        seen.append(state.load(layout).retired)  # what a SIGKILL here would leave behind
        return real_pip(argv)

    fake.script["pip"] = pip
    result = sdkboot.ensure(spec, clock=clock)
    assert result.outcome is Outcome.BUILT
    assert seen == [(fake.stage,)] and result.env == fake.stage
    assert state.load(layout).retired == (), "published: no longer garbage"


# -- the memory preflight ---------------------------------------------------------------------

MIB = 1024 * 1024


def measured_spec(tmp_path: Path, **changes: Any) -> Spec:
    """A spec for the requirement the shipped floors file measured."""
    return make_spec(tmp_path, requirements=["claude-agent-sdk"], **changes)


def limit_address_space(monkeypatch: pytest.MonkeyPatch, mib: int | None) -> None:
    from sdkboot import memlimit

    monkeypatch.setattr(memlimit, "rlimit_as", lambda: memlimit.Limit("RLIMIT_AS", mib * MIB) if mib else None)
    monkeypatch.setattr(memlimit, "cgroup_rooms", lambda root="/": [])


def test_no_floor_fits_skips_low_memory_spawning_nothing(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = measured_spec(tmp_path)
    layout = Layout(spec.root)
    limit_address_space(monkeypatch, 30)
    forbid_spawning(monkeypatch)
    result = sdkboot.ensure(spec, clock=clock)
    assert (result.outcome, result.subprocesses, result.exit_code) == (Outcome.SKIP_LOW_MEMORY, 0, EXIT_SKIPPED)
    assert result.metrics() == {
        "sdk_bootstrap": 10,
        "sdk_bootstrap_ms": result.metrics()["sdk_bootstrap_ms"],
        "sdk_hook_py": hook_py(),
        "sdk_mem_limit_mib": 30,
    }
    assert "30 MiB memory limit" in result.message and "venv needs" in result.message
    record = cooldown.read(layout)
    assert record == {"time": T0, "rc": None, "phase": "pre", "fingerprint": state.fingerprint(spec)}
    logged_event = json.loads(events.read_lines(layout.events_file)[-1])
    assert (logged_event["outcome"], logged_event["mem_limit_mib"]) == ("SKIP_LOW_MEMORY", 30)
    assert logged_event["mem_limits"] == ["RLIMIT_AS 30 MiB"] and logged_event["subprocesses"] == 0


def test_a_low_memory_skip_never_renews_the_cooldown(
    tmp_path: Path, clock: Clock, fake: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = measured_spec(tmp_path)
    layout = Layout(spec.root)
    limit_address_space(monkeypatch, 30)
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.SKIP_LOW_MEMORY
    clock.now = T0 + 600
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.SKIP_LOW_MEMORY
    assert (cooldown.read(layout) or {})["time"] == T0, "the window runs from the first skip"
    limit_address_space(monkeypatch, None)  # the limit is raised: the window still holds
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.SKIP_COOLDOWN
    clock.now = T0 + WINDOW + 1
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT
    assert fake.kinds == ["venv", "pip", "verify"]


def test_no_preflight_builds_under_any_limit(
    tmp_path: Path, clock: Clock, fake: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit_address_space(monkeypatch, 30)
    result = sdkboot.ensure(measured_spec(tmp_path, preflight=False), clock=clock)
    assert result.outcome is Outcome.BUILT and "sdk_mem_limit_mib" not in result.metrics()


def test_a_fitting_limit_builds_and_a_failure_under_it_names_it(
    tmp_path: Path, clock: Clock, fake: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit_address_space(monkeypatch, 4096)
    fake.script["pip"] = completed(rc=2, err=MEMORY_TRACEBACK)
    result = sdkboot.ensure(measured_spec(tmp_path), clock=clock)
    assert (result.outcome, result.err_kind) == (Outcome.BUILD_FAILED, "out_of_memory")
    assert result.metrics()["sdk_mem_limit_mib"] == 4096 and result.mem_limits == ("RLIMIT_AS 4096 MiB",)


def test_an_unmeasured_requirement_is_never_skipped(
    spec: Spec, clock: Clock, fake: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit_address_space(monkeypatch, 30)
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT  # sdkboot-probe has no floors


def test_the_no_op_path_never_runs_the_preflight(
    tmp_path: Path, clock: Clock, fake: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sdkboot import preflight

    spec = measured_spec(tmp_path)
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.BUILT

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the preflight ran on the no-op path")

    monkeypatch.setattr(preflight, "check", forbidden)
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.NOOP_VENV


def test_a_build_published_meanwhile_beats_a_low_memory_skip(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = measured_spec(tmp_path)
    layout = Layout(spec.root)
    limit_address_space(monkeypatch, 30)
    real = ENSURE._take_lock

    def publish_first(lay: Layout) -> BuildLock | None:
        lock: BuildLock | None = real(lay)
        publish_healthy(spec, layout)
        return lock

    monkeypatch.setattr(ENSURE, "_take_lock", publish_first)
    assert sdkboot.ensure(spec, clock=clock).outcome is Outcome.NOOP_VENV
    assert cooldown.read(layout) is None
