"""The one rule, for every subcommand in the CLI's registry (present and future):

a closed stdin, a closed stdout, end of input at a prompt, a reader that goes away (SIGPIPE)
and a hostile state dir never give a traceback or "internal error"; each gives one line that
names the object and the next step.

The argv for each command is derived from the options its parser declares, so a command added
to ``sdkboot.cli.COMMANDS`` is walked without touching this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from sdkboot import cli
from sdkboot.streams import EXIT_BROKEN_PIPE
from tests.fake_envs import PYTHON_XY, child_env, fake_env, spec_for

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX fds, pipes and ptys")
DOCUMENTED_EXITS = (0, 1, 2, 3)


def takes_tail(name: str) -> bool:
    """``run``-like: the command line ends with a consumer's, which then owns the streams."""
    return cli.COMMANDS[name].tail


# A consumer that does nothing, for the commands that exec one.
QUIET_CONSUMER = "pass\n"
# The commands that write their own stdout; a tail command's stdout is its consumer's.
WRITERS = [name for name in cli.COMMANDS if not takes_tail(name)]


def declared_options(name: str) -> set[str]:
    parser = cli.build_parser().commands[name]
    return {option for action in parser._actions for option in action.option_strings}


# Safe values for the options a command declares: nothing slow, nothing outside tmp, no network.
# An option missing here is simply not passed.
SAFE_VALUES: dict[str, Callable[[Path], list[str]]] = {
    "--state-dir": lambda root: ["--state-dir", str(root)],
    "--min-python": lambda root: ["--min-python", PYTHON_XY],
    "--no-index": lambda root: ["--no-index"],
    "--timeout": lambda root: ["--timeout", "30"],
    "--output": lambda root: ["--output", str(root.parent / "out" / "sdkboot.pyz")],  # bundle: never the cwd
}


def walk_argv(
    name: str, root: Path, import_name: str = "json", asks: bool = False, extra: list[str] | None = None
) -> list[str]:
    """``name`` with a safe value for each option it declares; ``json`` makes ensure/hook a no-op.

    ``asks``: leave out ``--dry-run`` so that a command that asks before acting does ask.
    """
    options = declared_options(name)
    argv = [name]
    for option, value in SAFE_VALUES.items():
        if option in options:
            argv += value(root)
    if "--dry-run" in options and not asks:
        argv.append("--dry-run")
    if "--import-name" in options:
        argv += ["--import-name", import_name]
    if takes_tail(name):
        consumer = root.parent / "consumer.py"
        consumer.write_text(QUIET_CONSUMER)
        extra = [*(extra or []), "--", str(consumer)]
    return argv + (extra or [])


def built_state(tmp_path: Path) -> Path:
    """A state dir with a healthy fake env: something to show, report and clean."""
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root))
    (root / "events.jsonl").write_text('{"outcome": "BUILT", "duration_ms": 5}\n' * 50)
    return root


def run(argv: list[str], **streams: object) -> subprocess.CompletedProcess[str]:
    done: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "sdkboot", *argv], text=True, env=child_env(), timeout=120, **streams
    )
    return done


