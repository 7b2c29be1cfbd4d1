"""``sdkboot status``: healthy, unhealthy with a reason, cooldown left, a build running elsewhere."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sdkboot import cooldown, seal, state
from sdkboot.cli import main
from sdkboot.commands import status
from sdkboot.layout import Layout
from tests.fake_envs import PYTHON_XYZ, fake_env, lock_held, spec_for

BUILT_KEYS = {
    "state_dir",
    "built",
    "strategy",
    "env",
    "site",
    "python",
    "requirements",
    "built_at",
    "age_seconds",
    "size_bytes",
    "healthy",
    "reason",
    "cooldown",
    "building",
    "builds",
    "retired",
}
UNBUILT_KEYS = {"state_dir", "built", "healthy", "reason", "cooldown", "building", "builds", "retired"}


def run_status(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    rc = main(["status", "--json", "--state-dir", str(root), "--import-name", "fake_mod", *extra, "fake-dist"])
    captured = capsys.readouterr()
    assert captured.err == ""
    return rc, json.loads(captured.out)


def run_text(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, list[str]]:
    rc = main(["status", "--state-dir", str(root), "--import-name", "fake_mod", *extra, "fake-dist"])
    captured = capsys.readouterr()
    assert captured.err == ""
    return rc, captured.out.splitlines()


def test_healthy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "state"
    record = fake_env(root, spec=spec_for(root))

    rc, info = run_status(capsys, root)

    assert rc == 0
    assert set(info) == BUILT_KEYS
    assert info["healthy"] is True and info["reason"] is None and info["built"] is True
    assert (info["state_dir"], info["strategy"], info["env"], info["site"]) == (
        str(root),
        "venv",
        record.env,
        record.site,
    )
    assert info["python"] == PYTHON_XYZ and info["requirements"] == ["fake-dist"]
    assert info["built_at"] == record.built_at and 0 <= info["age_seconds"] < 60
    seal_size = (Path(record.env) / seal.SEAL_FILE).stat().st_size  # the use-lock is empty
    assert info["size_bytes"] == len("VALUE = 1\n") + len("#!/bin/sh\n") + seal_size
    assert [b["env"] for b in info["builds"]] == [record.env] and info["builds"][0]["this"] is True
    assert info["cooldown"] == {"active": False, "remaining_seconds": 0, "rc": None, "phase": None}
    assert info["building"] == {"running": False, "pid": None}


def test_healthy_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "state"
    fake_env(root, "target", spec=spec_for(root))
    rc, lines = run_text(capsys, root)
    assert rc == 0
    assert [line.split(":")[0] for line in lines] == [
        "state dir",
        "strategy",
        "env",
        "size",
        "python",
        "requirements",
        "age",
        "healthy",
        "cooldown",
        "building now",
    ]
    assert "healthy:      yes" in lines and "cooldown:     none" in lines and "building now: no" in lines


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("nothing built", "install-state absent"),
        (
            "other requirements",
            "no build yet for this interpreter and requirement set (the 1 here differ in: requirements)",
        ),
        (
            "other import name",
            "no build yet for this interpreter and requirement set (the 1 here differ in: import_name)",
        ),
        ("missing path", "missing {path}"),
        ("truncated state", "install-state corrupt: "),
        ("state is a list", "install-state corrupt: not a JSON object"),
        ("state lacks fields", "install-state corrupt: missing or unknown field"),
        ("state of an older layout", "install-state is from another sdkboot layout (1)"),
    ],
)
def test_unhealthy_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, reason: str
) -> None:
    root = tmp_path / "state"
    built_for = {
        "other requirements": spec_for(root, requirements=("something-else",)),
        "other import name": spec_for(root, import_name="other_mod"),
    }.get(damage, spec_for(root))
    record = fake_env(root, spec=built_for) if damage != "nothing built" else None
    state_file = root / "install-state.json"
    if damage == "missing path":
        Path(record.paths[0]).unlink()  # type: ignore[union-attr]
        reason = reason.format(path=record.paths[0])  # type: ignore[union-attr]
    elif damage == "truncated state":
        state_file.write_text(state_file.read_text()[:40])
    elif damage == "state is a list":
        state_file.write_text("[]")
    elif damage == "state lacks fields":
        state_file.write_text(json.dumps({"layout": state.LAYOUT_VERSION, "builds": [{"strategy": "venv"}]}))
    elif damage == "state of an older layout":
        state_file.write_text('{"strategy": "venv"}')

    rc, info = run_status(capsys, root)

    assert rc == 1
    assert info["healthy"] is False
    assert info["reason"].startswith(reason), info["reason"]
    unbuilt = damage not in ("missing path",)
    assert set(info) == (UNBUILT_KEYS if unbuilt else BUILT_KEYS)
    assert info["built"] is not unbuilt
    rc, lines = run_text(capsys, root)
    assert rc == 1 and any(line.startswith("healthy:") and f"no ({reason}" in line for line in lines)


@pytest.mark.parametrize(
    "field, value",
    [
        ("built_at", "yesterday"),
        ("built_at", True),
        ("env", 42),
        ("strategy", 7),
        ("strategy", "conda"),
        ("site", None),
    ],
)
def test_a_state_with_wrongly_typed_fields_is_unhealthy_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object
) -> None:
    """Valid JSON with a wrong type in a field is a corrupt install-state, like a truncated one,
    not arithmetic or a tree walk on the bad value ending in "internal error"."""
    root = tmp_path / "state"
    record = fake_env(root, spec=spec_for(root))
    data = record.to_json()
    data[field] = value
    (root / "install-state.json").write_text(json.dumps({"layout": state.LAYOUT_VERSION, "builds": [data]}))

    rc = main(["status", "--json", "--state-dir", str(root), "--import-name", "fake_mod", "fake-dist"])
    captured = capsys.readouterr()

    assert captured.err == "", captured.err
    info = json.loads(captured.out)
    assert rc == 1 and info["healthy"] is False and "install-state" in info["reason"]


def test_cooldown_remaining(tmp_path: Path) -> None:
    root = tmp_path / "state"
    spec = spec_for(root)
    fake_env(root, spec=spec)
    now = 1_700_000_000.0
    cooldown.arm(Layout(str(root)), now - 100, -9, "pip", state.fingerprint(spec))

    info = status.collect(spec, now)

    assert info["cooldown"] == {"active": True, "remaining_seconds": 86300, "rc": -9, "phase": "pip"}
    assert info["healthy"] is True, "a cooldown does not make a healthy env unhealthy"


def test_cooldown_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "state"
    spec = spec_for(root)
    root.mkdir()
    cooldown.arm(Layout(str(root)), time.time() - 600, 137, "pip_target", state.fingerprint(spec))

    rc, info = run_status(capsys, root, "--cooldown", "3600")

    assert rc == 1  # nothing built
    assert info["cooldown"]["active"] is True and info["cooldown"]["rc"] == 137
    assert 2990 <= info["cooldown"]["remaining_seconds"] <= 3000
    rc, lines = run_text(capsys, root, "--cooldown", "3600")
    assert any(line.startswith("cooldown:") and "s left (rc 137)" in line for line in lines)


def test_an_expired_or_foreign_cooldown_is_inactive(tmp_path: Path) -> None:
    root = tmp_path / "state"
    spec = spec_for(root)
    root.mkdir()
    now = 1_700_000_000.0
    cooldown.arm(Layout(str(root)), now - 90_000, -9, "pip", state.fingerprint(spec))
    assert status.collect(spec, now)["cooldown"] == {"active": False, "remaining_seconds": 0, "rc": -9, "phase": "pip"}
    cooldown.arm(Layout(str(root)), now, -9, "pip", state.fingerprint(spec_for(root, requirements=("x",))))
    assert status.collect(spec, now)["cooldown"]["active"] is False


def test_a_build_running_in_another_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root))
    with lock_held(root / "build.lock") as pid:
        rc, info = run_status(capsys, root)
        assert info["building"] == {"running": True, "pid": pid}
        assert rc == 0, "a healthy env stays healthy while a rebuild runs"
        _, lines = run_text(capsys, root)
        assert f"building now: yes (pid {pid})" in lines
    _, info = run_status(capsys, root)
    assert info["building"] == {"running": False, "pid": None}, "the lock goes with its holder"


def test_status_never_writes_into_a_missing_state_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "never-built"
    rc, info = run_status(capsys, root)
    assert rc == 1 and info["built"] is False and info["reason"] == "install-state absent"
    assert not root.exists()


def test_an_env_for_another_python_is_not_healthy_for_this_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `ensure --for-run` leaves when another X.Y built it: activate() here would refuse it.
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root), python_version="3.99.0")
    rc, info = run_status(capsys, root)
    assert (rc, info["healthy"]) == (1, False)
    assert info["reason"] == "env was built for Python 3.99, this is %s" % ".".join(PYTHON_XYZ.split(".")[:2])
    rc, info = run_status(capsys, root, "--for-run")
    assert (rc, info["healthy"], info["reason"]) == (0, True, None), "`sdkboot run` execs the env's own Python"


def test_status_leaves_an_empty_state_dir_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "state"
    root.mkdir()
    rc, info = run_status(capsys, root)
    assert rc == 1 and info["building"] == {"running": False, "pid": None}
    run_text(capsys, root)
    assert list(root.iterdir()) == [], "looking wrote nothing (no build.lock)"


def rewrite_state(root: Path, **fields: object) -> None:
    """Edit the one published build record."""
    data = json.loads((root / "install-state.json").read_text())
    data["builds"][0].update(fields)
    (root / "install-state.json").write_text(json.dumps(data))


def test_an_env_outside_the_state_dir_is_not_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state naming ``env: /usr`` made status walk 5.5 GiB."""
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root))
    rewrite_state(root, env="/usr")
    walked: list[str] = []

    def tree_size(path: str) -> int:
        walked.append(path)
        return 0

    monkeypatch.setattr(status, "tree_size", tree_size)
    _, info = run_status(capsys, root)
    assert walked == [] and info.get("size_bytes") is None
    _, lines = run_text(capsys, root)
    assert walked == []
    assert info["built"] and "size:         not measured (outside the state dir)" in lines


@pytest.mark.parametrize(
    "built_at", ["NaN", "Infinity", "1e400", str(10**400)], ids=["NaN", "Infinity", "1e400", "10**400"]
)
def test_a_build_time_that_is_not_a_number_never_shows_as_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], built_at: str
) -> None:
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root))
    path = root / "install-state.json"
    data = json.loads(path.read_text())
    data["builds"][0]["built_at"] = 0.5
    path.write_text(json.dumps(data).replace('"built_at": 0.5', f'"built_at": {built_at}'))
    _rc, lines = run_text(capsys, root)
    text = "\n".join(lines)
    assert "nan h" not in text.lower() and "inf h" not in text.lower(), text
    age = next((line for line in lines if line.startswith("age:")), None)
    assert age is None or age.endswith("unknown (bad build time)"), age


def test_paths_that_are_a_string_are_a_corrupt_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A string is not a list of paths: it read as one path per character ("missing n")."""
    root = tmp_path / "state"
    fake_env(root, spec=spec_for(root))
    rewrite_state(root, paths="nope")
    rc, info = run_status(capsys, root)
    assert rc == 1 and info["reason"] == "install-state corrupt: missing or unknown field: paths is not a list"
