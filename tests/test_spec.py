"""Spec: normalization at construction, default state dir per platform, pip index flags."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from sdkboot import spec as spec_module
from sdkboot.layout import Layout
from sdkboot.spec import (
    DEFAULT_COOLDOWN,
    DEFAULT_IMPORT_NAME,
    DEFAULT_REQUIREMENTS,
    DEFAULT_STEP_TIMEOUT,
    Spec,
    default_state_dir,
    user_state_root,
)


def test_defaults() -> None:
    spec = Spec()
    assert spec.requirements == DEFAULT_REQUIREMENTS == ("claude-agent-sdk",)
    assert spec.import_name == DEFAULT_IMPORT_NAME == "claude_agent_sdk"
    assert spec.min_python == (3, 10)
    assert spec.python == sys.executable
    assert spec.step_timeout == DEFAULT_STEP_TIMEOUT == 300.0
    assert spec.cooldown_seconds == DEFAULT_COOLDOWN == 86400.0
    assert spec.index_options() == ()


def test_a_lone_string_is_one_item_not_characters() -> None:
    spec = Spec(requirements="claude-agent-sdk>=0.1", find_links="/wheels", pip_args="--pre")
    assert spec.requirements == ("claude-agent-sdk>=0.1",)
    assert spec.find_links == ("/wheels",)
    assert spec.pip_args == ("--pre",)


def test_sequences_become_tuples() -> None:
    spec = Spec(requirements=["a", "b"], find_links=["/w1", "/w2"], pip_args=["-q"], min_python=[3, 11])  # type: ignore[arg-type]
    assert spec.requirements == ("a", "b")
    assert spec.find_links == ("/w1", "/w2")
    assert spec.pip_args == ("-q",)
    assert spec.min_python == (3, 11) and isinstance(spec.min_python, tuple)


def test_frozen_and_hashable(tmp_path: Path) -> None:
    spec = Spec(state_dir=str(tmp_path))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.import_name = "other"  # type: ignore[misc]
    assert hash(spec) == hash(Spec(state_dir=str(tmp_path)))


def test_state_dir_is_absolute_and_user_expanded(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Spec(state_dir="~/sdk").state_dir == str(isolated_home / "sdk")
    monkeypatch.chdir(tmp_path)
    # getcwd() is the resolved path (macOS: /private/var/...), which abspath builds on.
    assert Spec(state_dir="rel/dir").root == os.path.join(os.getcwd(), "rel", "dir")


def test_env_override_of_the_state_dir(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    monkeypatch.setenv("SDKBOOT_STATE_DIR", "~/override")
    assert default_state_dir("anything") == str(isolated_home / "override")
    assert Spec().root == str(isolated_home / "override")
    # An explicit state_dir still wins over the environment.
    assert Spec(state_dir=str(isolated_home / "explicit")).root == str(isolated_home / "explicit")


def test_plugin_data_dir_comes_after_the_override_and_before_the_platform_default(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.setattr(spec_module, "user_state_root", lambda: "/state-root")
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", "~/.claude/plugins/data/example")
    expected = str(isolated_home / ".claude" / "plugins" / "data" / "example" / "sdkboot" / "claude_agent_sdk")
    assert default_state_dir("claude_agent_sdk") == expected
    assert Spec().root == expected
    monkeypatch.setenv("SDKBOOT_STATE_DIR", "/explicit-override")
    assert Spec().root == "/explicit-override"
    assert Spec(state_dir=str(isolated_home / "flag")).root == str(isolated_home / "flag")
    monkeypatch.delenv("SDKBOOT_STATE_DIR")
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", "")  # set but empty: not a directory to use
    assert Spec().root == os.path.join("/state-root", "sdkboot", "claude_agent_sdk")


def test_default_state_dir_reads_a_given_environment() -> None:
    assert default_state_dir("m", {"CLAUDE_PLUGIN_DATA": "/data"}) == os.path.join("/data", "sdkboot", "m")


def test_default_state_dir_is_per_import_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_module, "user_state_root", lambda: "/state-root")
    assert default_state_dir("claude_agent_sdk") == os.path.join("/state-root", "sdkboot", "claude_agent_sdk")
    assert Spec(import_name="pkg_a").root != Spec(import_name="pkg_b").root


def test_user_state_root_linux(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_STATE_HOME", "/xdg/state")
    assert user_state_root() == "/xdg/state"
    monkeypatch.setenv("XDG_STATE_HOME", "")
    assert user_state_root() == str(isolated_home / ".local" / "state")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert user_state_root() == str(isolated_home / ".local" / "state")


def test_user_state_root_macos(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("XDG_STATE_HOME", "/ignored/on/macos")
    assert user_state_root() == str(isolated_home / "Library" / "Application Support")


def test_user_state_root_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", "C:\\Users\\u\\AppData\\Local")
    assert user_state_root() == "C:\\Users\\u\\AppData\\Local"


def test_default_spec_never_points_at_the_real_home(isolated_home: Path) -> None:
    assert Path(Spec().root).is_relative_to(isolated_home)


def test_index_options_order() -> None:
    spec = Spec(index_url="https://mirror.example/simple", find_links=["/w1", "/w2"], no_index=True)
    assert spec.index_options() == (
        "--index-url",
        "https://mirror.example/simple",
        "--find-links",
        "/w1",
        "--find-links",
        "/w2",
        "--no-index",
    )
    assert Spec(no_index=True).index_options() == ("--no-index",)


def test_index_options_include_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", "/house")
    assert Spec(no_index=True).index_options() == ("--find-links", "/house", "--no-index")


def test_layout_paths(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    assert layout.state_file == str(tmp_path / "install-state.json")
    assert layout.cooldown_file == str(tmp_path / "cooldown.json")
    assert layout.lock_file == str(tmp_path / "build.lock")
    assert layout.events_file == str(tmp_path / "events.jsonl")
    assert layout.builds == str(tmp_path / "builds")
    first, second = layout.new_build("venv"), layout.new_build("venv")
    assert first != second
    assert os.path.dirname(first) == layout.builds
    assert os.path.basename(first).startswith("venv-")
