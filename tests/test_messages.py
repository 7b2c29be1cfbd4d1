"""Messages: every failure names the package, the interpreter and the limit involved, and ends with the
command that fixes or retries it. One case per err kind, derived from the codes (a new kind needs one)."""

from __future__ import annotations

import dataclasses
import re
import shlex
import sys
from pathlib import Path

import pytest

from sdkboot import cli, ensure, memlimit, messages
from sdkboot.classify import Failure, classify, from_exception
from sdkboot.codes import ErrKind, ExcType, Outcome, Phase
from sdkboot.invocation import launcher
from sdkboot.options import build_spec
from sdkboot.result import Result
from sdkboot.runner import Completed
from sdkboot.spec import Spec
from sdkboot.strategies.all_strategies import STRATEGIES
from tests.wheels import make_wheel

PYTHON = "/opt/py3/bin/python3"
EVENTS = "/s/events.jsonl"
LAUNCHER = shlex.split(" ".join(shlex.quote(word) for word in launcher()))
ENDS_WITH_A_COMMAND = re.compile(r": `[^`]+`$")

# Real pip / venv output, one per kind: (phase, the failing step's output tail).
EVIDENCE: dict[ErrKind, tuple[Phase, str]] = {
    ErrKind.PIP_NO_MATCH: (
        Phase.PIP,
        "ERROR: Could not find a version that satisfies the requirement anyio>=9"
        " (from versions: 4.0)\nERROR: No matching distribution found for anyio>=9\n",
    ),
    ErrKind.DNS_FAIL: (Phase.PIP, "Failed to establish a new connection: [Errno -2] Name or service not known\n"),
    ErrKind.CONN_REFUSED: (Phase.PIP, "[Errno 111] Connection refused\n"),
    ErrKind.SSL_VERIFY: (Phase.PIP, "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]'))\n"),
    ErrKind.PERM_DENIED: (Phase.VENV, "Error: [Errno 13] Permission denied: '/s/builds/venv-1'\n"),
    ErrKind.NO_PIP: (Phase.PIP_TARGET, "/opt/py3/bin/python3: No module named pip\n"),
    ErrKind.DISK_FULL: (
        Phase.PIP,
        "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
    ),
    ErrKind.PROXY_AUTH: (
        Phase.PIP,
        "ProxyError('Cannot connect to proxy.', OSError('Tunnel connection failed:"
        " 407 Proxy Authentication Required'))\n",
    ),
    ErrKind.STDERR_TIMEOUT: (Phase.PIP, "ReadTimeoutError: Read timed out. (read timeout=15)\n"),
    ErrKind.SUBPROCESS_TIMEOUT: (Phase.PIP, ""),
    ErrKind.VENV_ENSUREPIP_FAIL: (
        Phase.VENV,
        "The virtual environment was not created successfully because"
        " ensurepip is not\navailable.\n\n    apt install python3.11-venv\n",
    ),
    ErrKind.VENV_PATH_TOO_LONG: (Phase.VENV, "Error: [Errno 36] File name too long\n"),
    ErrKind.VENV_NO_MODULE: (Phase.VENV, "/opt/py3/bin/python3: No module named venv\n"),
    ErrKind.VENV_ALREADY_EXISTS: (Phase.VENV, "Error: [Errno 17] File exists: '/s/builds/venv-1'\n"),
    ErrKind.VENV_SETUP_FAILED: (Phase.VENV, "Error: something else went wrong\n"),
    ErrKind.SIGNAL_KILLED: (Phase.PIP, ""),
    ErrKind.OUT_OF_MEMORY: (Phase.PIP, "MemoryError\n"),
    ErrKind.REQUIRES_PYTHON: (
        Phase.PIP,
        "ERROR: Package 'newpy-dist' requires a different Python: 3.9.18 not in '>=3.10'\n",
    ),
    ErrKind.INTERRUPTED: (Phase.PIP, ""),  # sdkboot itself got SIGTERM: no child's output
}
# The package each message must name: pip's own subject where pip names one (often a dependency).
SUBJECT = {ErrKind.PIP_NO_MATCH: "anyio>=9", ErrKind.REQUIRES_PYTHON: "newpy-dist"}
KILL_RC = -9


def spec_at(tmp_path: Path, **changes: object) -> Spec:
    options: dict[str, object] = dict(requirements=("probe-dist>=1",), python=PYTHON, state_dir=str(tmp_path / "state"))
    options.update(changes)
    return Spec(**options)  # type: ignore[arg-type]


