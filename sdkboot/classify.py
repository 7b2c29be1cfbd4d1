"""The one table-driven failure classifier.

Precedence, as the telemetry contract fixes it:
  our own evidence (spawn or read error, timeout) → signal kill by rc → signal kill named
  in the text → memory evidence → venv-phase patterns → pip patterns → venv_setup_failed → other.
A signal always wins over memory text (the text stays in the event log's stderr tail).
Matching runs on the lower-cased, whitespace-collapsed text of stdout AND stderr,
because Debian prints its ensurepip message to stdout, line-wrapped.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .codes import ErrKind, ExcType, Phase
from .runner import Completed

# Shell-style 128+N for SIGABRT, SIGKILL, SIGSEGV.
SHELL_SIGNAL_RCS = frozenset({134, 137, 139})
# ``pip --python ENV`` relaunches pip and reports an inner signal N as 256-N.
RELAUNCH_SIGNAL_RCS = frozenset({250, 247, 245})
# At most three digits: a signal number is below 128, and a longer one is no signal (int() of
# 4,301 digits raises, and a huge rc would reach the metrics).
_SIGNAL_TEXT = re.compile(r"died with <signals\.sig[a-z0-9]+: (\d{1,3})>")
_MAX_SIGNAL = 127
_TAIL_CHARS = 60
_SIG_CHARS = 30
# An unexpected exception's traceback goes to the event log: enough frames to locate it, bounded.
TRACE_CHARS = 4000


@dataclass(frozen=True)
class Rule:
    """Match when every ``all_of`` and (if given) any ``any_of`` substring is present."""

    kind: ErrKind
    any_of: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    phases: frozenset[Phase] | None = None

    def matches(self, phase: Phase, text: str) -> bool:
        if self.phases is not None and phase not in self.phases:
            return False
        if not all(needle in text for needle in self.all_of):
            return False
        return not self.any_of or any(needle in text for needle in self.any_of)


_VENV = frozenset({Phase.VENV})
COOLDOWN_KINDS = frozenset({ErrKind.SIGNAL_KILLED, ErrKind.OUT_OF_MEMORY})
# errno values that, from fork/exec or a read, mean the memory (or task) limit was hit.
MEMORY_ERRNOS = frozenset({errno.ENOMEM})
SPAWN_MEMORY_ERRNOS = frozenset({errno.ENOMEM, errno.EAGAIN})
_NO_THREAD = "can't start new thread"

RULES: tuple[Rule, ...] = (
    # Memory evidence without a signal (a signal rc is handled before the table): the child
    # ran under the same limit as the user's whole tree and failed to allocate. rc 127 with
    # "failed to map segment" is the dynamic loader failing before the interpreter even ran.
    Rule(
        ErrKind.OUT_OF_MEMORY,
        any_of=(
            "memoryerror",
            "cannot allocate memory",
            "errno 12]",
            "failed to map segment",
            "can't start new thread",
        ),
    ),
    Rule(ErrKind.OUT_OF_MEMORY, all_of=("fatal python error",), any_of=("memory",)),
    # A Rust extension's allocation error handler (it then aborts: that rc is a signal and wins).
    Rule(ErrKind.OUT_OF_MEMORY, all_of=("memory allocation of", "bytes failed")),
    # C code whose allocation failed and that returned NULL without setting MemoryError: under an
    # address-space limit the verification import fails this way as often as with MemoryError.
    Rule(ErrKind.OUT_OF_MEMORY, any_of=("systemerror: error return without exception set",)),
    # venv-phase patterns: the most specific evidence after memory.
    Rule(ErrKind.VENV_ENSUREPIP_FAIL, any_of=("ensurepip is not available",), phases=_VENV),
    Rule(ErrKind.VENV_ENSUREPIP_FAIL, all_of=("ensurepip", "returned non-zero exit status"), phases=_VENV),
    Rule(ErrKind.VENV_PATH_TOO_LONG, any_of=("errno 36", "file name too long", "max_path"), phases=_VENV),
    Rule(ErrKind.VENV_NO_MODULE, any_of=("no module named venv",), phases=_VENV),
    Rule(ErrKind.VENV_ALREADY_EXISTS, any_of=("errno 17", "file exists"), phases=_VENV),
    # pip patterns: the cause before its consequence. An unreachable index makes pip
    # retry (printing the cause), then end with "could not find a version", so
    # pip_no_match comes last; proxy_auth precedes conn_refused, which it often contains.
    Rule(
        ErrKind.DNS_FAIL,
        any_of=(
            "name or service not known",
            "temporary failure in name resolution",
            "nodename nor servname",
        ),
    ),
    Rule(ErrKind.PROXY_AUTH, all_of=("proxy",), any_of=("authent", "tunnel", "407")),
    Rule(ErrKind.CONN_REFUSED, any_of=("connection refused", "connection reset")),
    Rule(ErrKind.SSL_VERIFY, all_of=("ssl",), any_of=("verify", "certificate")),
    Rule(ErrKind.PERM_DENIED, any_of=("permission denied", "read-only file system")),
    Rule(ErrKind.NO_PIP, any_of=("no module named pip",)),
    Rule(ErrKind.DISK_FULL, any_of=("no space left", "disk quota")),
    Rule(ErrKind.REQUIRES_PYTHON, any_of=("requires a different python", "requires-python")),
    Rule(ErrKind.STDERR_TIMEOUT, any_of=("timeout", "timed out")),
    Rule(ErrKind.PIP_NO_MATCH, any_of=("no matching distribution", "could not find a version")),
    # Any other venv-phase failure is the generic "virtual environment was not created".
    Rule(ErrKind.VENV_SETUP_FAILED, phases=_VENV),
)


@dataclass(frozen=True)
class Failure:
    """A classified failure: the code, the contract's string form and its evidence."""

    kind: ErrKind
    text: str
    kill_rc: int | None = None
    exc_type: ExcType | None = None
    errno: int | None = None
    tail: str = ""
    # For an exception: its traceback (the last TRACE_CHARS), for the event log only.
    trace: str = field(default="", compare=False, repr=False)
    # For ``other:``: the whole last line with user-specific paths replaced (see ``normalized``).
    sig_text: str = field(default="", compare=False, repr=False)

    @property
    def is_signal_kill(self) -> bool:
        return self.kind is ErrKind.SIGNAL_KILLED

    @property
    def arms_cooldown(self) -> bool:
        """Killed by a signal or out of memory: a retry next session would almost surely fail again."""
        return self.kind in COOLDOWN_KINDS

    @property
    def stderr_sig(self) -> int | None:
        """Only for ``other:``: SHA-1 of the lower-cased first 30 chars of the normalized tail,
        2 bytes BE, mod 1000."""
        if not self.text.startswith("other:"):
            return None
        source = self.sig_text or self.tail
        digest = hashlib.sha1(source[:_SIG_CHARS].lower().encode("utf-8")).digest()
        return int.from_bytes(digest[:2], "big") % 1000


