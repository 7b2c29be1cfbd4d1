"""The PEP 508 pre-check: reject what pip cannot take before any process starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sdkboot.requirements import problem

VALID = [
    "claude-agent-sdk",
    "claude-agent-sdk>=0.1",
    "claude_agent_sdk==0.1.0",
    "Claude.Agent-SDK",
    "anyio>=4,<5",
    "anyio >= 4 , < 5",
    "requests[security,socks]>=2.8.1,==2.8.*",
    "requests [ security ] ~= 2.31",
    "name (>=1.0)",
    "pkg===1.0+local",
    "pkg!=1.0.post1",
    "a",
    "x1",
    "pip; python_version < '3.11'",
    'mcp>=1.0 ; sys_platform == "linux" and python_version >= "3.10"',
    "name @ git+https://example.org/repo.git@v1",
    "name@https://example.org/name-1.0-py3-none-any.whl",
    "name @ file:///wheels/name-1.0-py3-none-any.whl",
    "foo; (os_name == 'nt' or extra == 'x') and python_version not in '2.7'",
    "foo ; python_full_version>='3.9.1'",
    "foo; platform_machine=='x86_64'",
    "foo; os.name == 'posix'",
    "foo; '3.10' <= python_version",
    "foo; ((sys_platform == 'linux'))",
]

INVALID = [
    "",
    "   ",
    ">=1.0",
    "-foo",
    "_foo",
    "foo-",
    "foo bar",
    "foo>=",
    "foo=1.0",
    "foo>>1",
    "foo==1.0 garbage",
    "foo[",
    "foo[bar",
    "foo[bar,]",
    "foo;",
    "foo; ",
    "foo,bar",
    "foo\nbar",
    "--index-url=x",
    # markers pip would reject only after a whole venv is built
    "foo; python_version >= 3.10",
    "foo; bogus == 'x'",
    "foo; python_version",
    "foo; python_version >= '3.10' and",
    "foo; (python_version > '3'",
    "foo; python_version > '3')",
    "foo; python_version === ",
    "foo; python_version ~= '3' or or os_name == 'nt'",
    "foo; 'unterminated == '3'",
    # Not PEP 508, and pip would take each as an option or a bare location.
    "--log=/tmp/x://y",
    " -r/etc/passwd",
    "https://example.org/name-1.0-py3-none-any.whl",
    "./pkg",
    "name @ --log=x",
    "x; --y://z",
    # Line breaks and control characters (a requirements-file line break to pip); the fuzz found \r.
    "y\r",
    "y\n",
    "foo\x0b>=1",
    "foo>=1\x00",
]


@pytest.mark.parametrize("requirement", VALID)
def test_valid(requirement: str) -> None:
    assert problem(requirement) is None


@pytest.mark.parametrize("requirement", INVALID)
def test_invalid(requirement: str) -> None:
    reason = problem(requirement)
    assert reason is not None
    assert repr(requirement) in reason
    assert "\n" not in reason  # one clear line, whatever the input held


def test_a_path_or_url_needs_a_name(tmp_path: Path) -> None:
    wheel = tmp_path / "odd name [1].whl"
    wheel.write_bytes(b"")
    for location in (str(wheel), "https://example.org/x.whl", "./x.whl"):
        reason = problem(location)
        assert reason is not None and "name @ " in reason, reason
    assert problem(f"odd @ {wheel.as_uri()}") is None


def test_an_option_is_named_as_one() -> None:
    reason = problem("--log=/tmp/x://y")
    assert reason is not None and "looks like an option" in reason


name = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?\Z")
version = st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){0,3}\Z")
operator = st.sampled_from(["==", "!=", "<=", ">=", "~=", "<", ">", "==="])
space = st.sampled_from(["", " ", "  "])


@given(name=name)
def test_every_plain_name_is_valid(name: str) -> None:
    assert problem(name) is None


@given(name=name, clauses=st.lists(st.tuples(operator, version), min_size=1, max_size=3), gap=space)
def test_names_with_version_clauses_are_valid(name: str, clauses: list[tuple[str, str]], gap: str) -> None:
    text = name + gap + ("," + gap).join(op + gap + ver for op, ver in clauses)
    assert problem(text) is None


@given(name=name, bad=st.sampled_from(["-", "_", ".", "=", "@", "[", ";", ">", "("]))
def test_a_name_must_start_with_a_letter_or_digit(name: str, bad: str) -> None:
    text = bad + name
    assume("://" not in text)
    assert problem(text) is not None


@given(first=name, second=name)
def test_two_names_are_not_one_requirement(first: str, second: str) -> None:
    assert problem(f"{first} {second}") is not None


def test_a_bad_marker_names_the_marker() -> None:
    reason = problem("foo; python_version >= 3.10")
    assert reason == (
        "not a valid requirement: 'foo; python_version >= 3.10': its environment marker"
        " 'python_version >= 3.10' is not PEP 508"
        " (expected e.g. python_version >= '3.10', values quoted)"
    )
