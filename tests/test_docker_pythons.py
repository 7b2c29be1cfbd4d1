"""In Debian 12 with python3 only (no venv, no pip): nothing can build, and sdkboot says what to install.

A fresh ``debian12-python`` container, networking off, sdkboot's source mounted read-only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import REPO, require_image, run_to_end

pytestmark = pytest.mark.docker
IMAGE = "debian12-python"


@pytest.fixture(scope="module")
def client(docker_engine: Any) -> Any:
    require_image(docker_engine, IMAGE)
    return docker_engine


def in_container(client: Any, argv: list[str]) -> dict[str, Any]:
    """Run ``python3 -m sdkboot ARGV`` in a fresh container; its exit code and both streams."""
    from repro import dockerutil, images

    container = client.containers.create(
        images.load_recipes()[IMAGE].ref,
        command=["python3", "-m", "sdkboot", *argv],
        network_mode="none",
        environment={"PYTHONPATH": "/src", "HOME": "/root"},
        labels=dockerutil.labels(),
        volumes={str(REPO / "sdkboot"): {"bind": "/src/sdkboot", "mode": "ro"}},
    )
    return run_to_end(container)


def test_pythons_explains_why_nothing_can_build(client: Any) -> None:
    done = in_container(client, ["pythons", "--json"])
    assert done["rc"] == 1 and done["err"] == "", done["err"]
    data = json.loads(done["out"])
    assert data["chosen"] is None
    debian = [row for row in data["candidates"] if row["real_path"] == "/usr/bin/python3.11"]
    assert len(debian) == 1 and debian[0]["reason"] == (
        "cannot build: no ensurepip for a venv and no pip for the --target fallback"
    )
    assert "apt install python3.11-venv python3-pip" in data["problem"]

    text = in_container(client, ["pythons"])
    assert text["rc"] == 1 and text["out"].splitlines()[-1].startswith("nothing chosen: no Python 3.10+ here")


def test_the_hook_notice_says_what_to_install(client: Any) -> None:
    done = in_container(client, ["hook", "--for-run", "--no-index"])
    assert done["rc"] == 0, done["err"]
    lines = [json.loads(line) for line in done["out"].splitlines()]
    assert len(lines) == 2 and lines[0]["async"] is True
    answer = lines[1]
    assert answer["metrics"]["sdk_bootstrap"] == 3 and answer["metrics"]["sdk_has_pip"] is False
    assert "apt install python3.11-venv python3-pip" in answer["systemMessage"]


def test_doctor_agrees_that_nothing_can_build(client: Any) -> None:
    doctor = in_container(client, ["doctor", "--json"])
    said = json.loads(doctor["out"])
    assert doctor["rc"] == 1 and said["pythons"]["chosen"] is None
    assert all(problems for problems in said["verdicts"].values())
    ensure = in_container(client, ["ensure", "--json", "--no-index"])
    assert ensure["rc"] == 1 and json.loads(ensure["out"])["outcome"] == "BUILD_FAILED"
