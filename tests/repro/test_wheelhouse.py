"""The wheelhouse helpers, with a stand-in interpreter instead of the network."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repro import wheelhouse


def test_default_is_the_env_var_else_the_user_cache(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    monkeypatch.setenv("SDKBOOT_WHEELHOUSE", "/srv/wheels")
    assert wheelhouse.default_wheelhouse() == Path("/srv/wheels")
    monkeypatch.delenv("SDKBOOT_WHEELHOUSE")
    assert wheelhouse.default_wheelhouse() == isolated_home / ".cache" / "sdkboot" / "wheelhouse"


def test_filled_means_the_requirement_wheel_is_there(tmp_path: Path) -> None:
    assert not wheelhouse.is_filled(tmp_path)
    (tmp_path / "anyio-4.16.0-py3-none-any.whl").touch()
    assert not wheelhouse.is_filled(tmp_path)
    (tmp_path / "claude_agent_sdk-0.2.187-py3-none-any.whl").touch()
    assert wheelhouse.is_filled(tmp_path)


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in interpreter is a POSIX sh script")
def test_fill_runs_pip_download_into_the_dir(tmp_path: Path) -> None:
    # Records its argv and drops a wheel where -d points, as pip download would.
    python = _fake_python(
        tmp_path, 'echo "$@" > "$(dirname "$0")/argv"; touch "$6/claude_agent_sdk-1.0-py3-none-any.whl"'
    )
    wheels = wheelhouse.fill(tmp_path / "house", python)
    assert [w.name for w in wheels] == ["claude_agent_sdk-1.0-py3-none-any.whl"]
    argv = (tmp_path / "argv").read_text().split()
    assert argv == [
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "-d",
        str(tmp_path / "house"),
        "claude-agent-sdk",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in interpreter is a POSIX sh script")
def test_fill_failure_names_pips_last_words(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, 'echo "ERROR: No matching distribution found" >&2; exit 1')
    with pytest.raises(wheelhouse.WheelhouseError, match=r"rc 1.*No matching distribution"):
        wheelhouse.fill(tmp_path / "house", python)


def test_cli_leaves_a_filled_wheelhouse_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from repro import cli

    (tmp_path / "claude_agent_sdk-0.2.187-py3-none-any.whl").touch()
    assert cli.main(["wheelhouse", "--dir", str(tmp_path), "--python", str(tmp_path / "no-python")]) == 0
    assert "already filled (1 wheels)" in capsys.readouterr().out
