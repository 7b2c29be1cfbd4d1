"""The install-state file: one build per fingerprint side by side, atomic publishing, what is
retired, and every way a build can stop being healthy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdkboot import state
from sdkboot.layout import Layout
from sdkboot.spec import Spec
from sdkboot.state import Installs, InstallState, check, fingerprint, load, new_state, publish
from tests.fake_envs import publish_built


@pytest.fixture
def python(tmp_path: Path) -> Path:
    """A stand-in interpreter binary: only its path and file identity matter to the fingerprint."""
    path = tmp_path / "bin" / "python3"
    path.parent.mkdir()
    path.write_bytes(b"\x7fELF" + b"\0" * 64)
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    root = tmp_path / "state"
    root.mkdir()
    return Layout(str(root))


def make_spec(python: Path, layout: Layout, requirements: Any = ("claude-agent-sdk",)) -> Spec:
    return Spec(requirements=requirements, import_name="sdkboot_test_pkg", python=str(python), state_dir=layout.root)


def published(layout: Layout, spec: Spec, name: str = "venv-1") -> InstallState:
    env = Path(layout.builds) / name
    module = env / "lib" / "sdkboot_test_pkg" / "__init__.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    return publish_built(
        Path(layout.root), "venv", env, env / "lib", "3.11.7", [str(module), str(env)], fingerprint(spec)
    )


def write_state(layout: Layout, builds: list[dict[str, Any]], **extra: Any) -> None:
    Path(layout.state_file).write_text(json.dumps({"layout": state.LAYOUT_VERSION, "builds": builds, **extra}))


def temp_leftovers(layout: Layout) -> list[str]:
    return [name for name in os.listdir(layout.root) if name.startswith(".tmp-")]


def test_healthy_state_has_no_problem(python: Path, layout: Layout) -> None:
    spec = make_spec(python, layout)
    written = published(layout, spec)
    current, reason = check(layout, fingerprint(spec))
    assert reason is None
    assert current == written


def test_missing_state(python: Path, layout: Layout) -> None:
    current, reason = check(layout, fingerprint(make_spec(python, layout)))
    assert current is None
    assert reason == "install-state absent"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'"text"',
        b'{"layout": 2}',
        b'{"layout": 2, "builds": {}}',
        b'{"layout": 2, "builds": [], "retired": [1]}',
        b'{"layout": 2, "builds": [7]}',
    ],
)
def test_corrupt_state_gives_a_reason(python: Path, layout: Layout, content: bytes) -> None:
    Path(layout.state_file).write_bytes(content)
    current, reason = check(layout, fingerprint(make_spec(python, layout)))
    assert current is None
    assert reason is not None and reason.startswith("install-state corrupt")


@pytest.mark.parametrize("content", [b"{}", b'{"strategy": "venv", "env": "/x"}', b'{"layout": 1}'])
def test_a_state_of_another_layout_holds_no_build(python: Path, layout: Layout, content: bytes) -> None:
    Path(layout.state_file).write_bytes(content)
    installs = load(layout)
    assert installs.builds == () and installs.retired == ()
    assert installs.reason is not None and installs.reason.startswith("install-state is from another sdkboot layout")


def _valid_json(spec: Spec, path: str) -> dict[str, Any]:
    return new_state("venv", path, path, "3.11.7", [path], fingerprint(spec)).to_json()


@pytest.mark.parametrize(
    "field, value",
    [
        ("paths", 5),
        ("paths", None),
        ("paths", [1, 2]),
        ("fingerprint", "not a dict"),
        ("fingerprint", ["layout", 1]),
        ("site_stamp", ["1"]),
        ("site_stamp", [True]),
        ("unexpected_field", 1),
    ],
)
def test_malformed_fields_are_corrupt(python: Path, layout: Layout, field: str, value: Any) -> None:
    spec = make_spec(python, layout)
    data = _valid_json(spec, layout.root)
    data[field] = value
    write_state(layout, [data])
    current, reason = check(layout, fingerprint(spec))
    assert current is None
    assert reason is not None and reason.startswith("install-state corrupt")


@pytest.mark.parametrize("strategy", ["bogus", "none", 5])
def test_unknown_strategy_is_corrupt(python: Path, layout: Layout, strategy: Any) -> None:
    # A state this version could not have written must not read as healthy: ensure() maps
    # the strategy to an outcome and would otherwise crash on it every run.
    spec = make_spec(python, layout)
    data = _valid_json(spec, layout.root)
    data["strategy"] = strategy
    write_state(layout, [data])
    _, reason = check(layout, fingerprint(spec))
    assert reason is not None


# -- one build per fingerprint -------------------------------------------------------------------


def test_two_requirement_sets_keep_their_own_builds(python: Path, layout: Layout) -> None:
    one, two = make_spec(python, layout, ("pkg==1.0",)), make_spec(python, layout, ("pkg==2.0",))
    first, second = published(layout, one, "venv-1"), published(layout, two, "venv-2")
    assert check(layout, fingerprint(one)) == (first, None)
    assert check(layout, fingerprint(two)) == (second, None)
    assert load(layout).retired == ()


def test_two_interpreters_keep_their_own_builds(python: Path, layout: Layout, tmp_path: Path) -> None:
    other = tmp_path / "bin" / "python3.12"
    other.write_bytes(b"another interpreter")
    first, second = (
        published(layout, make_spec(python, layout), "venv-1"),
        published(layout, make_spec(other, layout), "venv-2"),
    )
    assert [b.env for b in load(layout).builds] == [first.env, second.env]


def test_a_rebuild_retires_the_build_it_replaces(python: Path, layout: Layout) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec, "venv-1")
    second = published(layout, spec, "venv-2")
    installs = load(layout)
    assert installs.builds == (second,) and installs.retired == (first.env,)


def test_an_interpreter_upgraded_in_place_supersedes_its_build(python: Path, layout: Layout) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec, "venv-1")
    python.write_bytes(b"\x7fELF" + b"\1" * 128)  # a new binary at the same path
    fp = fingerprint(spec)
    assert check(layout, fp) == (
        None,
        "no build yet for this interpreter and requirement set (the 1 here differ in: python)",
    )
    assert state.superseded(load(layout), fp) == [first]
    assert state.replaced_why(first, fp, layout.root) == f"the interpreter at {python} was replaced (upgraded?)"
    published(layout, spec, "venv-2")
    assert load(layout).retired == (first.env,)


def test_retire_lists_a_stage_once_and_keeps_the_builds(python: Path, layout: Layout) -> None:
    first = published(layout, make_spec(python, layout))
    state.retire(layout, "/s/builds/stage")
    state.retire(layout, "/s/builds/stage")
    assert load(layout) == Installs((first,), ("/s/builds/stage",))


def test_publishing_a_retired_stage_takes_it_off_the_list(python: Path, layout: Layout) -> None:
    stage = os.path.join(layout.builds, "venv-2")
    state.retire(layout, stage)
    record = published(layout, make_spec(python, layout), "venv-2")
    assert load(layout) == Installs((record,), ())


# -- health ----------------------------------------------------------------------------------------


def test_a_listed_path_deleted(python: Path, layout: Layout) -> None:
    spec = make_spec(python, layout)
    written = published(layout, spec)
    os.unlink(written.paths[0])
    current, reason = check(layout, fingerprint(spec))
    assert current == written
    assert reason == f"missing {written.paths[0]}"


def test_a_deleted_distribution_is_named(python: Path, layout: Layout) -> None:
    spec = make_spec(python, layout)
    env = Path(layout.builds) / "venv-1"
    site = env / "lib"
    for rel in ("sdkboot_test_pkg/__init__.py", "dep/__init__.py"):
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("")
    for dist, top in (("sdkboot_test_pkg", "sdkboot_test_pkg"), ("dep", "dep")):
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "RECORD").write_text(f"{top}/__init__.py,,\n{info.name}/RECORD,,\n")
    publish_built(Path(layout.root), "venv", env, site, "3.11.7", [str(env)], fingerprint(spec))
    assert check(layout, fingerprint(spec))[1] is None
    shutil.rmtree(site / "dep")
    assert check(layout, fingerprint(spec))[1] == "distribution dep missing (dep is gone)"


def test_requirement_normalization_ignores_order_case_spaces_and_duplicates() -> None:
    assert state.normalize_requirements(["B>=1", "a", "  A ", "b >=  1"]) == ("a", "b >= 1", "b>=1")
    assert state.normalize_requirements(["Claude-Agent-SDK", "anyio"]) == state.normalize_requirements(
        ["anyio", "claude-agent-sdk", "ANYIO"]
    )


def test_fingerprint_fields(python: Path, layout: Layout) -> None:
    fp = fingerprint(make_spec(python, layout, requirements=["Zed", "alpha"]))
    st = os.stat(python)
    assert fp["python"] == {"path": str(python), "file": f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"}
    assert set(fp["host"]) == {"path", "file", "version", "abi"}
    assert fp["requirements"] == ["alpha", "zed"]
    assert fp["import_name"] == "sdkboot_test_pkg"
    assert fp["layout"] == state.LAYOUT_VERSION
    # JSON round trip keeps it equal, which is what the check compares against.
    assert json.loads(json.dumps(fp)) == fp


def test_a_python_link_gives_the_same_fingerprint(python: Path, layout: Layout, tmp_path: Path) -> None:
    link = tmp_path / "bin" / "python"
    link.symlink_to(python.name)
    assert fingerprint(make_spec(link, layout)) == fingerprint(make_spec(python, layout))


# -- writing ----------------------------------------------------------------------------------------


def test_publish_replaces_and_leaves_no_temp_files(python: Path, layout: Layout) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec)
    second = new_state("target", first.env + "-b", first.site, "3.12.1", first.paths, fingerprint(spec))
    publish(layout, second)
    assert load(layout) == Installs((second,), (first.env,))
    assert temp_leftovers(layout) == []


def test_failed_serialization_keeps_the_old_state(python: Path, layout: Layout) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec)
    before = Path(layout.state_file).read_bytes()
    broken = new_state("venv", "/x", "/x", "3", ["/x"], {"unserializable": {1, 2}})
    with pytest.raises(TypeError):
        publish(layout, broken)
    assert Path(layout.state_file).read_bytes() == before
    assert load(layout) == Installs((first,))
    assert temp_leftovers(layout) == []


def test_failed_replace_keeps_the_old_state(python: Path, layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec)

    def interrupted(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(OSError):
        publish(layout, new_state("venv", "/y", "/y", "3", ["/y"], fingerprint(spec)))
    monkeypatch.undo()
    assert load(layout) == Installs((first,))
    assert temp_leftovers(layout) == []


def test_check_spawns_nothing(python: Path, layout: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(python, layout)
    published(layout, spec)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the health check must not spawn a subprocess")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    assert check(layout, fingerprint(spec))[1] is None


def test_unreadable_state_dir_is_a_reason_not_an_exception(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    current, reason = check(Layout(str(blocker / "state")), {})
    assert current is None and reason is not None and reason.startswith("install-state ")


# Paths as this version writes them: absolute, and free of NUL bytes (os.stat raises on those).
path_st = st.text(alphabet=st.characters(blacklist_characters="\0"), max_size=30).map(lambda text: "/" + text)
paths_st = st.lists(path_st, max_size=4)
fp_st = st.dictionaries(
    st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=20), st.lists(st.text(max_size=10))), max_size=6
)


@given(
    strategy=st.sampled_from(["venv", "target"]),
    env=path_st,
    version=st.text(max_size=10),
    paths=paths_st,
    fp=fp_st,
    built_at=st.floats(min_value=0, max_value=4e9),
    stamp=st.lists(st.integers(min_value=0, max_value=2**63), max_size=3),
)
def test_json_round_trip(
    strategy: str, env: str, version: str, paths: list[str], fp: dict[str, Any], built_at: float, stamp: list[int]
) -> None:
    original = InstallState(strategy, env, env, version, tuple(paths), fp, built_at, tuple(stamp))
    again = InstallState.from_json(json.loads(json.dumps(original.to_json())))
    assert again == original


@pytest.mark.parametrize(
    "field, value",
    [
        ("env", "relative/env"),
        ("site", "/site\0evil"),
        ("paths", ["/ok", "not/absolute"]),
        ("built_at", float("nan")),
        ("built_at", -1.0),
        ("built_at", 10**400),
        ("python_version", 311),
        ("paths", "/a/string"),
    ],
)
def test_paths_and_times_this_version_never_writes_are_corrupt(
    python: Path, layout: Layout, field: str, value: Any
) -> None:
    """A NUL byte would make os.stat raise ValueError in activate(); a relative path would
    resolve against whatever the host's cwd is."""
    spec = make_spec(python, layout)
    data = _valid_json(spec, layout.root)
    data[field] = value
    with pytest.raises(ValueError):
        InstallState.from_json(data)
