"""The failure classifier: one real-looking sample per err kind, and its precedence rules."""

from __future__ import annotations

import errno
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdkboot.classify import (
    Failure,
    classify,
    collapse,
    from_exception,
    is_signal_rc,
    last_line,
    normalized,
    user_places,
)
from sdkboot.codes import ErrKind, ExcType, Phase
from sdkboot.runner import SPAWN_FAILED_RC, Completed

# Debian 12 without python3-venv: rc 1, this on STDOUT, stderr empty.
DEBIAN_ENSUREPIP = (
    "The virtual environment was not created successfully because ensurepip is not\n"
    "available.  On Debian/Ubuntu systems, you need to install the python3-venv\n"
    "package using the following command.\n"
    "\n"
    "    apt install python3.11-venv\n"
    "\n"
    "You may need to use sudo with that command.  After installing the python3-venv\n"
    "package, recreate your virtual environment.\n"
    "\n"
    "Failing command: /tmp/env/bin/python3\n"
)
ENSUREPIP_KILLED = (
    "Error: Command '['/tmp/env/bin/python3', '-m', 'ensurepip', '--upgrade', '--default-pip']'"
    " died with <Signals.SIGKILL: 9>.\n"
)
ENSUREPIP_SEGV = ENSUREPIP_KILLED.replace("SIGKILL: 9", "SIGSEGV: 11")
ENSUREPIP_NONZERO = (
    "Error: Command '['/tmp/env/bin/python3', '-m', 'ensurepip', '--upgrade', '--default-pip']'"
    " returned non-zero exit status 1.\n"
)
NO_MATCH = (
    "ERROR: Could not find a version that satisfies the requirement claude-agent-sdk"
    " (from versions: none)\n"
    "ERROR: No matching distribution found for claude-agent-sdk\n"
)
_OSERROR = "ERROR: Could not install packages due to an OSError: "
_POOL = (
    "HTTPSConnectionPool(host='files.example.org', port=443): Max retries exceeded with url:"
    " /packages/claude_agent_sdk-0.1.0-py3-none-any.whl "
)
DNS = (
    _OSERROR + _POOL + "(Caused by NewConnectionError('<pip._vendor.urllib3.connection."
    "HTTPSConnection object at 0x7f3a2c1d0>: Failed to establish a new connection:"
    " [Errno -2] Name or service not known'))\n"
)
DNS_TEMPORARY = DNS.replace("[Errno -2] Name or service not known", "[Errno -3] Temporary failure in name resolution")
DNS_MACOS = DNS.replace(
    "[Errno -2] Name or service not known", "[Errno 8] nodename nor servname provided, or not known"
)
CONN_REFUSED = DNS.replace("[Errno -2] Name or service not known", "[Errno 111] Connection refused")
CONN_RESET = _OSERROR + "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))\n"
SSL = (
    _OSERROR + _POOL + "(Caused by SSLError(SSLCertVerificationError(1, '[SSL:"
    " CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer"
    " certificate (_ssl.c:1006)')))\n"
)
PERM = (
    _OSERROR + "[Errno 13] Permission denied: '/usr/lib/python3/dist-packages/anyio'\n"
    "Consider using the `--user` option or check the permissions.\n"
)
READ_ONLY = _OSERROR + "[Errno 30] Read-only file system: '/opt/env/lib/python3.11'\n"
NO_PIP = "/tmp/env/bin/python3: No module named pip\n"
DISK_FULL = _OSERROR + "[Errno 28] No space left on device\n"
DISK_QUOTA = _OSERROR + "[Errno 122] Disk quota exceeded\n"
PROXY = (
    _OSERROR + _POOL + "(Caused by ProxyError('Unable to connect to proxy',"
    " OSError('Tunnel connection failed: 407 Proxy Authentication Required')))\n"
)
READ_TIMEOUT = (
    "ERROR: Exception:\nTraceback (most recent call last):\n"
    '  File "/tmp/env/lib/python3.11/site-packages/pip/_vendor/urllib3/response.py", line 438,'
    " in _error_catcher\n    yield\n"
    "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool("
    "host='files.pythonhosted.org', port=443): Read timed out.\n"
)
PATH_TOO_LONG = "Error: [Errno 36] File name too long: '/tmp/" + "a" * 300 + "'\n"
NO_VENV = "/usr/bin/python3: No module named venv\n"
ALREADY_EXISTS = "Error: [Errno 17] File exists: '/tmp/env/lib64'\n"
VENV_GENERIC = "Error: [Errno 5] Input/output error: '/tmp/env/bin/python3'\n"
OOM_MEMORY = (
    'Traceback (most recent call last):\n  File "<frozen runpy>", line 198, in _run_module_as_main\nMemoryError\n'
)