def is_signal_rc(rc: int, relaunched: bool = False) -> bool:
    """True for a signal death: rc < 0, shell-style 128+N, or pip's relaunch 256-N."""
    if rc < 0 or rc in SHELL_SIGNAL_RCS:
        return True
    return relaunched and rc in RELAUNCH_SIGNAL_RCS


def collapse(out: bytes, err: bytes) -> str:
    text = out.decode("utf-8", errors="replace") + "\n" + err.decode("utf-8", errors="replace")
    return " ".join(text.lower().split())


def last_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")


def _out_of_memory(exc: BaseException) -> Failure:
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
    return Failure(ErrKind.OUT_OF_MEMORY, ErrKind.OUT_OF_MEMORY.label, errno=code, tail=detail)


def is_memory_exception(exc: BaseException, spawning: bool = False) -> bool:
    """MemoryError, ENOMEM (and EAGAIN from fork), or a thread that could not get its stack."""
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError):
        return exc.errno in (SPAWN_MEMORY_ERRNOS if spawning else MEMORY_ERRNOS)
    return isinstance(exc, RuntimeError) and _NO_THREAD in str(exc)


def from_exception(exc: BaseException) -> Failure:
    """``out_of_memory`` for memory failures; else ``exc:<Type>:<errno>`` for the OSError family,
    ``exc:<Type>`` otherwise."""
    if is_memory_exception(exc):
        return _out_of_memory(exc)
    name = type(exc).__name__
    code = getattr(exc, "errno", None) if isinstance(exc, OSError) else None
    text = f"exc:{name}:{code}" if code is not None else f"exc:{name}"
    return Failure(ErrKind.UNCATEGORIZED, text, exc_type=ExcType.of(name), errno=code, tail=str(exc), trace=_trace(exc))


def _trace(exc: BaseException) -> str:
    import traceback

    if exc.__traceback__ is None:  # never raised (a spawn error handed back as a value has one)
        return ""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text[-TRACE_CHARS:]