def failed(kind: ErrKind, mem_limit_mib: int | None = None) -> Result:
    phase, output = EVIDENCE[kind]
    rc = KILL_RC if kind is ErrKind.SIGNAL_KILLED else None
    text = f"signal_killed:{KILL_RC}" if rc else kind.label
    failure = Failure(kind, text, kill_rc=rc, tail=output.strip().splitlines()[-1] if output else "")
    return Result(Outcome.BUILD_FAILED, phase=phase, failure=failure, stderr_tail=output, mem_limit_mib=mem_limit_mib)


def test_every_err_kind_has_evidence_here() -> None:
    """A new err kind fails here until it gets a message and a case."""
    assert set(messages.all_kinds()) == set(EVIDENCE) == set(messages.EXPLAIN)


@pytest.mark.parametrize("kind", messages.all_kinds(), ids=lambda kind: kind.label)
def test_each_err_kind_names_package_interpreter_and_limit_and_ends_with_a_command(
    tmp_path: Path, kind: ErrKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memlimit, "all_limits", lambda: [])
    spec = spec_at(tmp_path)
    text = messages.explain(failed(kind, mem_limit_mib=64), spec, EVENTS)
    assert "\n" not in text
    assert SUBJECT.get(kind, "probe-dist>=1") in text, text
    assert PYTHON in text, text
    assert ENDS_WITH_A_COMMAND.search(text), text
    if kind in (ErrKind.SIGNAL_KILLED, ErrKind.OUT_OF_MEMORY):
        assert "64 MiB memory limit" in text and "--cooldown 0" in text
    if kind is ErrKind.SUBPROCESS_TIMEOUT:
        assert "300 s time limit" in text and "--timeout 600" in text


def command_in(text: str) -> str:
    """The backquoted command a message ends with."""
    match = re.search(r"`([^`]+)`$", text)
    assert match, text
    return match.group(1)


def test_the_retry_command_parses_back_to_the_same_spec(tmp_path: Path) -> None:
    other = tmp_path / "other python"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    spec = spec_at(
        tmp_path,
        python=str(other),
        import_name="probe_mod",
        index_url="https://mirror.example/simple",
        find_links=("/w 1", "/w2"),
        no_index=True,
        extra_index_urls=("https://extra.example/simple",),
        strategies=("target", "venv"),
        min_python=(3, 9),
        step_timeout=42.0,
    )
    line = messages.retry(spec)
    argv = after_launcher(line, "ensure")
    again = build_spec(cli.parse(cli.build_parser(), ["ensure", *argv]), must_write=False)
    assert again == spec


def after_launcher(line: str, command: str) -> list[str]:
    """The words after how this copy of sdkboot is started (``python -m sdkboot``, a zipapp...)."""
    words = shlex.split(line)
    assert words[: len(LAUNCHER)] == LAUNCHER and words[len(LAUNCHER)] == command, line
    return words[len(LAUNCHER) + 1 :]


def test_the_retry_command_of_a_default_spec_is_short() -> None:
    assert after_launcher(messages.retry(Spec()), "ensure") == []
    assert after_launcher(messages.retry(Spec(), cooldown="0"), "ensure") == ["--cooldown", "0"]
    assert after_launcher(messages.retry(Spec(step_timeout=30), timeout=None), "ensure") == []
    assert after_launcher(messages.retry(Spec(for_run=True)), "ensure") == ["--for-run"]
    assert after_launcher(messages.clean_line(Spec(import_name="x", python="/p")), "clean") == [
        "--yes",
        "--import-name",
        "x",
    ]


def test_without_the_fallback_ensurepip_missing_says_to_let_it_run(tmp_path: Path) -> None:
    result = dataclasses.replace(failed(ErrKind.VENV_ENSUREPIP_FAIL), has_pip=None)
    text = messages.explain(result, spec_at(tmp_path, strategies=("venv",)), EVENTS)
    assert "install python3.11-venv, or let the --target fallback run" in text
    assert "--strategy" not in command_in(text)
    with_no_pip = messages.explain(dataclasses.replace(result, has_pip=False), spec_at(tmp_path), EVENTS)
    assert with_no_pip.endswith("`sudo apt install python3.11-venv python3-pip`")