def done(
    rc: int = 1, out: str = "", err: str = "", timed_out: bool = False, error: Exception | None = None
) -> Completed:
    return Completed(rc, out.encode(), err.encode(), 0.5, timed_out=timed_out, error=error)


def expected_sig(tail: str) -> int:
    """The contract's stderr_sig, computed independently of sdkboot."""
    head = tail[:30].lower()
    return int.from_bytes(hashlib.sha1(head.encode("utf-8")).digest()[:2], "big") % 1000


REQUIRES_PY = "ERROR: Package 'claude-agent-sdk' requires a different Python: 3.9.18 not in '>=3.10'\n"

KIND_SAMPLES = [
    pytest.param(Phase.PIP, done(err=NO_MATCH), ErrKind.PIP_NO_MATCH, id="pip_no_match"),
    pytest.param(Phase.PIP, done(err=DNS), ErrKind.DNS_FAIL, id="dns_fail"),
    pytest.param(Phase.PIP, done(err=DNS_TEMPORARY), ErrKind.DNS_FAIL, id="dns_fail-temporary"),
    pytest.param(Phase.PIP_TARGET, done(err=DNS_MACOS), ErrKind.DNS_FAIL, id="dns_fail-macos"),
    pytest.param(Phase.PIP, done(err=CONN_REFUSED), ErrKind.CONN_REFUSED, id="conn_refused"),
    pytest.param(Phase.PIP, done(err=CONN_RESET), ErrKind.CONN_REFUSED, id="conn_refused-reset"),
    pytest.param(Phase.PIP, done(err=SSL), ErrKind.SSL_VERIFY, id="ssl_verify"),
    pytest.param(Phase.PIP, done(err=PERM), ErrKind.PERM_DENIED, id="perm_denied"),
    pytest.param(Phase.PIP_TARGET, done(err=READ_ONLY), ErrKind.PERM_DENIED, id="perm_denied-ro"),
    pytest.param(Phase.PIP, done(err=NO_PIP), ErrKind.NO_PIP, id="no_pip"),
    pytest.param(Phase.PIP, done(err=DISK_FULL), ErrKind.DISK_FULL, id="disk_full"),
    pytest.param(Phase.PIP, done(err=DISK_QUOTA), ErrKind.DISK_FULL, id="disk_full-quota"),
    pytest.param(Phase.PIP, done(err=PROXY), ErrKind.PROXY_AUTH, id="proxy_auth"),
    pytest.param(Phase.PIP, done(rc=2, err=READ_TIMEOUT), ErrKind.STDERR_TIMEOUT, id="stderr_timeout"),
    pytest.param(Phase.PIP, done(rc=-9, timed_out=True), ErrKind.SUBPROCESS_TIMEOUT, id="subprocess_timeout"),
    pytest.param(Phase.VENV, done(out=DEBIAN_ENSUREPIP), ErrKind.VENV_ENSUREPIP_FAIL, id="venv_ensurepip_fail-debian"),
    pytest.param(
        Phase.VENV, done(err=ENSUREPIP_NONZERO), ErrKind.VENV_ENSUREPIP_FAIL, id="venv_ensurepip_fail-nonzero"
    ),
    pytest.param(Phase.VENV, done(err=PATH_TOO_LONG), ErrKind.VENV_PATH_TOO_LONG, id="venv_path_too_long"),
    pytest.param(Phase.VENV, done(err=NO_VENV), ErrKind.VENV_NO_MODULE, id="venv_no_module"),
    pytest.param(Phase.VENV, done(err=ALREADY_EXISTS), ErrKind.VENV_ALREADY_EXISTS, id="venv_already_exists"),
    pytest.param(Phase.VENV, done(err=VENV_GENERIC), ErrKind.VENV_SETUP_FAILED, id="venv_setup_failed"),
    pytest.param(Phase.PIP, done(rc=-9), ErrKind.SIGNAL_KILLED, id="signal_killed"),
    pytest.param(Phase.PIP, done(rc=2, err=OOM_MEMORY), ErrKind.OUT_OF_MEMORY, id="out_of_memory"),
    pytest.param(Phase.PIP, done(rc=1, err=REQUIRES_PY), ErrKind.REQUIRES_PYTHON, id="requires_python"),
    pytest.param(Phase.PIP, done(rc=1, err="error: something else broke\n"), ErrKind.UNCATEGORIZED, id="other"),
    pytest.param(
        Phase.VENV,
        done(rc=SPAWN_FAILED_RC, error=FileNotFoundError(errno.ENOENT, "No such file or directory")),
        ErrKind.UNCATEGORIZED,
        id="exc",
    ),
]


