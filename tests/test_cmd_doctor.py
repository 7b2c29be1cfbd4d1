"""``sdkboot doctor``: the --json shape, the verdict logic with injected limits, masked proxies."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from sdkboot import floors, memlimit
from sdkboot.cli import main
from sdkboot.commands import doctor
from sdkboot.floors import Floor
from sdkboot.memlimit import Limit
from sdkboot.spec import Spec
from sdkboot.strategies.all_strategies import STRATEGIES
from tests.fake_envs import MIN_PYTHON, child_env, sdkboot
from tests.interpreters import write_wrapper

MiB = 1024 * 1024
GOOD_INTERP = {
    "executable": "/usr/bin/python3",
    "version": "3.11.7",
    "implementation": "CPython",
    "build": "main Jan 1 2024",
    "venv": True,
    "ensurepip": True,
    "pip": True,
}
ROOMY = {"state_dir": "/s", "checked": "/s", "free_bytes": 10 * 1024 * MiB, "writable": True}
TOP_KEYS = {"interpreter", "ensure_would", "memory_limits", "disk", "proxies", "verdicts", "pythons"}
INTERP_KEYS = {"executable", "version", "implementation", "tags", "venv", "ensurepip", "pip"}


def cgroup(mib: int) -> Limit:
    return Limit("cgroup v2 /user.slice", mib * MiB)


def test_json_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["doctor", "--json", "--state-dir", str(tmp_path / "state")])
    captured = capsys.readouterr()
    assert captured.err == ""
    info: dict[str, Any] = json.loads(captured.out)
    assert set(info) == TOP_KEYS
    assert set(info["interpreter"]) == INTERP_KEYS
    assert info["interpreter"]["executable"] and isinstance(info["interpreter"]["version"], str)
    assert all(isinstance(info["interpreter"][m], bool) for m in ("venv", "ensurepip", "pip"))
    assert all(set(x) == {"source", "bytes"} and isinstance(x["bytes"], int) for x in info["memory_limits"])
    assert set(info["disk"]) == {"state_dir", "checked", "free_bytes", "writable"}
    assert info["disk"]["state_dir"] == str(tmp_path / "state")
    assert info["disk"]["checked"] == str(tmp_path), "the nearest existing parent is what gets checked"
    assert isinstance(info["disk"]["free_bytes"], int) and info["disk"]["writable"] is True
    assert isinstance(info["proxies"], dict)
    assert set(info["verdicts"]) == set(STRATEGIES)
    assert all(isinstance(p, list) and all(isinstance(s, str) for s in p) for p in info["verdicts"].values())
    assert rc == (0 if any(not p for p in info["verdicts"].values()) else 1)
    assert not (tmp_path / "state").exists(), "doctor creates nothing"


# Fixture floors (MiB): the verdict logic, apart from whatever the shipped file measured.
VENV_FLOOR = Floor("venv", cgroup_mib=85.0, rlimit_as_mib=81.0)
TARGET_FLOOR = Floor("target", cgroup_mib=57.0, rlimit_as_mib=81.0)
LEAN_FLOOR = Floor("lean", cgroup_mib=53.0, rlimit_as_mib=82.0)


@pytest.mark.parametrize(
    "limits, venv_ok, target_ok",
    [
        ([], True, True),
        ([cgroup(50)], False, False),  # below both cgroup floors (venv 85, target 57)
        ([cgroup(70)], False, True),  # venv needs 85 MiB under a cgroup; target 57
        ([cgroup(84)], False, True),
        ([cgroup(85)], True, True),
        ([Limit("RLIMIT_AS", 80 * MiB)], False, False),  # both need 81 MiB of address space
        ([Limit("RLIMIT_AS", 81 * MiB)], True, True),
        ([Limit("RLIMIT_AS", 4096 * MiB), cgroup(70)], False, True),
    ],
)
def test_verdicts_from_memory_limits(limits: list[Limit], venv_ok: bool, target_ok: bool) -> None:
    assert (not doctor.verdict("venv", GOOD_INTERP, limits, ROOMY, VENV_FLOOR)) is venv_ok
    assert (not doctor.verdict("target", GOOD_INTERP, limits, ROOMY, TARGET_FLOOR)) is target_ok


def test_the_limit_problem_names_the_source_and_the_floor() -> None:
    assert doctor.verdict("venv", GOOD_INTERP, [cgroup(50)], ROOMY, VENV_FLOOR) == [
        "cgroup v2 /user.slice is 50.0 MiB, below the measured 85 MiB floor"
    ]
    assert doctor.verdict("target", GOOD_INTERP, [Limit("RLIMIT_AS", 64 * MiB)], ROOMY, TARGET_FLOOR) == [
        "RLIMIT_AS is 64.0 MiB, below the measured 81 MiB floor"
    ]


def test_an_unmeasured_strategy_or_limit_kind_is_no_evidence() -> None:
    assert doctor.verdict("venv", GOOD_INTERP, [cgroup(1)], ROOMY, None) == []
    half = Floor("venv", cgroup_mib=85.0, rlimit_as_mib=None)
    assert doctor.verdict("venv", GOOD_INTERP, [Limit("RLIMIT_AS", 1 * MiB)], ROOMY, half) == []


def test_doctor_reads_the_floors_file_the_preflight_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = floors.for_requirements(Spec().requirements)
    assert shipped, "the shipped floors file measures the default requirement"
    assert "FLOORS_MIB" not in vars(doctor), "floors live in the data file only"
    monkeypatch.setattr(memlimit, "all_limits", lambda root="/": [cgroup(1)])
    monkeypatch.setattr(doctor, "disk", lambda spec: {**ROOMY, "state_dir": spec.root})
    info = doctor_json(capsys, tmp_path)
    assert set(info["verdicts"]) == set(STRATEGIES)
    for label, floor in shipped.items():
        assert f"below the measured {floor.cgroup_mib:g} MiB floor" in info["verdicts"][label][-1]


@pytest.mark.parametrize(
    "missing, venv_ok, target_ok",
    [
        ("venv", False, True),
        ("ensurepip", False, True),
        ("pip", True, False),
    ],
)
def test_verdicts_from_missing_modules(missing: str, venv_ok: bool, target_ok: bool) -> None:
    interp = {**GOOD_INTERP, missing: False}
    assert (not doctor.verdict("venv", interp, [], ROOMY)) is venv_ok
    assert (not doctor.verdict("target", interp, [], ROOMY)) is target_ok
    problems = doctor.verdict("venv" if not venv_ok else "target", interp, [], ROOMY)
    assert problems == [f"the interpreter has no {missing} module"]


def test_verdicts_from_the_disk() -> None:
    full = {**ROOMY, "free_bytes": 100 * MiB}
    assert doctor.verdict("venv", GOOD_INTERP, [], full) == ["only 100.0 MiB free (the SDK needs about 600 MiB)"]
    locked = {**ROOMY, "writable": False}
    assert doctor.verdict("target", GOOD_INTERP, [], locked) == ["/s is not writable"]


def doctor_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> dict[str, Any]:
    rc = main(["doctor", "--json", "--state-dir", str(tmp_path / "state"), *MIN_PYTHON, *extra])
    captured = capsys.readouterr()
    assert captured.err == ""
    info: dict[str, Any] = json.loads(captured.out)
    info["rc"] = rc
    return info


@pytest.mark.parametrize(
    "mib, venv_ok, target_ok, rc", [(50, False, False, 1), (70, False, True, 0), (512, True, True, 0)]
)
def test_injected_limits_through_the_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mib: int,
    venv_ok: bool,
    target_ok: bool,
    rc: int,
) -> None:
    monkeypatch.setattr(memlimit, "all_limits", lambda root="/": [cgroup(mib)])
    monkeypatch.setattr(doctor, "disk", lambda spec: {**ROOMY, "state_dir": spec.root})
    fixture = {floor.strategy: floor for floor in (LEAN_FLOOR, VENV_FLOOR, TARGET_FLOOR)}
    monkeypatch.setattr(floors, "for_requirements", lambda requirements: fixture)
    info = doctor_json(capsys, tmp_path)
    assert info["memory_limits"] == [{"source": "cgroup v2 /user.slice", "bytes": mib * MiB}]
    assert (not info["verdicts"]["venv"], not info["verdicts"]["target"]) == (venv_ok, target_ok)
    assert info["rc"] == rc

    assert main(["doctor", "--state-dir", str(tmp_path / "state"), *MIN_PYTHON]) == rc
    text = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    text = {key: value.strip() for key, value in text.items()}
    assert text["memory limits"] == f"cgroup v2 /user.slice = {mib}.0 MiB"
    assert (text["strategy venv"] == "likely to work") is venv_ok
    assert (text["strategy target"] == "likely to work") is target_ok
    if not venv_ok:
        assert text["strategy venv"] == (
            f"unlikely: cgroup v2 /user.slice is {mib}.0 MiB, below the measured 85 MiB floor"
        )


@pytest.mark.skipif(sys.platform == "win32", reason="wrapper interpreters are POSIX sh scripts")
def test_a_broken_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write_wrapper(tmp_path / "py-broken", 'echo "python: cannot start: libpython missing" >&2; exit 127\n')
    info = doctor_json(capsys, tmp_path, "--python", str(broken))
    assert set(info["interpreter"]) == {"executable", "error"} and info["interpreter"]["executable"] == str(broken)
    assert info["interpreter"]["error"] == "the probe failed (exit 127): python: cannot start: libpython missing"
    assert "the interpreter has no venv module" in info["verdicts"]["venv"]
    assert "the interpreter has no pip module" in info["verdicts"]["target"]
    assert info["rc"] == 1


def test_disk_checks_the_nearest_existing_parent(tmp_path: Path) -> None:
    space = doctor.disk(Spec(state_dir=str(tmp_path / "a" / "b" / "c")))
    assert space["checked"] == str(tmp_path) and space["writable"] is True and space["free_bytes"] > 0


# --- proxies -------------------------------------------------------------------------------------

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "PIP_INDEX_URL", "PIP_PROXY")


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_proxies_are_reported_with_credentials_masked(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTPS_PROXY", "http://alice:s3cret@proxy.corp:3128")
    no_proxies.setenv("http_proxy", "http://proxy.corp:3128")
    no_proxies.setenv("NO_PROXY", "localhost,.corp")
    no_proxies.setenv("PIP_INDEX_URL", "https://__token__:pypi-AgEIcHlwaS5vcmc@pkgs.corp/simple")
    assert doctor.proxies() == {
        "HTTPS_PROXY": "http://***@proxy.corp:3128",
        "HTTP_PROXY": "http://proxy.corp:3128",
        "NO_PROXY": "localhost,.corp",
        "PIP_INDEX_URL": "https://***@pkgs.corp/simple",
    }


def test_no_proxies(no_proxies: pytest.MonkeyPatch) -> None:
    assert doctor.proxies() == {}


def test_credentials_never_reach_the_output(tmp_path: Path, no_proxies: pytest.MonkeyPatch) -> None:
    env_vars = {"HTTPS_PROXY": "http://alice:s3cret@proxy.corp:3128", "all_proxy": "socks5://bob:hunter2@s:1080"}
    done = sdkboot("doctor", "--json", "--state-dir", str(tmp_path / "state"), env=child_env(**env_vars))
    assert done.returncode in (0, 1) and done.stderr == ""
    assert "s3cret" not in done.stdout and "hunter2" not in done.stdout
    assert json.loads(done.stdout)["proxies"]["ALL_PROXY"] == "socks5://***@s:1080"


@pytest.mark.parametrize(
    "value, password_piece",
    [
        # Unencoded "@" in a password: URL parsers split user info at the LAST "@" (password "p@ss").
        ("http://alice:p@ss@proxy.corp:3128", "@ss@"),
        # No scheme: curl and pip both accept user:password@host:port for a proxy.
        ("alice:s3cret@proxy.corp:3128", "s3cret"),
    ],
)
def test_credentials_are_masked_in_every_form_pip_accepts(
    no_proxies: pytest.MonkeyPatch, value: str, password_piece: str
) -> None:
    no_proxies.setenv("HTTPS_PROXY", value)
    shown = doctor.proxies()["HTTPS_PROXY"]
    assert password_piece not in shown and "alice" not in shown, f"credentials leaked: {shown}"
    assert shown.endswith("proxy.corp:3128")