def test_a_missing_package_names_it(tmp_path: Path) -> None:
    done = Completed(1, b"", EVIDENCE[ErrKind.PIP_NO_MATCH][1].replace("anyio>=9", "nosuch-dist").encode(), 0.1)
    failure = classify(Phase.PIP, done)
    result = Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=failure, stderr_tail=done.err.decode())
    text = messages.explain(result, spec_at(tmp_path, requirements=("nosuch-dist",)), EVENTS)
    assert text.startswith("pip found no distribution for nosuch-dist, installing nosuch-dist with")


@pytest.mark.parametrize(
    "output, package, version, needed",
    [
        (
            "ERROR: Package 'newpy-dist' requires a different Python: 3.11.7 not in '>=3.99'\n",
            "newpy-dist",
            "3.11.7",
            ">=3.99",
        ),
        (
            "ERROR: Ignored the following versions that require a different python version:"
            " 1.0 Requires-Python >=3.12\n"
            "ERROR: Could not find a version that satisfies the requirement newpy-dist (from versions: none)\n"
            "ERROR: No matching distribution found for newpy-dist\n",
            "newpy-dist",
            None,
            ">=3.12",
        ),
    ],
)
def test_requires_python_is_its_own_kind_and_names_both_versions(
    tmp_path: Path, output: str, package: str, version: str | None, needed: str
) -> None:
    failure = classify(Phase.PIP, Completed(1, b"", output.encode(), 0.1))
    assert failure.kind is ErrKind.REQUIRES_PYTHON
    assert messages.requires_python(output) == (package, version, needed)
    spec = spec_at(tmp_path, python=sys.executable)  # the host's own: its version is known
    text = messages.explain(
        Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=failure, stderr_tail=output), spec, EVENTS
    )
    assert f"{package} requires Python {needed}, and pip rejected {sys.executable}" in text
    assert f"({version or '%d.%d.%d' % sys.version_info[:3]})" in text
    assert "no matching distribution" not in text.lower()
    assert "--python /path/to/python3.X" in command_in(text)


def test_a_program_that_is_not_a_python(tmp_path: Path) -> None:
    """``--python /bin/true`` through the API: venv "succeeds" and there is no bin/python to run."""
    error = FileNotFoundError(2, "No such file or directory", str(tmp_path / "state/builds/venv-1/bin/python"))
    result = Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=from_exception(error))
    text = messages.explain(result, spec_at(tmp_path, python="/bin/true"), EVENTS)
    assert text.startswith("/bin/true made no venv interpreter")
    assert "not a Python interpreter" in text and "--python /usr/bin/python3" in command_in(text)


def test_an_unexpected_error_points_at_its_traceback(tmp_path: Path) -> None:
    report: dict[str, str] = {}
    try:
        report["purelib"]
    except KeyError as exc:
        failure = from_exception(exc)
    result = Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=failure)
    text = messages.explain(result, spec_at(tmp_path), EVENTS)
    assert text.startswith("unexpected error (KeyError: 'purelib'), installing probe-dist>=1 with /opt/py3/bin/python3")
    assert f"the traceback is in {EVENTS}" in text and ENDS_WITH_A_COMMAND.search(text)
    assert "KeyError" in failure.trace and "test_an_unexpected_error_points_at_its_traceback" in failure.trace


def test_an_errno_the_table_knows_is_explained_as_that_kind(tmp_path: Path) -> None:
    error = PermissionError(13, "Permission denied", "/s/builds")
    result = Result(Outcome.BUILD_FAILED, phase=Phase.PRE, failure=from_exception(error))
    text = messages.explain(result, spec_at(tmp_path), EVENTS)
    assert text.startswith("[Errno 13] Permission denied: '/s/builds': permission denied in the state dir")
    assert "--state-dir DIR" in command_in(text)


def test_an_uncategorized_failure_names_the_step_and_the_log(tmp_path: Path) -> None:
    failure = classify(Phase.PIP, Completed(1, b"", b"something odd\n", 0.1))
    result = Result(Outcome.BUILD_FAILED, phase=Phase.PIP, failure=failure, stderr_tail="something odd\n")
    text = messages.explain(result, spec_at(tmp_path), EVENTS)
    assert text.startswith("the pip step failed (something odd), installing probe-dist>=1 with")
    assert EVENTS in text
    assert after_launcher(command_in(text), "doctor") == [
        "--state-dir",
        str(tmp_path / "state"),
        "--python",
        PYTHON,
        "probe-dist>=1",
    ]