def test_samples_cover_every_err_kind() -> None:
    covered = {param.values[2] for param in KIND_SAMPLES}
    # interrupted is no child's failure: ensure() records it when sdkboot itself gets a signal.
    assert covered == set(ErrKind) - {ErrKind.NONE, ErrKind.INTERRUPTED}


@pytest.mark.parametrize("phase, completed, kind", KIND_SAMPLES)
def test_one_sample_per_kind(phase: Phase, completed: Completed, kind: ErrKind) -> None:
    failure = classify(phase, completed)
    assert failure.kind is kind
    if kind not in (ErrKind.SIGNAL_KILLED, ErrKind.UNCATEGORIZED):
        assert failure.text == kind.label


def test_debian_ensurepip_on_stdout_with_empty_stderr() -> None:
    failure = classify(Phase.VENV, Completed(1, DEBIAN_ENSUREPIP.encode(), b"", 0.1))
    assert failure.kind is ErrKind.VENV_ENSUREPIP_FAIL
    assert failure.text == "venv_ensurepip_fail"
    assert not failure.is_signal_kill and failure.kill_rc is None


def test_debian_text_with_crlf_and_on_stderr_too() -> None:
    crlf = DEBIAN_ENSUREPIP.replace("\n", "\r\n")
    assert classify(Phase.VENV, done(out=crlf)).kind is ErrKind.VENV_ENSUREPIP_FAIL
    assert classify(Phase.VENV, done(err=DEBIAN_ENSUREPIP)).kind is ErrKind.VENV_ENSUREPIP_FAIL


def test_venv_patterns_only_count_in_phase_venv() -> None:
    assert classify(Phase.PIP, done(out=DEBIAN_ENSUREPIP)).kind is not ErrKind.VENV_ENSUREPIP_FAIL
    assert classify(Phase.PIP, done(err=VENV_GENERIC)).kind is ErrKind.UNCATEGORIZED
    assert classify(Phase.PIP_TARGET, done(err=ALREADY_EXISTS)).kind is ErrKind.UNCATEGORIZED


def test_ensurepip_killed_names_the_signal() -> None:
    # venv exits 1, but its ensurepip child was SIGKILLed: a memory kill, not a setup failure.
    failure = classify(Phase.VENV, done(rc=1, err=ENSUREPIP_KILLED))
    assert failure.kind is ErrKind.SIGNAL_KILLED
    assert failure.text == "signal_killed:-9"
    assert failure.kill_rc == -9
    assert failure.is_signal_kill


def test_ensurepip_segfault_names_the_signal() -> None:
    failure = classify(Phase.VENV, done(rc=1, err=ENSUREPIP_SEGV))
    assert (failure.text, failure.kill_rc) == ("signal_killed:-11", -11)


def test_shell_wrapper_137_with_killed_on_stderr() -> None:
    failure = classify(Phase.PIP, done(rc=137, err="Killed\n"))
    assert (failure.kind, failure.text, failure.kill_rc) == (ErrKind.SIGNAL_KILLED, "signal_killed:137", 137)


