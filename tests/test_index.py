"""IndexSettings: pip's index variables merged with explicit settings, the way pip merges them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import sdkboot
from sdkboot.index import ENV_VARS, IndexSettings, child_environ, env_bool
from sdkboot.spec import Spec
from sdkboot.strategies.base import pip_install
from tests.test_ensure import RUNNER, FakeRunner, make_spec


def test_nothing_set_means_pips_defaults() -> None:
    assert IndexSettings.from_environ({}) == IndexSettings()
    assert IndexSettings().pip_options() == ()


def test_the_environment_is_read_as_pip_reads_it() -> None:
    found = IndexSettings.from_environ(
        {
            "PIP_INDEX_URL": " https://mirror.example/simple ",
            "PIP_EXTRA_INDEX_URL": "https://a.example/simple  https://b.example/simple",
            "PIP_FIND_LINKS": "/w1\n/w2 /w1",  # whitespace-separated; a repeat is dropped
            "PIP_NO_INDEX": "yes",
        }
    )
    assert found == IndexSettings(
        "https://mirror.example/simple", ("https://a.example/simple", "https://b.example/simple"), ("/w1", "/w2"), True
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("On", True),
        ("y", True),
        ("0", False),
        ("", False),
        ("off", False),
        ("No", False),
        ("maybe", None),
        ("2", None),
    ],
)
def test_booleans_as_pip_reads_them(value: str, expected: Any) -> None:
    assert env_bool(value) is expected


def test_an_unreadable_no_index_is_not_taken_as_true() -> None:
    assert IndexSettings.from_environ({"PIP_NO_INDEX": "maybe"}).no_index is False


def test_explicit_settings_merge_over_the_environment_like_pip() -> None:
    env = IndexSettings("https://env.example/simple", ("https://extra-env.example",), ("/env-wheels",), True)
    explicit = IndexSettings("https://flag.example/simple", ("https://extra-flag.example",), ("/flag-wheels",))
    merged = explicit.over(env)
    assert merged.index_url == "https://flag.example/simple"  # a flag replaces the variable
    assert merged.extra_index_urls == ("https://extra-env.example", "https://extra-flag.example")  # lists add
    assert merged.find_links == ("/env-wheels", "/flag-wheels")
    assert merged.no_index is True  # either one turns the index off
    assert IndexSettings().over(env) == env


def test_pip_options_in_a_stable_order() -> None:
    settings = IndexSettings("https://i.example", ("https://x.example",), ("/w1", "/w2"), True)
    assert settings.pip_options() == (
        "--index-url",
        "https://i.example",
        "--extra-index-url",
        "https://x.example",
        "--find-links",
        "/w1",
        "--find-links",
        "/w2",
        "--no-index",
    )


def test_spec_resolves_the_environment_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "/house")
    spec = Spec(find_links=["/extra"])
    assert spec.index == IndexSettings(None, (), ("/house", "/extra"), True)
    assert spec.find_links == ("/extra",)  # the explicit field keeps what was given
    monkeypatch.delenv("PIP_NO_INDEX")
    assert spec.index.no_index is True  # frozen: a later change of the environment does not leak in


def test_every_strategy_reads_one_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # A strategy that does not run pip reads spec.index; the pip strategies get it as options.
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    argv = pip_install(Spec(extra_index_urls="https://x.example"))
    assert argv[argv.index("--index-url") + 1] == "https://mirror.example/simple"
    assert argv[argv.index("--extra-index-url") + 1] == "https://x.example"


def test_child_environ_drops_only_the_index_variables() -> None:
    environ: dict[str, str] = {name: "x" for name in ENV_VARS}
    environ.update(PIP_CERT="/ca.pem", HOME="/home/u")
    assert child_environ(environ) == {"PIP_CERT": "/ca.pem", "HOME": "/home/u"}


def test_a_hook_line_with_no_flags_reaches_pip_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings reach every pip child as options, and the variables do not reach it twice."""
    seen: list[Any] = []
    fake = FakeRunner()

    def recording(argv: Any, timeout: Any = None, env: Any = None, on_line: Any = None, **options: Any) -> Any:
        seen.append(env)
        return fake(argv, timeout, env, on_line)

    monkeypatch.setattr(RUNNER, "run", recording)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "/house")
    result = sdkboot.ensure(make_spec(tmp_path))
    assert result.outcome is sdkboot.Outcome.BUILT
    pip = next(argv for argv in fake.calls if argv[1:4] == ["-m", "pip", "install"])
    assert pip[pip.index("--find-links") + 1] == "/house" and "--no-index" in pip
    assert seen and all(env is not None and not set(env) & set(ENV_VARS) for env in seen)
    assert all(env.get("HOME") for env in seen)  # the rest of the environment is kept