def test_a_signal_kill_names_the_signal_and_the_limit_in_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memlimit, "all_limits", lambda: [memlimit.Limit("RLIMIT_AS", 40 * 1024 * 1024)])
    text = messages.explain(failed(ErrKind.SIGNAL_KILLED), spec_at(tmp_path), EVENTS)
    assert "killed by SIGKILL (rc -9)" in text and "under RLIMIT_AS = 40.0 MiB" in text
    monkeypatch.setattr(memlimit, "all_limits", lambda: [])
    assert "no memory limit seen" in messages.explain(failed(ErrKind.SIGNAL_KILLED), spec_at(tmp_path), EVENTS)


@pytest.mark.parametrize(
    "rc, name",
    [
        (-9, "SIGKILL (rc -9)"),
        (-11, "SIGSEGV (rc -11)"),
        (137, "SIGKILL (rc 137)"),
        (247, "SIGKILL (rc 247)"),
        (None, "a signal"),
    ],
)
def test_signal_names(rc: int | None, name: str) -> None:
    assert messages._signal_name(rc) == name


def test_low_memory_names_the_limit_the_floors_and_the_retry(tmp_path: Path) -> None:
    text = messages.low_memory(spec_at(tmp_path), 30, [("venv", 85), ("target", 57)])
    assert text.startswith(f"not building probe-dist>=1 with {PYTHON} under a 30 MiB memory limit")
    assert "venv needs 85 MiB, target needs 57 MiB" in text and "--cooldown 0" in command_in(text)
    assert int(Outcome.SKIP_LOW_MEMORY) == 10


def test_outcome_lines(tmp_path: Path) -> None:
    spec = spec_at(tmp_path, import_name="probe_mod")
    where = {label: strategy.where for label, strategy in STRATEGIES.items()}
    assert (
        messages.built(spec, where["venv"], "/s/builds/venv-1") == "probe_mod is importable from the new venv"
        " /s/builds/venv-1"
    )
    assert "the new --target dir /s/builds/target-1" in messages.built(spec, where["target"], "/s/builds/target-1")
    assert "the new lean env /s/builds/lean-1" in messages.built(spec, where["lean"], "/s/builds/lean-1")
    assert messages.cooling(spec, 99.4).endswith("--cooldown 0 'probe-dist>=1'`")


@pytest.mark.parametrize(
    "output, subject",
    [
        ("ERROR: No matching distribution found for nosuch-dist\n", "nosuch-dist"),
        ("ERROR: Could not find a version that satisfies the requirement a>=2 (from versions: 1.0)\n", "a>=2"),
        ("nothing useful\n", None),
    ],
)
def test_pip_subject(output: str, subject: str | None) -> None:
    assert messages.pip_subject(output) == subject


def test_exc_failures_keep_a_bounded_traceback() -> None:
    def deep(n: int) -> None:
        if n:
            deep(n - 1)
        raise ValueError("x" * 10_000)

    try:
        deep(200)
    except ValueError as exc:
        failure = from_exception(exc)
    assert 0 < len(failure.trace) <= 4000 and failure.trace.rstrip().endswith("x")
    assert failure.exc_type is ExcType.ValueError
    assert from_exception(OSError(2, "never raised")).trace == ""


@pytest.mark.e2e
def test_real_pip_requires_python_and_a_missing_package(tmp_path: Path) -> None:
    """Real pip, offline: a Requires-Python rejection is err kind 18 naming both versions, not "no match";
    a missing package is named."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "newpy-dist", {"newpy/__init__.py": ""}, requires_python=">=3.99")
    base = dict(
        state_dir=str(tmp_path / "state"),
        no_index=True,
        find_links=(str(wheels),),
        min_python=tuple(sys.version_info[:2]),
        cooldown_seconds=0.0,
    )
    host = "%d.%d.%d" % sys.version_info[:3]

    rejected = ensure(Spec(requirements=("newpy-dist",), import_name="newpy", **base))  # type: ignore[arg-type]
    assert (rejected.err_kind, rejected.metrics()["sdk_bootstrap_err"]) == ("requires_python", 18)
    assert f"newpy-dist requires Python >=3.99, and pip rejected {sys.executable} ({host})" in rejected.message

    missing = ensure(Spec(requirements=("nosuch-dist",), import_name="nosuch", **base))  # type: ignore[arg-type]
    assert missing.err_kind == "pip_no_match"
    assert missing.message.startswith("pip found no distribution for nosuch-dist, installing nosuch-dist with")