@pytest.mark.parametrize("rc", [-9, -11, -6])
def test_negative_rc_is_signal_kill_even_with_output(rc: int) -> None:
    # pip's log on stdout (C3/C4 at 41-63 MiB) must not hide the kill.
    failure = classify(Phase.PIP, done(rc=rc, out="Looking in links: /wheels\n", err=NO_MATCH))
    assert failure.text == f"signal_killed:{rc}"
    assert failure.kill_rc == rc


@pytest.mark.parametrize("rc", [247, 245])
def test_pip_relaunch_rc_is_a_signal_only_when_relaunched(rc: int) -> None:
    relaunched = classify(Phase.PIP, done(rc=rc), relaunched=True)
    assert (relaunched.kind, relaunched.text, relaunched.kill_rc) == (ErrKind.SIGNAL_KILLED, f"signal_killed:{rc}", rc)
    direct = classify(Phase.PIP, done(rc=rc, err="ERROR: something else\n"), relaunched=False)
    assert direct.kind is not ErrKind.SIGNAL_KILLED
    assert direct.kill_rc is None


def test_timeout_wins_over_its_kill_rc() -> None:
    # We killed it with SIGKILL ourselves, so rc is -9, but the cause is the time limit.
    failure = classify(Phase.PIP, done(rc=-9, timed_out=True))
    assert failure.kind is ErrKind.SUBPROCESS_TIMEOUT
    assert failure.text == "subprocess_timeout"
    assert failure.kill_rc is None and not failure.is_signal_kill


def test_spawn_error_is_exc_with_errno() -> None:
    error = FileNotFoundError(errno.ENOENT, "No such file or directory", "/nope/python3")
    failure = classify(Phase.VENV, done(rc=SPAWN_FAILED_RC, error=error))
    assert failure.text == "exc:FileNotFoundError:2"
    assert failure.kind is ErrKind.UNCATEGORIZED
    assert failure.exc_type is ExcType.FileNotFoundError and int(failure.exc_type) == 1
    assert failure.errno == 2


@pytest.mark.parametrize(
    "exc, text, code, err_no",
    [
        (PermissionError(errno.EACCES, "Permission denied"), "exc:PermissionError:13", 2, 13),
        (OSError("no errno"), "exc:OSError", 6, None),
        (ValueError("bad json"), "exc:ValueError", 14, None),
        (RuntimeError("boom"), "exc:RuntimeError", 15, None),
        (KeyError("purelib"), "exc:KeyError", 99, None),
    ],
)
def test_from_exception(exc: BaseException, text: str, code: int, err_no: int | None) -> None:
    failure = from_exception(exc)
    assert (failure.text, int(failure.exc_type or 0), failure.errno) == (text, code, err_no)
    assert failure.kind is ErrKind.UNCATEGORIZED
    assert failure.stderr_sig is None  # only `other:` carries a signature


# -- memory failures without a signal ----------------------------------------------------------------

# What children print when they fail to allocate under the user's RLIMIT_AS (signatures.md).
MEMORY_TEXTS = [
    pytest.param(1, "", OOM_MEMORY, id="MemoryError-traceback"),
    pytest.param(2, "", "ERROR: Exception:\nTraceback (most recent call last):\n  ...\nMemoryError\n", id="pip-rc2"),
    pytest.param(120, "", "Exception ignored in: <_io.TextIOWrapper>\nMemoryError\n", id="rc120"),
    pytest.param(
        1, "", "ERROR: Could not install packages due to an OSError: [Errno 12] Cannot allocate memory\n", id="errno12"
    ),
    pytest.param(1, "", "OSError: [Errno 12] Out of memory\n", id="errno12-other-wording"),
    pytest.param(
        127,
        "",
        "python3: error while loading shared libraries: libm.so.6: failed to map segment from shared object\n",
        id="loader-127",
    ),
    pytest.param(
        1,
        "",
        "ImportError: /env/lib/python3.11/site-packages/pydantic_core/_pydantic_core.so:"
        " failed to map segment from shared object\n",
        id="import-map-segment",
    ),
    pytest.param(1, "", "RuntimeError: can't start new thread\n", id="no-thread"),
    pytest.param(
        1,
        "",
        "Fatal Python error: _PyMem_DebugMalloc: Python memory allocator called without holding the GIL\n",
        id="fatal-memory",
    ),
    pytest.param(
        1,
        "",
        "Fatal Python error: init_import_site: Failed to import the site module\n"
        "Traceback (most recent call last):\nMemoryError\n",
        id="fatal-site-MemoryError",
    ),
    pytest.param(1, "Looking in links: /wheels\nMemoryError\n", "", id="on-stdout"),
    # Both seen from the verification import of the real closure under RLIMIT_AS 40 MiB.
    pytest.param(
        1,
        "",
        '  File "/usr/lib/python3.11/typing.py", line 830, in __init__\n'
        "SystemError: error return without exception set\n",
        id="null-without-exception",
    ),
    pytest.param(1, "", "memory allocation of 8720 bytes failed\n", id="rust-alloc-error"),
]


