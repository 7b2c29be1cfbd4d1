"""Image recipes, hashing, the rootfs plumbing and the CLI's errors; builds only under `docker`."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import types
from pathlib import Path
from typing import Any

import pytest

from repro import Unsupported, UsageError, debootstrap, dockerutil, images, report
from repro.images import ImageState, ProgressLine, Recipe

# ---- recipes ----


def test_the_three_recipes_differ_exactly_by_venv_and_pip() -> None:
    recipes = images.load_recipes()
    assert list(recipes) == ["debian12-python", "debian12-pip", "debian12-venv"]
    assert recipes["debian12-python"].packages == ("python3",)
    assert recipes["debian12-pip"].packages == ("python3", "python3-pip")
    assert set(recipes["debian12-venv"].packages) == {"python3", "python3-venv", "python3-pip"}
    assert all(r.suite == "bookworm" and r.variant == "minbase" for r in recipes.values())
    assert all(r.notes for r in recipes.values())


def test_recipes_prune_debs_and_apt_lists() -> None:
    for recipe in images.load_recipes().values():
        assert "var/cache/apt/archives/*.deb" in recipe.prune
        assert "var/lib/apt/lists/*" in recipe.prune


def test_hash_is_stable_and_ignores_notes() -> None:
    recipe = Recipe("x", ("python3",), notes="one")
    assert recipe.digest == Recipe("x", ("python3",), notes="two").digest
    assert len(recipe.digest) == 64 and int(recipe.digest, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"packages": ("python3", "python3-pip")},
        {"suite": "trixie"},
        {"variant": "buildd"},
        {"prune": ("var/lib/apt/lists/*",)},
    ],
)
def test_hash_changes_with_anything_that_changes_the_image(change: dict[str, Any]) -> None:
    recipe = Recipe("x", ("python3",))
    assert dataclasses.replace(recipe, **change).digest != recipe.digest


def test_recipes_without_packages_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "images.json"
    path.write_text(json.dumps({"images": [{"name": "bare"}]}))
    with pytest.raises(UsageError, match="needs a name and packages"):
        images.load_recipes(path)


def test_unreadable_recipes_are_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "images.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read the image recipes"):
        images.load_recipes(path)


def test_file_defaults_apply_to_each_recipe(tmp_path: Path) -> None:
    path = tmp_path / "images.json"
    data = {"suite": "trixie", "repository": "r", "images": [{"name": "a", "packages": ["p"]}]}
    path.write_text(json.dumps(data))
    recipe = images.load_recipes(path)["a"]
    assert (recipe.suite, recipe.ref) == ("trixie", "r:a")


def test_select_rejects_unknown_images() -> None:
    recipes = images.load_recipes()
    assert [r.name for r in images.select(recipes, ["debian12-pip"])] == ["debian12-pip"]
    with pytest.raises(UsageError, match="unknown image debian13"):
        images.select(recipes, ["debian13"])


def test_debootstrap_command_line() -> None:
    spec = Recipe("p", ("python3", "python3-pip")).bootstrap()
    assert spec.argv("/t") == [
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-pip",
        "bookworm",
        "/t",
    ]


# ---- rootfs plumbing ----


def test_missing_debootstrap_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(Unsupported, match=r"apt-get install debootstrap"):
        debootstrap.check_tools()


def test_mounts_below_finds_leftover_mounts_deepest_first() -> None:
    text = "\n".join(
        [
            "22 1 0:5 / /r/root/proc rw,nosuid - proc proc rw",
            "23 1 0:6 / /r/root/sys rw - sysfs sysfs rw",
            "24 1 0:7 / /r/root/dev/pts rw shared:2 - devpts devpts rw",
            "25 1 0:8 / /r/root2/proc rw - tmpfs tmpfs rw",
            "26 1 0:9 / /r/with\\040space/proc rw - x x rw",
        ]
    )
    assert debootstrap.mounts_below("/r/root", text) == [
        "/r/root/dev/pts",
        "/r/root/proc",
        "/r/root/sys",
    ]
    assert debootstrap.mounts_below("/r/with space", text) == ["/r/with space/proc"]
    assert debootstrap.mounts_below("/elsewhere", text) == []


def test_prune_removes_only_matching_files(tmp_path: Path) -> None:
    archives = tmp_path / "var/cache/apt/archives"
    lists = tmp_path / "var/lib/apt/lists/partial"
    archives.mkdir(parents=True)
    lists.mkdir(parents=True)
    (archives / "libc6.deb").write_bytes(b"x" * 100)
    (archives / "lock").write_bytes(b"")
    (lists / "part").write_bytes(b"y" * 10)
    freed = debootstrap.prune(str(tmp_path), ["var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"])
    assert freed == 110
    assert sorted(os.listdir(archives)) == ["lock"]
    assert os.listdir(tmp_path / "var/lib/apt/lists") == []


def test_remove_rootfs_deletes_an_unmounted_tree(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/python3").write_text("")
    debootstrap.remove_rootfs(str(root))
    assert not root.exists()


@pytest.mark.linux
def test_tar_stream_keeps_numeric_owners_and_modes(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    script = tmp_path / "bin/tool"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    data = b"".join(debootstrap.tar_stream(str(tmp_path)))
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.getmember("./bin/tool")
    assert member.mode & 0o777 == 0o755
    assert member.uid == os.getuid()


@pytest.mark.linux
def test_abandoned_tar_stream_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(os.urandom(4 * debootstrap.CHUNK))
    stream = debootstrap.tar_stream(str(tmp_path))
    started = time.monotonic()
    next(stream)
    stream.close()  # as when the engine rejects the import halfway
    # A hang would be forever; the bound only has to be finite and loose (a loaded machine).
    assert time.monotonic() - started < 120


# ---- progress and output ----


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_when_not_a_terminal() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream, "debian12-pip")
    line.debootstrap_line("I: Retrieving libc6 2.36-9")
    line.show("importing")
    line.clear()
    assert stream.getvalue() == ""


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    stream = FakeTty()
    line = ProgressLine(stream, "debian12-pip")
    for package in ("adduser 3.134", "apt 2.6.1"):
        line.debootstrap_line(f"I: Retrieving {package}")
    line.debootstrap_line("W: a warning is not a stage")
    text = stream.getvalue()
    assert "\n" not in text and text.count("\r") == 2
    assert "debian12-pip:" in text and "retrieving 2: apt 2.6.1" in text


def test_state_rows_show_missing_current_and_stale() -> None:
    recipe = Recipe("debian12-pip", ("python3", "python3-pip"))
    states = [
        ImageState(recipe, None, False),
        ImageState(recipe, "sha256:" + "a" * 64, True, 3 * 1024 * 1024),
        ImageState(recipe, "sha256:" + "b" * 64, False, 1024),
    ]
    rows = images.state_rows(states)
    assert [row[2] for row in rows] == ["STATUS", "missing", "current", "stale"]
    assert rows[2][3] == "a" * 12 and rows[2][4] == "3.0 MiB"
    table = report.aligned_table(rows)
    assert table.splitlines()[0].startswith("IMAGE")


def test_build_line_says_whether_it_built() -> None:
    recipe = Recipe("debian12-venv", ("python3",))
    skipped = images.BuildResult(recipe, "sha256:" + "c" * 64, built=False)
    built = images.BuildResult(recipe, "sha256:" + "c" * 64, True, 44.2, 90 * 1024 * 1024)
    assert images.build_line(skipped) == "debian12-venv: current (cccccccccccc), build skipped"
    assert images.build_line(built) == ("debian12-venv: built cccccccccccc in 44.2 s (pruned 90.0 MiB)")


# ---- a missing engine or SDK is one line, never a traceback ----


def fake_docker(error: type[Exception]) -> types.ModuleType:
    module = types.ModuleType("docker")

    def from_env(**kwargs: Any) -> Any:
        raise error("Error while fetching server API version: connection refused")

    module.errors = types.SimpleNamespace(DockerException=error)  # type: ignore[attr-defined]
    module.from_env = from_env  # type: ignore[attr-defined]
    return module


def test_missing_engine_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    class DockerException(Exception):
        pass

    monkeypatch.setitem(sys.modules, "docker", fake_docker(DockerException))
    with pytest.raises(Unsupported, match=r"apt-get install docker\.io") as caught:
        dockerutil.connect()
    assert "connection refused" in caught.value.reason


def test_missing_sdk_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)  # makes `import docker` fail
    with pytest.raises(Unsupported, match=r"pip install 'docker>=6'"):
        dockerutil.connect()


def test_cli_reports_a_missing_engine_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from repro import cli

    def no_engine(timeout: float = 0) -> Any:
        raise Unsupported("no Docker engine answers: install docker.io")

    monkeypatch.setattr(dockerutil, "connect", no_engine)
    assert cli.main(["images", "list"]) == cli.EXIT_UNSUPPORTED
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "install docker.io" in err and "Traceback" not in err


def test_cli_reports_missing_debootstrap_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from repro import cli

    client = types.SimpleNamespace(images=types.SimpleNamespace(list=lambda **kw: []))
    monkeypatch.setattr(dockerutil, "connect", lambda timeout=0: client)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("SDKBOOT_ROOTFS_TMP", str(tmp_path))
    assert cli.main(["images", "build", "debian12-python"]) == cli.EXIT_UNSUPPORTED
    err = capsys.readouterr().err
    assert "apt-get install debootstrap" in err and "Traceback" not in err


def test_cli_registers_images_build_and_list() -> None:
    from repro import cli

    args = cli.build_parser().parse_args(["images", "build", "debian12-pip", "--force"])
    assert args.handler is images.cmd_build and args.names == ["debian12-pip"] and args.force
    args = cli.build_parser().parse_args(["images", "list", "--json"])
    assert args.handler is images.cmd_list and args.json


# ---- against the engine ----


@pytest.fixture(scope="session")
def built_python_image(engine: Any) -> Recipe:
    import docker

    recipe = images.load_recipes()["debian12-python"]
    try:
        images.ensure_images(engine, [recipe], ProgressLine())
    except (Unsupported, debootstrap.BootstrapFailed, docker.errors.DockerException) as exc:
        pytest.skip(f"cannot build {recipe.name}: {exc}")
    return recipe


@pytest.mark.docker
def test_a_second_build_is_skipped_by_hash(engine: Any, built_python_image: Recipe) -> None:
    again = images.ensure_images(engine, [built_python_image], ProgressLine())[0]
    assert not again.built and again.seconds == 0.0  # skipped: no debootstrap ran
    assert again.image_id == engine.images.get(built_python_image.ref).id
    labels = engine.images.get(built_python_image.ref).labels
    assert labels[images.LABEL_HASH] == built_python_image.digest
    assert labels[images.LABEL_RECIPE] == "debian12-python"


@pytest.mark.docker
def test_list_says_current_or_stale(engine: Any, built_python_image: Recipe) -> None:
    assert images.image_state(engine, built_python_image).status == "current"
    changed = dataclasses.replace(built_python_image, packages=("python3", "python3-venv"))
    assert images.image_state(engine, changed).status == "stale"
    absent = dataclasses.replace(built_python_image, name="no-such-image")
    assert images.image_state(engine, absent).status == "missing"


def test_a_checkout_without_the_sdk_says_so_not_attributeerror() -> None:
    # No site-packages (-S): `import docker` can only find the repo's own docker/ directory.
    from repro import cli

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-S", "-m", "repro", "containers", "healthy"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == cli.EXIT_UNSUPPORTED
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"`import docker` found {repo / 'docker'}" in done.stderr
    assert "pip install 'docker>=6'" in done.stderr