def child_failure(exc: BaseException) -> Failure:
    """A child that could not be started or read: EAGAIN from fork counts as memory here too."""
    return _out_of_memory(exc) if is_memory_exception(exc, spawning=True) else from_exception(exc)


def _signal_kill(rc: int) -> Failure:
    return Failure(ErrKind.SIGNAL_KILLED, f"signal_killed:{rc}", kill_rc=rc)


# The characters that end a path: "/home/al" must match neither "/home/alice" nor "x/home/al".
_STOP = "\\s'\"(),:;=\\[\\]{}<>"
_IN_PATH = "[^" + _STOP + "]"
_NEXT_OK = "(?![^/\\\\" + _STOP + "])"  # what may follow a matched prefix: a separator, or the path's end
# Below these, one component is a per-run name (pip-install-x8k2, lean-18c3f-4242): one bucket.
_PER_RUN = re.compile("(<tmp>|<state>/builds)/[^/\\\\" + _STOP + "]+")
Places = Sequence[tuple[str, str]]


def _prefix_of(python: str | None) -> str | None:
    """The installation prefix of an interpreter at ``PREFIX/bin/python3``."""
    if not python:
        return None
    folder = os.path.dirname(os.path.realpath(python))
    return os.path.dirname(folder) if os.path.basename(folder) in ("bin", "Scripts") else folder


def _temp_dirs() -> Iterable[str]:
    import tempfile

    yield tempfile.gettempdir()
    yield from (os.environ.get(name, "") for name in ("TMPDIR", "TEMP", "TMP"))
    yield from ("/tmp", "/var/tmp")


def user_places(state_dir: str | None = None, python: str | None = None) -> Places:
    """(path, placeholder) pairs for what differs between users: longest path first, so that a
    state dir inside the home becomes ``<state>``, not ``<home>/...``."""
    named: list[tuple[str | None, str]] = [(state_dir, "<state>")]
    named += [(path, "<tmp>") for path in _temp_dirs()]
    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, _prefix_of(python))
    named += [(path, "<python>") for path in prefixes]
    named += [(os.environ.get("HOME"), "<home>"), (os.path.expanduser("~"), "<home>")]
    pairs: dict[str, str] = {}
    for path, mark in named:
        for form in {path, os.path.realpath(path)} if path else ():
            form = form.rstrip("/\\")
            if len(form) > 1 and form not in pairs:  # never "/" itself: every path would match
                pairs[form] = mark
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def normalized(text: str, places: Places) -> str:
    """``text`` with each place replaced by its placeholder where a whole path (prefix) matches."""
    for path, mark in places:
        pattern = "(?<!" + _IN_PATH + ")" + re.escape(path) + _NEXT_OK
        text = re.sub(pattern, mark, text)  # a placeholder holds no backslash: a literal replacement
    return _PER_RUN.sub(lambda match: match.group(1) + "/*", text)


def _other(done: Completed, places: Places | None) -> Failure:
    # stderr is the contract's source; Debian-style tools that only print to stdout fall back to it.
    line = last_line(done.err) or last_line(done.out)
    tail = line[:_TAIL_CHARS]
    sig_text = normalized(line, user_places() if places is None else places)
    return Failure(ErrKind.UNCATEGORIZED, f"other:{tail}", tail=tail, sig_text=sig_text)


def classify(phase: Phase, done: Completed, relaunched: bool = False, places: Places | None = None) -> Failure:
    """Name why the step ``done`` failed. Call only for a step that did fail.

    ``places`` (``user_places(state_dir, python)``) keep the signature of an ``other:`` tail
    the same for every user; by default, the home, temp dirs and this interpreter's prefixes."""
    if done.error is not None:
        return child_failure(done.error)
    if done.timed_out:
        return Failure(ErrKind.SUBPROCESS_TIMEOUT, ErrKind.SUBPROCESS_TIMEOUT.label)
    if is_signal_rc(done.rc, relaunched):
        return _signal_kill(done.rc)
    text = collapse(done.out, done.err)
    named = _SIGNAL_TEXT.search(text)
    if named and 0 < int(named.group(1)) <= _MAX_SIGNAL:  # e.g. venv's ensurepip child OOM-killed
        return _signal_kill(-int(named.group(1)))
    rule = next((rule for rule in RULES if rule.matches(phase, text)), None)
    if rule is None:
        return _other(done, places)
    return Failure(rule.kind, rule.kind.label, tail=last_line(done.err) or last_line(done.out))