@pytest.mark.parametrize("rc, out, err", MEMORY_TEXTS)
@pytest.mark.parametrize("phase", [Phase.VENV, Phase.PIP, Phase.PIP_TARGET, Phase.VERIFY])
def test_memory_text_without_a_signal_is_out_of_memory(phase: Phase, rc: int, out: str, err: str) -> None:
    failure = classify(phase, done(rc=rc, out=out, err=err))
    assert failure.kind is ErrKind.OUT_OF_MEMORY and int(failure.kind) == 17
    assert failure.text == "out_of_memory"
    assert failure.kill_rc is None and failure.stderr_sig is None
    assert failure.arms_cooldown


@pytest.mark.parametrize("rc", [-6, 134, -9, 137, -11, 139])
@pytest.mark.parametrize(
    "err",
    [
        OOM_MEMORY,
        "Fatal Python error: Aborted\nMemoryError\n",
        "[Errno 12] Cannot allocate memory\n",
        "memory allocation of 8720 bytes failed\nstack backtrace:\nAborted\n",
    ],
)
def test_a_signal_rc_beats_the_memory_text(rc: int, err: str) -> None:
    failure = classify(Phase.PIP, done(rc=rc, err=err))
    assert failure.kind is ErrKind.SIGNAL_KILLED
    assert (failure.text, failure.kill_rc) == (f"signal_killed:{rc}", rc)
    assert failure.arms_cooldown


def test_a_relaunch_signal_beats_the_memory_text() -> None:
    failure = classify(Phase.PIP, done(rc=247, err=OOM_MEMORY), relaunched=True)
    assert failure.text == "signal_killed:247"


def test_a_signal_named_in_the_text_beats_memory_text() -> None:
    failure = classify(Phase.VENV, done(rc=1, err=ENSUREPIP_KILLED + "MemoryError\n"))
    assert failure.text == "signal_killed:-9"


@pytest.mark.parametrize(
    "exc, code",
    [
        (OSError(errno.ENOMEM, "Cannot allocate memory"), errno.ENOMEM),
        (OSError(errno.EAGAIN, "Resource temporarily unavailable"), errno.EAGAIN),
        (MemoryError(), None),
        (RuntimeError("can't start new thread"), None),
    ],
    ids=["ENOMEM", "EAGAIN", "MemoryError", "no-thread"],
)
def test_a_child_that_could_not_start_for_memory_is_out_of_memory(exc: Exception, code: int | None) -> None:
    failure = classify(Phase.VENV, done(rc=SPAWN_FAILED_RC, error=exc))
    assert (failure.kind, failure.text, failure.errno) == (ErrKind.OUT_OF_MEMORY, "out_of_memory", code)
    assert failure.exc_type is None, "not an exc: kind, so no exception type code"
    assert failure.tail.startswith(type(exc).__name__)


@pytest.mark.parametrize(
    "exc", [MemoryError(), OSError(errno.ENOMEM, "Cannot allocate memory"), RuntimeError("can't start new thread")]
)
def test_a_memory_exception_in_our_own_process_is_out_of_memory(exc: BaseException) -> None:
    assert from_exception(exc).kind is ErrKind.OUT_OF_MEMORY


@pytest.mark.parametrize("exc", [BlockingIOError(errno.EAGAIN, "busy"), RuntimeError("dictionary changed size")])
def test_eagain_and_other_runtime_errors_outside_a_spawn_are_not_memory(exc: BaseException) -> None:
    assert from_exception(exc).kind is ErrKind.UNCATEGORIZED


