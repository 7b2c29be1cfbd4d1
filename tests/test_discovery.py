"""Interpreter discovery on fake interpreter trees: order, dedup, shims, the cache, the choice.

Every interpreter here is a small sh script that prints a probe answer (tests/fake_pythons.py)
and logs that it ran, so the spawn counts are those of real processes.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from sdkboot import discovery
from sdkboot.codes import Strategy
from sdkboot.discovery import Candidate, Info, Interpreter, alt_py, discover, ranked, verdicts
from sdkboot.discovery._locate import parse_launcher, shim_reason, version_key
from sdkboot.runner import Completed, run
from tests.fake_pythons import Tree, link, shim, spawned

INTERROGATE = importlib.import_module("sdkboot.discovery._interrogate")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the fake interpreters are sh scripts")


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def paths(found: discovery.Discovery, root: Path) -> list[str]:
    return [os.path.relpath(i.path, root) for i in found.interpreters]


# -- where to look, in which order ----------------------------------------------------------------


def test_discovery_order(tree: Tree) -> None:
    tree.host = str(tree.python("host/bin/python3.9", (3, 9, 18)))
    tree.python("bin1/python3.10", (3, 10, 1))
    tree.python("bin1/python3", (3, 11, 0))
    tree.python("bin2/python3.12", (3, 12, 0))
    tree.python("bin2/python", (3, 8, 0))
    tree.python("opt/homebrew/bin/python3.13", (3, 13, 0))
    tree.python("Frameworks/Versions/3.11/bin/python3", (3, 11, 9))
    tree.python("usr/bin/python3.8", (3, 8, 10))
    tree.python("pyenv/versions/3.7.1/bin/python3", (3, 7, 1))
    tree.python("pyenv/versions/3.14.0/bin/python3", (3, 14, 0))
    tree.python("uv/cpython-3.12.4-linux-x86_64-gnu/bin/python3", (3, 12, 4))
    tree.python("asdf/installs/python/3.10.2/bin/python3", (3, 10, 2))
    tree.python("mise/installs/python/3.13.1/bin/python3", (3, 13, 1))
    found = tree.discover()
    assert paths(found, tree.root) == [
        "host/bin/python3.9",
        "bin2/python3.12",
        "bin1/python3.10",  # python3.N on PATH, newest first
        "bin1/python3",
        "bin2/python",  # then python3, then python
        "opt/homebrew/bin/python3.13",
        "Frameworks/Versions/3.11/bin/python3",
        "usr/bin/python3.8",
        "pyenv/versions/3.14.0/bin/python3",
        "pyenv/versions/3.7.1/bin/python3",
        "uv/cpython-3.12.4-linux-x86_64-gnu/bin/python3",
        "asdf/installs/python/3.10.2/bin/python3",
        "mise/installs/python/3.13.1/bin/python3",
    ]
    assert [i.candidate.source for i in found.interpreters] == [
        "host",
        "PATH",
        "PATH",
        "PATH",
        "PATH",
        "homebrew",
        "python.org",
        "distro",
        "pyenv",
        "pyenv",
        "uv",
        "asdf",
        "mise",
    ]
    assert all(i.info is not None for i in found.interpreters)
    assert found.spawned == 13 and len(spawned(tree.log)) == 13, "each candidate probed once"


def test_dedup_by_resolved_path(tree: Tree) -> None:
    real = tree.python("bin1/python3.12", (3, 12, 0))
    link(tree.bin1 / "python3", real)
    link(tree.bin2 / "python3.12", real)
    link(tree.root / "pyenv" / "versions" / "3.12.0" / "bin" / "python3", real)
    found = tree.discover()
    assert paths(found, tree.root) == ["bin1/python3.12"]
    assert sorted(os.path.relpath(a, tree.root) for a in found.interpreters[0].candidate.aliases) == [
        "bin1/python3",
        "bin2/python3.12",
        "pyenv/versions/3.12.0/bin/python3",
    ]
    assert spawned(tree.log) == [str(real)], "one real file is probed once"


def test_a_host_that_is_not_a_python_binary_is_never_run(tree: Tree) -> None:
    # An embedding host's sys.executable can be the host application itself.
    tree.host = str(tree.python("app/EditorHost", (3, 12, 0)))
    tree.python("bin1/python3.11", (3, 11, 0))
    assert paths(tree.discover(), tree.root) == ["bin1/python3.11"]


def test_non_executables_and_missing_dirs_are_not_candidates(tree: Tree) -> None:
    tree.python("bin1/python3.11", (3, 11, 0)).chmod(0o644)
    (tree.root / "pyenv" / "versions" / "3.12.0").mkdir(parents=True)  # no bin/python3 inside
    assert tree.discover(path=(str(tree.bin1), str(tree.root / "nowhere"))).interpreters == ()


def test_shims_are_listed_but_never_run(tree: Tree) -> None:
    shims = tree.root / "pyenv" / "shims"
    for name in ("python3.12", "python3", "python"):
        shim(shims / name, tree.log)
    tree.python("pyenv/versions/3.12.1/bin/python3", (3, 12, 1))
    found = tree.discover(path=(str(shims),))
    assert paths(found, tree.root) == ["pyenv/shims/python3.12", "pyenv/versions/3.12.1/bin/python3"]
    skipped = found.interpreters[0]
    assert skipped.info is None and skipped.error is not None and "pyenv shim" in skipped.error
    assert len(skipped.candidate.aliases) == 2, "one entry per shim dir"
    assert not any(line == "SHIM" for line in spawned(tree.log))
    assert spawned(tree.log) == [str(tree.root / "pyenv/versions/3.12.1/bin/python3")]


@pytest.mark.parametrize(
    "path, manager",
    [
        ("/home/u/.pyenv/shims/python3", "pyenv"),
        ("/home/u/.asdf/shims/python3", "asdf"),
        ("/home/u/.local/share/mise/shims/python", "mise"),
        ("/opt/tools/shims/python3", "version-manager"),
    ],
)
def test_shim_reason_names_the_manager(path: str, manager: str) -> None:
    reason = shim_reason(path)
    assert reason is not None and f"a {manager} shim" in reason


def test_real_binaries_are_not_shims() -> None:
    assert shim_reason("/home/u/.pyenv/versions/3.12.1/bin/python3") is None
    assert shim_reason("/usr/bin/python3") is None


def test_version_key_sorts_version_dirs() -> None:
    names = ["3.9.18", "3.10.13", "cpython-3.12.4-linux", "pypy3.10-7.3", "system"]
    assert sorted(names, key=version_key, reverse=True)[:3] == ["cpython-3.12.4-linux", "3.10.13", "pypy3.10-7.3"]


def test_windows_launcher_list_is_parsed() -> None:
    text = (
        " -V:3.12 *        C:\\Users\\u\\AppData\\Local\\Programs\\Python\\Python312\\python.exe\n"
        " -V:3.11          C:\\Program Files\\Python311\\python.exe\n"
        " -3.9-64          C:\\Python39\\python.exe *\n"
        "Installed Pythons found by py Launcher for Windows\n"
    )
    assert parse_launcher(text) == (
        ("3.12", "C:\\Users\\u\\AppData\\Local\\Programs\\Python\\Python312\\python.exe"),
        ("3.11", "C:\\Program Files\\Python311\\python.exe"),
        ("3.9-64", "C:\\Python39\\python.exe"),
    )


# -- probing and the cache -----------------------------------------------------------------------


def test_the_probe_answer_is_understood(tree: Tree) -> None:
    tree.python("bin1/python3.12", (3, 12, 1), ensurepip=False)
    info = tree.discover().interpreters[0].info
    assert info is not None
    assert (info.version, info.implementation, info.venv, info.ensurepip, info.pip) == (
        (3, 12, 1),
        "CPython",
        True,
        False,
        True,
    )
    assert dict(info.tags)["interpreter"] == "cp312" and info.strategy is Strategy.TARGET


def test_the_real_probe_runs_isolated_on_this_interpreter(tmp_path: Path) -> None:
    found, spawns = discovery.probe(sys.executable, cache_file=str(tmp_path / "c.json"))
    assert spawns == 1 and found.info is not None and found.is_host
    assert found.info.version == tuple(sys.version_info[:3])
    assert dict(found.info.tags)["interpreter"].endswith("%d%d" % sys.version_info[:2])


def test_a_cache_hit_spawns_nothing(tree: Tree) -> None:
    tree.python("bin1/python3.12", (3, 12, 0))
    tree.python("bin2/python3.11", (3, 11, 0))
    first = tree.discover()
    assert first.spawned == 2 and not any(i.cached for i in first.interpreters)
    second = tree.discover()
    assert second.spawned == 0 and len(spawned(tree.log)) == 2
    assert all(i.cached for i in second.interpreters)
    assert [i.info for i in second.interpreters] == [i.info for i in first.interpreters]


def test_a_changed_interpreter_is_probed_again(tree: Tree) -> None:
    python = tree.python("bin1/python3.12", (3, 12, 0))
    tree.python("bin2/python3.11", (3, 11, 0))
    tree.discover()
    tree.python("bin1/python3.12", (3, 12, 10))  # upgraded in place: new size and mtime
    os.utime(python, ns=(1, 1))
    again = tree.discover()
    assert again.spawned == 1
    assert [i.info.label for i in again.interpreters if i.info] == ["3.12.10", "3.11.0"]


def test_a_changed_probe_invalidates_every_answer(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    tree.python("bin1/python3.12", (3, 12, 0))
    tree.discover()
    source = INTERROGATE.probe_source() + b"\n# changed\n"
    monkeypatch.setattr(discovery, "probe_source", lambda: source)
    assert tree.discover().spawned == 1


def test_a_corrupt_cache_is_ignored(tree: Tree) -> None:
    tree.python("bin1/python3.12", (3, 12, 0))
    tree.cache.write_text("{not json")
    assert tree.discover().spawned == 1
    assert json.loads(tree.cache.read_text())["interpreters"], "rewritten"


def test_no_cache_file_is_written_where_the_state_dir_is_missing(tree: Tree) -> None:
    tree.python("bin1/python3.12", (3, 12, 0))
    missing = tree.root / "absent" / "interpreters.json"
    discover(tree.places(), cache_file=str(missing))
    assert not missing.parent.exists()


def test_a_failing_interpreter_is_cached_but_a_timeout_is_not(tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tree.bin1 / "python3.12"
    broken.parent.mkdir()
    broken.write_text(f'#!/bin/sh\necho "$0" >> {tree.log}\necho "Unknown option: -I" >&2\nexit 2\n')
    broken.chmod(0o755)
    slow = tree.bin1 / "python3.11"
    slow.write_text(f'#!/bin/sh\necho "$0" >> {tree.log}\nexec sleep 30\n')
    slow.chmod(0o755)
    monkeypatch.setattr(INTERROGATE, "PROBE_TIMEOUT", 0.5)
    first = tree.discover()
    errors = [i.error or "" for i in first.interpreters]
    assert "exit 2" in errors[0] and "Python 2?" in errors[0]
    assert "did not answer in time" in errors[1]
    assert tree.discover().spawned == 1, "only the timed-out one is asked again"


def test_an_unreadable_answer_is_an_error_not_a_crash(tree: Tree) -> None:
    odd = tree.bin1 / "python3.12"
    odd.parent.mkdir()
    odd.write_text('#!/bin/sh\necho \'{"version": "three"}\'\n')
    odd.chmod(0o755)
    only = tree.discover().interpreters[0]
    assert only.info is None and only.error == "the probe's answer was not understood"


# -- the macOS /usr/bin/python3 shim guard -------------------------------------------------------


class Xcode:
    """Spawn stand-in: answers ``xcode-select -p`` as told, runs everything else for real."""

    def __init__(self, developer_dir: Path | None) -> None:
        self.developer_dir = developer_dir
        self.asked = 0

    def __call__(self, argv: Sequence[str], timeout: float) -> Completed:
        if argv[0] != "xcode-select":
            return run(argv, timeout)
        self.asked += 1
        if self.developer_dir is None:
            return Completed(2, b"", b"xcode-select: error: unable to get active developer directory\n", 0.01)
        return Completed(0, str(self.developer_dir).encode() + b"\n", b"", 0.01)


def test_macos_system_python_is_not_run_without_the_command_line_tools(tree: Tree) -> None:
    system = tree.python("usr/bin/python3", (3, 9, 6))
    places = tree.places(platform="darwin", path=(str(system.parent),))
    xcode = Xcode(None)
    found = discover(places, cache_file=str(tree.cache), spawn=xcode)
    assert xcode.asked == 1 and spawned(tree.log) == []
    only = found.interpreters[0]
    assert only.info is None and only.error is not None and "Command Line Tools" in only.error


def test_macos_system_python_is_probed_when_the_tools_are_there(tree: Tree) -> None:
    system = tree.python("usr/bin/python3", (3, 9, 6))
    tools = tree.root / "CommandLineTools"
    tools.mkdir()
    places = tree.places(platform="darwin", path=(str(system.parent),))
    xcode = Xcode(tools)
    assert discover(places, cache_file=str(tree.cache), spawn=xcode).interpreters[0].info is not None
    again = discover(places, cache_file=str(tree.cache), spawn=xcode)
    assert (again.spawned, xcode.asked) == (0, 1), "cached, and the guard's answer with it"
    tools.rmdir()  # the tools were uninstalled: the cached answer no longer vouches for the shim
    xcode.developer_dir = None
    gone = discover(places, cache_file=str(tree.cache), spawn=xcode)
    assert xcode.asked == 2 and gone.interpreters[0].info is None and len(spawned(tree.log)) == 1


def test_the_guard_is_for_macos_only(tree: Tree) -> None:
    system = tree.python("usr/bin/python3", (3, 11, 2))
    xcode = Xcode(None)
    found = discover(tree.places(path=(str(system.parent),)), cache_file=str(tree.cache), spawn=xcode)
    assert xcode.asked == 0 and found.interpreters[0].info is not None


# -- the choice ---------------------------------------------------------------------------------


def interp(
    name: str,
    version: tuple[int, int, int],
    source: str = "PATH",
    venv: bool = True,
    ensurepip: bool = True,
    pip: bool = True,
) -> Interpreter:
    info = Info(version, "CPython", f"/x/{name}", venv, ensurepip, pip)
    return Interpreter(Candidate(f"/x/{name}", f"/x/{name}", source), info)


def failed(name: str, error: str) -> Interpreter:
    return Interpreter(Candidate(f"/x/{name}", f"/x/{name}", "PATH"), error=error)


def test_the_host_wins_when_it_qualifies() -> None:
    pool = [interp("host", (3, 11, 7), "host"), interp("py313", (3, 13, 0))]
    assert [i.path for i in ranked(pool, (3, 10))] == ["/x/host", "/x/py313"]


def test_otherwise_the_newest_that_can_build_wins() -> None:
    pool = [
        interp("host", (3, 9, 18), "host"),
        interp("py310", (3, 10, 13)),
        interp("py313", (3, 13, 0)),
        interp("py312", (3, 12, 1)),
        interp("bare314", (3, 14, 0), venv=False, pip=False),
    ]
    assert [i.path for i in ranked(pool, (3, 10))] == ["/x/py313", "/x/py312", "/x/py310"]


def test_a_venv_capable_one_beats_a_pip_only_one_of_the_same_version() -> None:
    pool = [interp("piponly", (3, 12, 1), ensurepip=False), interp("full", (3, 12, 1))]
    assert [i.path for i in ranked(pool, (3, 10))] == ["/x/full", "/x/piponly"]


def test_a_pip_only_interpreter_still_qualifies() -> None:
    pool = [interp("host", (3, 11, 2), "host", ensurepip=False)]
    assert ranked(pool, (3, 10))[0].info.strategy is Strategy.TARGET  # type: ignore[union-attr]


def test_every_candidate_gets_a_reason() -> None:
    pool = [
        interp("host", (3, 9, 18), "host"),
        interp("py312", (3, 12, 1)),
        interp("py311", (3, 11, 2)),
        interp("bare", (3, 11, 2), venv=True, ensurepip=False, pip=False),
        interp("novenv", (3, 12, 0), venv=False, ensurepip=False, pip=False),
        failed("broken", "the probe failed"),
    ]
    reasons = {v.interpreter.path: (v.chosen, v.reason) for v in verdicts(pool, (3, 10))}
    assert reasons == {
        "/x/host": (False, "too old: 3.9.18 is older than 3.10 (--min-python)"),
        "/x/py312": (True, "chosen: the newest Python >= 3.10 that can build (with venv)"),
        "/x/py311": (False, "can build (venv); not chosen: 3.12.1 is newer"),
        "/x/bare": (False, "cannot build: no ensurepip for a venv and no pip for the --target fallback"),
        "/x/novenv": (False, "cannot build: no venv module for a venv and no pip for the --target fallback"),
        "/x/broken": (False, "the probe failed"),
    }


def test_the_host_verdict_says_why_others_lose() -> None:
    pool = [interp("host", (3, 11, 7), "host"), interp("py313", (3, 13, 0))]
    assert [v.reason for v in verdicts(pool, (3, 10))] == [
        "chosen: the host Python qualifies (builds with venv)",
        "can build (venv); not chosen: the host Python qualifies and is preferred",
    ]


def test_nothing_qualifies_nothing_is_chosen() -> None:
    pool = [interp("host", (3, 9, 18), "host"), interp("bare", (3, 12, 0), venv=True, ensurepip=False, pip=False)]
    assert not any(v.chosen for v in verdicts(pool, (3, 10)))
    assert discovery.Discovery(tuple(pool), 0, 0.0).choice((3, 10)) is None


@pytest.mark.parametrize(
    "pool, expected",
    [
        ([interp("host", (3, 9, 18), "host")], 0),  # none: 0, which the contract keeps on HOOK_PY_INCOMPATIBLE
        ([interp("host", (3, 9, 18), "host"), interp("py38", (3, 8, 0))], 0),
        ([interp("host", (3, 9, 18), "host"), interp("py312", (3, 12, 1)), interp("py313", (3, 13, 0))], 313),
        ([interp("host", (3, 12, 1), "host"), interp("py311", (3, 11, 0))], 311),  # other than the host
        # None can build: the best recent enough one still counts as found.
        ([interp("host", (3, 9, 18), "host"), interp("bare", (3, 12, 0), ensurepip=False, pip=False)], 312),
        # One that can build beats a newer one that cannot.
        ([interp("bare", (3, 13, 0), ensurepip=False, pip=False), interp("py311", (3, 11, 0))], 311),
    ],
)
def test_alt_py(pool: list[Interpreter], expected: int) -> None:
    assert alt_py(pool, (3, 10)) == expected
