"""Which build a consumer may use: the discovered-build checks of ``sdkboot.consumer``."""

from __future__ import annotations

from pathlib import Path

from sdkboot import consumer
from tests.fake_envs import fake_env, spec_for


def test_an_env_built_on_exactly_the_minimum_python_is_not_too_old(tmp_path: Path) -> None:
    root = tmp_path / "state"
    record = fake_env(root, python_version="3.10.4")
    assert consumer._env_too_old(record, spec_for(root, min_python=(3, 10))) is None
    assert consumer._env_too_old(record, spec_for(root, min_python=(3, 9))) is None
    reason = consumer._env_too_old(record, spec_for(root, min_python=(3, 11)))
    assert reason == "env was built with Python 3.10.4, older than 3.11"