def test_only_memory_and_signal_kinds_cool_down() -> None:
    cooling = {kind for kind in ErrKind if Failure(kind, kind.label).arms_cooldown}
    assert cooling == {ErrKind.SIGNAL_KILLED, ErrKind.OUT_OF_MEMORY}


def test_other_tail_is_first_60_chars_of_last_non_empty_stderr_line() -> None:
    line = "Fatal Python error: init_import_site: Failed to import the site module"
    err = f"Python runtime state: initialized\n{line}\n\n   \n"
    failure = classify(Phase.PIP, done(rc=1, out="stdout is not the source\n", err=err))
    assert failure.kind is ErrKind.UNCATEGORIZED
    assert failure.text == "other:" + line[:60]
    assert failure.text == "other:Fatal Python error: init_import_site: Failed to import the s"
    assert failure.stderr_sig == expected_sig(line[:60])
    # sha1("fatal python error: init_impor")[:2] = 0xd8bd = 55485; 55485 % 1000 = 485
    assert failure.stderr_sig == 485


@pytest.mark.parametrize(
    "err, tail",
    [
        (
            "python3: error while loading shared libraries: libz.so.1: cannot open shared object file\n",
            "python3: error while loading shared libraries: libz.so.1: ca",
        ),
        ("Could not import runpy module\n", "Could not import runpy module"),
        ("Segmentation fault in module init", "Segmentation fault in module init"),
    ],
)
def test_other_signature_matches_an_independent_computation(err: str, tail: str) -> None:
    failure = classify(Phase.PIP, done(rc=127, err=err))
    assert failure.text == "other:" + tail
    assert failure.stderr_sig == expected_sig(tail)
    assert 0 <= (failure.stderr_sig or 0) < 1000


def test_signature_lower_cases_the_first_30_chars() -> None:
    upper = classify(Phase.PIP, done(err="SOMETHING UNUSUAL HAPPENED IN THE BUILD STEP\n"))
    lower = classify(Phase.PIP, done(err="something unusual happened in the build step\n"))
    assert upper.text != lower.text
    assert upper.stderr_sig == lower.stderr_sig == expected_sig("something unusual happened in t")
    # Characters after the 30th do not move the signature.
    a = classify(Phase.PIP, done(err="x" * 30 + "AAAA\n"))
    b = classify(Phase.PIP, done(err="x" * 30 + "BBBB\n"))
    assert a.stderr_sig == b.stderr_sig


def _failure_for_user(monkeypatch: pytest.MonkeyPatch, home: str, tmp: str) -> Failure:
    """One failure as a user with this home and temp dir sees it: their paths in every place."""
    monkeypatch.setenv("HOME", home)
    monkeypatch.setenv("TMPDIR", tmp)
    state, python = f"{home}/.local/state/sdkboot/claude_agent_sdk", f"{home}/.pyenv/versions/3.11.7/bin/python3"
    err = (
        f"{python}: can't open file '{state}/builds/lean-18c3f2a-{len(home)}/run.py': [Errno 2] No such file"
        f" or directory; see {tmp}/pip-unpack-{len(tmp)}x/log"
    )
    return classify(Phase.PIP, done(err=err), places=user_places(state, python))


def test_the_signature_is_the_same_for_every_home(monkeypatch: pytest.MonkeyPatch) -> None:
    alice = _failure_for_user(monkeypatch, "/home/alice", "/tmp/user/1000")
    bob = _failure_for_user(monkeypatch, "/srv/people/robert", "/var/folders/x1/T")
    assert alice.kind is bob.kind is ErrKind.UNCATEGORIZED
    assert alice.text != bob.text  # the event log keeps each user's own text
    assert alice.stderr_sig == bob.stderr_sig is not None
    assert alice.stderr_sig == expected_sig("<python>/bin/python3: can't open file '<state>/builds/*/run.py'"[:30])
    # Hashed raw, the two tails fall into different buckets: the normalization is what joins them.
    assert expected_sig(alice.tail) != expected_sig(bob.tail)


