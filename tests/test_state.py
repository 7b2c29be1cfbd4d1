"""The install-state file: atomic publishing, and every way it can stop being healthy."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdkboot import safefs, state
from sdkboot.layout import Layout
from sdkboot.spec import Spec
from sdkboot.state import InstallState, check, fingerprint, load, new_state, publish


@pytest.fixture
def python(tmp_path: Path) -> Path:
    """A stand-in interpreter binary: only its size and mtime matter to the fingerprint."""
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
    return Spec(requirements=requirements, import_name="sdkboot_test_pkg", python=str(python),
                state_dir=layout.root)


def published(layout: Layout, spec: Spec, tmp_path: Path) -> InstallState:
    env = tmp_path / "state" / "builds" / "venv-1"
    module = env / "lib" / "sdkboot_test_pkg" / "__init__.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    current = new_state("venv", str(env), str(env / "lib"), "3.11.7",
                        [str(module), str(env)], fingerprint(spec))
    publish(layout, current)
    return current


def temp_leftovers(layout: Layout) -> List[str]:
    return [name for name in os.listdir(layout.root) if name.startswith(".tmp-")]


def test_healthy_state_has_no_problem(python: Path, layout: Layout, tmp_path: Path) -> None:
    spec = make_spec(python, layout)
    written = published(layout, spec, tmp_path)
    current, reason = check(layout, fingerprint(spec))
    assert reason is None
    assert current == written


def test_missing_state(python: Path, layout: Layout) -> None:
    current, reason = check(layout, fingerprint(make_spec(python, layout)))
    assert current is None
    assert reason == "install-state absent"


@pytest.mark.parametrize("content", [
    b"", b"{", b"\xff\xfe", b"[]", b"null", b'"text"', b"{}",
    b'{"strategy": "venv"}',
])
def test_corrupt_state_gives_a_reason(python: Path, layout: Layout, content: bytes) -> None:
    Path(layout.state_file).write_bytes(content)
    current, reason = check(layout, fingerprint(make_spec(python, layout)))
    assert current is None
    assert reason is not None and reason.startswith("install-state corrupt")


def _valid_json(spec: Spec, path: str) -> Dict[str, Any]:
    return new_state("venv", path, path, "3.11.7", [path], fingerprint(spec)).to_json()


@pytest.mark.parametrize("field, value", [
    ("paths", 5),
    ("paths", None),
    ("paths", [1, 2]),
    ("fingerprint", "not a dict"),
    ("fingerprint", ["layout", 1]),
    ("unexpected_field", 1),
])
def test_malformed_fields_are_corrupt(python: Path, layout: Layout, field: str,
                                      value: Any) -> None:
    spec = make_spec(python, layout)
    data = _valid_json(spec, layout.root)
    data[field] = value
    Path(layout.state_file).write_text(json.dumps(data))
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
    Path(layout.state_file).write_text(json.dumps(data))
    _, reason = check(layout, fingerprint(spec))
    assert reason is not None


def test_python_upgraded_in_place_changes_python_id(python: Path, layout: Layout,
                                                   tmp_path: Path) -> None:
    spec = make_spec(python, layout)
    published(layout, spec, tmp_path)
    python.write_bytes(b"\x7fELF" + b"\1" * 128)  # a new binary: other size (and mtime)
    _, reason = check(layout, fingerprint(spec))
    assert reason == "fingerprint changed (python_id)"


def test_python_removed_changes_python_id(python: Path, layout: Layout, tmp_path: Path) -> None:
    spec = make_spec(python, layout)
    published(layout, spec, tmp_path)
    python.unlink()
    assert fingerprint(spec)["python_id"] == "missing"
    _, reason = check(layout, fingerprint(spec))
    assert reason == "fingerprint changed (python_id)"


def test_requirements_changed(python: Path, layout: Layout, tmp_path: Path) -> None:
    published(layout, make_spec(python, layout), tmp_path)
    other = make_spec(python, layout, requirements=("claude-agent-sdk>=0.2",))
    _, reason = check(layout, fingerprint(other))
    assert reason == "fingerprint changed (requirements)"


def test_other_interpreter_changes_python_and_python_id(python: Path, layout: Layout,
                                                        tmp_path: Path) -> None:
    published(layout, make_spec(python, layout), tmp_path)
    other = tmp_path / "bin" / "python3.12"
    other.write_bytes(b"different")
    _, reason = check(layout, fingerprint(make_spec(other, layout)))
    assert reason == "fingerprint changed (python, python_id)"


def test_layout_version_bump_mismatches(python: Path, layout: Layout, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(python, layout)
    published(layout, spec, tmp_path)
    monkeypatch.setattr(state, "LAYOUT_VERSION", state.LAYOUT_VERSION + 1)
    _, reason = check(layout, fingerprint(spec))
    assert reason == "fingerprint changed (layout)"


def test_a_listed_path_deleted(python: Path, layout: Layout, tmp_path: Path) -> None:
    spec = make_spec(python, layout)
    written = published(layout, spec, tmp_path)
    os.unlink(written.paths[0])
    current, reason = check(layout, fingerprint(spec))
    assert current == written
    assert reason == f"missing {written.paths[0]}"


def test_requirement_normalization_ignores_order_case_spaces_and_duplicates() -> None:
    assert state.normalize_requirements(["B>=1", "a", "  A ", "b >=  1"]) == ("a", "b >= 1",
                                                                              "b>=1")
    assert state.normalize_requirements(["Claude-Agent-SDK", "anyio"]) == \
        state.normalize_requirements(["anyio", "claude-agent-sdk", "ANYIO"])


def test_fingerprint_fields(python: Path, layout: Layout) -> None:
    fp = fingerprint(make_spec(python, layout, requirements=["Zed", "alpha"]))
    assert fp["python"] == str(python)
    assert fp["requirements"] == ["alpha", "zed"]
    assert fp["import_name"] == "sdkboot_test_pkg"
    assert fp["layout"] == state.LAYOUT_VERSION
    st_ = os.stat(python)
    assert fp["python_id"] == f"{st_.st_size}:{st_.st_mtime_ns}"
    # JSON round trip keeps it equal, which is what the check compares against.
    assert json.loads(json.dumps(fp)) == fp


def test_publish_replaces_and_leaves_no_temp_files(python: Path, layout: Layout,
                                                   tmp_path: Path) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec, tmp_path)
    second = new_state("target", first.env, first.site, "3.12.1", first.paths, fingerprint(spec))
    publish(layout, second)
    assert load(layout) == (second, None)
    assert temp_leftovers(layout) == []


def test_failed_serialization_keeps_the_old_state(python: Path, layout: Layout,
                                                  tmp_path: Path) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec, tmp_path)
    before = Path(layout.state_file).read_bytes()
    broken = new_state("venv", "/x", "/x", "3", ["/x"], {"unserializable": {1, 2}})
    with pytest.raises(TypeError):
        publish(layout, broken)
    assert Path(layout.state_file).read_bytes() == before
    assert load(layout) == (first, None)
    assert temp_leftovers(layout) == []


def test_failed_replace_keeps_the_old_state(python: Path, layout: Layout, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(python, layout)
    first = published(layout, spec, tmp_path)

    def interrupted(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safefs.os, "replace", interrupted)
    with pytest.raises(OSError):
        publish(layout, new_state("venv", "/y", "/y", "3", ["/y"], fingerprint(spec)))
    monkeypatch.undo()
    assert load(layout) == (first, None)
    assert temp_leftovers(layout) == []


def test_check_spawns_nothing(python: Path, layout: Layout, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(python, layout)
    published(layout, spec, tmp_path)

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
fp_st = st.dictionaries(st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=20),
                                                        st.lists(st.text(max_size=10))),
                        max_size=6)


@given(strategy=st.sampled_from(["venv", "target"]), env=path_st,
       version=st.text(max_size=10), paths=paths_st, fp=fp_st,
       built_at=st.floats(min_value=0, max_value=4e9))
def test_json_round_trip(strategy: str, env: str, version: str, paths: List[str],
                         fp: Dict[str, Any], built_at: float) -> None:
    original = InstallState(strategy, env, env, version, tuple(paths), fp, built_at)
    again = InstallState.from_json(json.loads(json.dumps(original.to_json())))
    assert again == original


@pytest.mark.parametrize("field, value", [
    ("env", "relative/env"), ("site", "/site\0evil"), ("paths", ["/ok", "not/absolute"]),
    ("built_at", float("nan")), ("built_at", -1.0), ("python_version", 311), ("paths", "/a/string"),
])
def test_paths_and_times_this_version_never_writes_are_corrupt(python: Path, layout: Layout, field: str,
                                                               value: Any) -> None:
    """A NUL byte would make os.stat raise ValueError in activate(); a relative path would
    resolve against whatever the host's cwd is."""
    spec = make_spec(python, layout)
    data = _valid_json(spec, layout.root)
    data[field] = value
    with pytest.raises(ValueError):
        InstallState.from_json(data)