def no_crash(done: subprocess.CompletedProcess[str], stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert done.returncode in (*DOCUMENTED_EXITS, EXIT_BROKEN_PIPE), (done.returncode, stderr)
    assert stderr.count("\n") <= 1, stderr


def names_object_and_next_step(stderr: str, obj: str) -> None:
    """Exactly one line, naming ``obj`` and giving a command to run (in backquotes) or a flag to pass."""
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert obj in stderr, stderr
    assert "`sdkboot " in stderr or "pass --" in stderr, stderr


@posix_only
@pytest.mark.parametrize("name", cli.COMMANDS)
def test_closed_stdout(tmp_path: Path, name: str) -> None:
    argv = walk_argv(name, built_state(tmp_path))
    done = run(
        argv,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        pass_fds=(),
        close_fds=True,
        preexec_fn=lambda: os.close(1),
    )
    no_crash(done, done.stderr)
    assert done.returncode == 2
    names_object_and_next_step(done.stderr, "stdout is closed")


@posix_only
@pytest.mark.parametrize("name", WRITERS)
def test_reader_gone_sigpipe(tmp_path: Path, name: str) -> None:
    argv = walk_argv(name, built_state(tmp_path))
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -1` that has already exited: every write gets EPIPE
    try:
        done = run(argv, stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    no_crash(done, done.stderr)
    assert done.returncode == EXIT_BROKEN_PIPE
    names_object_and_next_step(done.stderr, "the reader closed stdout")


@posix_only
@pytest.mark.parametrize("name", cli.COMMANDS)
def test_closed_stdin(tmp_path: Path, name: str) -> None:
    argv = walk_argv(name, built_state(tmp_path), asks=True)  # a command that would ask must not crash
    done = run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(0))
    no_crash(done, done.stderr)
    if done.stderr:
        names_object_and_next_step(done.stderr, "stdin")


@posix_only
@pytest.mark.parametrize("name", cli.COMMANDS)
def test_end_of_input_at_a_prompt(tmp_path: Path, name: str) -> None:
    """stdin is a terminal on which the user presses Ctrl-D: a command that asks gets end of input."""
    argv = walk_argv(name, built_state(tmp_path), asks=True)
    master, slave = os.openpty()
    try:
        os.write(master, b"\x04")  # the terminal's EOF character, queued for the first read
        done = run(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.close(slave)
        os.close(master)
    no_crash(done, done.stderr)
    if "[y/N]" in done.stdout:
        names_object_and_next_step(done.stderr, "end of input")


# --- a hostile state dir ------------------------------------------------------------------------
# Every name sdkboot keeps at the top of a state dir (the layout's own registry), filled with each
# kind of corrupt content, for every command. In process and with the runner stubbed to fail at
# once, so the whole matrix stays cheap: what is walked is how each command reads its files.

HOSTILE: dict[str, bytes] = {
    "empty": b"",
    "binary": b"\xff\xfe\x00\x01garbage\x80\n\xc3",
    "nan": b'{"time": NaN, "built_at": NaN, "duration_ms": NaN, "rc": NaN}\n',
    "infinity": b"[Infinity, -Infinity]\n",
    "a list": b"[1, 2, 3]\n",
    "a string": b'"just a string"\n',
    "a number": b"42\n",
    "null": b"null\n",
    "wrong types": (
        b'{"strategy": 7, "env": [], "site": {}, "paths": "abc", "fingerprint": [], "built_at": "x",'
        b' "python_version": 3, "time": "x", "rc": "x", "phase": [], "0.1.0": "x", "outcome": {}}\n'
    ),
    "huge numbers": b'{"time": 1e400, "built_at": 1' + b"0" * 400 + b', "duration_ms": -1e400}\n',
    "deep nesting": b"[" * 100_000 + b"\n",
    "huge": b'{"x": "' + b"a" * 3_000_000 + b'"}\n',
}


def hostile_names() -> list[str]:
    from sdkboot.layout import OWN_NAMES

    return sorted(OWN_NAMES)


def hostile_argv(name: str, root: Path) -> list[str]:
    """Like walk_argv, but for the env built_state() made (so the state is read, not bypassed)."""
    parser = cli.build_parser().commands[name]
    options = declared_options(name)
    extra = ["--yes"] if "--yes" in options else []
    if any(action.dest == "requirements" for action in parser._actions):
        extra.append("fake-dist")
    return walk_argv(name, root, import_name="fake_mod", asks=True, extra=extra)


def spoil(root: Path, name: str, content: bytes) -> None:
    """Replace ``name`` (a file or the builds dir) by a regular file holding ``content``."""
    import shutil

    path = root / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.write_bytes(content)


@pytest.fixture
def failing_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every child "fails" at once; a tail command's exec returns instead of replacing pytest."""
    from sdkboot import runner
    from sdkboot.runner import Completed

    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: Completed(1, b"", b"Error: stubbed\n", 0.0))
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # hundreds of fresh state dirs: no need to hit the disk
    for name in cli.COMMANDS:
        module = cli.COMMANDS[name].load()
        if takes_tail(name):
            monkeypatch.setattr(module, "execute", lambda argv: 0)


def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each CLI run is a process of its own: the hook's lean start writes each protocol line once
    per process, so the in-process walk starts every run with that record empty."""
    from sdkboot import entry

    monkeypatch.setattr(entry, "_state", dict.fromkeys(entry._state, False))


@posix_only
@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("name", cli.COMMANDS)
def test_hostile_state_dir(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    failing_runner: None,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    kind: str,
) -> None:
    broken: list[str] = []
    for target in hostile_names():
        case = tmp_path / target.strip(".")
        case.mkdir()
        root = built_state(case)
        spoil(root, target, HOSTILE[kind])
        argv = hostile_argv(name, root)
        fresh_process(monkeypatch)
        code = cli.main(argv)
        out, err = capsys.readouterr()
        problems = []
        if "Traceback" in err or "internal error" in err:
            problems.append(err.strip()[-300:])
        if code not in DOCUMENTED_EXITS:
            problems.append(f"exit {code}")
        if err.count("\n") > 1:
            problems.append(f"{err.count(chr(10))} stderr lines: {err[:300]!r}")
        if name == "hook" and [line[:1] for line in out.splitlines()] != ["{", "{"]:
            problems.append(f"hook stdout is not its two JSON lines: {out[:300]!r}")
        if problems:
            broken.append(f"{target}: {'; '.join(problems)}")
    assert broken == [], f"sdkboot {name} on a state dir with a {kind} file:\n" + "\n".join(broken)