def test_a_place_replaces_whole_path_components_only() -> None:
    places = user_places("/home/al/state", None)
    text = normalized("/home/alice/x and /home/al/y and x/home/al/z and /home/al/state/builds/b-1/p", places)
    assert text.startswith("/home/alice/x and ")
    assert " x/home/al/z " in text and "<state>/builds/*/p" in text


def test_places_never_include_the_root_and_put_longer_paths_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/")
    places = user_places("/home/u/state", "/usr/bin/python3")
    assert all(len(path) > 1 for path, _ in places)
    assert [len(path) for path, _ in places] == sorted((len(path) for path, _ in places), reverse=True)


@pytest.mark.parametrize("rc", [-9, -11, -6, 134, 137, 139])
def test_signal_rcs(rc: int) -> None:
    assert is_signal_rc(rc)
    assert is_signal_rc(rc, relaunched=True)


@pytest.mark.parametrize("rc", [0, 1, 2, 127])
def test_non_signal_rcs(rc: int) -> None:
    assert not is_signal_rc(rc)
    assert not is_signal_rc(rc, relaunched=True)


def test_collapse_joins_both_streams_lower_cased_and_single_spaced() -> None:
    assert collapse(b"A\n  B", b"\tC\r\nD ") == "a b c d"
    assert collapse(b"\xff\xfe", b"") == "\ufffd\ufffd"


def test_last_line() -> None:
    assert last_line(b"first\n  second  \n\n \t\n") == "second"
    assert last_line(b"") == ""
    assert last_line(b"\n\n") == ""


def test_failure_properties() -> None:
    kill = Failure(ErrKind.SIGNAL_KILLED, "signal_killed:-9", kill_rc=-9)
    assert kill.is_signal_kill and kill.stderr_sig is None
    other = Failure(ErrKind.UNCATEGORIZED, "other:abc", tail="abc")
    assert not other.is_signal_kill and other.stderr_sig == expected_sig("abc")


text_lines = st.lists(st.text(max_size=120), max_size=6).map("\n".join)


@given(phase=st.sampled_from(list(Phase)), rc=st.integers(-64, 255), out=text_lines, err=text_lines)
def test_classify_is_total_and_well_formed(phase: Phase, rc: int, out: str, err: str) -> None:
    failure = classify(phase, Completed(rc, out.encode(), err.encode(), 0.0))
    assert failure.kind is not ErrKind.NONE
    if rc < 0 or rc in (134, 137, 139):
        assert failure.text == f"signal_killed:{rc}" and failure.kill_rc == rc
    elif failure.kind is ErrKind.SIGNAL_KILLED:
        assert failure.text == f"signal_killed:{failure.kill_rc}" and (failure.kill_rc or 0) < 0
    elif failure.kind is ErrKind.UNCATEGORIZED:
        assert failure.text.startswith("other:")
        tail = failure.text[len("other:") :]
        assert len(tail) <= 60 and "\n" not in tail
        assert failure.stderr_sig == expected_sig(tail)
    else:
        assert failure.text == failure.kind.label
        assert failure.stderr_sig is None
    if phase is not Phase.VENV:
        assert failure.kind not in (
            ErrKind.VENV_ENSUREPIP_FAIL,
            ErrKind.VENV_PATH_TOO_LONG,
            ErrKind.VENV_NO_MODULE,
            ErrKind.VENV_ALREADY_EXISTS,
            ErrKind.VENV_SETUP_FAILED,
        )


@given(rc=st.integers(-64, -1), out=st.binary(max_size=200), err=st.binary(max_size=200))
def test_any_negative_rc_is_a_signal_kill_whatever_the_streams(rc: int, out: bytes, err: bytes) -> None:
    failure = classify(Phase.VENV, Completed(rc, out, err, 0.0))
    assert failure.text == f"signal_killed:{rc}"


@given(gaps=st.lists(st.sampled_from([" ", "\n", "  ", "\r\n", "\t", " \n  "]), min_size=3, max_size=3))
def test_ensurepip_message_matches_across_any_line_wrapping(gaps: list[str]) -> None:
    text = "because ensurepip" + gaps[0] + "is" + gaps[1] + "not" + gaps[2] + "available."
    failure = classify(Phase.VENV, done(out=text))
    assert failure.kind is ErrKind.VENV_ENSUREPIP_FAIL
