"""Every human line ``ensure()`` produces: what happened and, on failure, what to do.

A failure message names the package, the interpreter and the limit involved, and ends
with the command that would fix or retry it, in backquotes. The evidence comes from the
``Result`` itself (its failure, the failing step's output tail, the memory limit seen).

Importing this module costs nothing: the no-op path uses it for its one line, so ``re``,
the classifier and the limit readers are imported only where a failure is explained.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable

from .codes import ErrKind, Phase
from .spec import Spec

if TYPE_CHECKING:
    from .classify import Failure
    from .result import Result

# Installed size of the default closure (what "free space" advice asks for).
NEEDED_DISK_MIB = 600


# --- the retry command --------------------------------------------------------------------------


def retry(spec: Spec, command: str = "ensure", **changes: str | None) -> str:
    """The line that runs ``command`` on this spec again, as pasted, with ``changes`` (``cooldown="0"``).

    A change of None removes the option; "" makes it a bare flag.
    """
    from .invocation import launcher, option_pairs, quote, requirement_args, words

    pairs = option_pairs(spec)
    if spec.for_run and command != "run":  # run implies it
        pairs.append(("--for-run", None))
    for name, value in changes.items():
        flag = "--" + name.replace("_", "-")
        pairs = [(f, v) for f, v in pairs if f != flag]
        if value is not None:
            pairs.append((flag, value or None))
    return quote([*launcher(), command, *words(pairs), *requirement_args(spec)])


def clean_line(spec: Spec) -> str:
    """``clean --yes`` for this spec's state dir (clean takes only the location options)."""
    from .invocation import launcher, location_pairs, quote, words

    return quote([*launcher(), "clean", "--yes", *words(location_pairs(spec))])


def _run(line: str) -> str:
    return f"`{line}`"


# --- what the failure was about -----------------------------------------------------------------


def packages(spec: Spec) -> str:
    return " ".join(spec.requirements)


def interpreter(spec: Spec, version: str = "") -> str:
    """The build interpreter by path, with its version when it is known (always for the host's own)."""
    if not version and os.path.abspath(spec.python) == os.path.abspath(sys.executable):
        version = "%d.%d.%d" % sys.version_info[:3]
    return f"{spec.python} ({version})" if version else spec.python


def _search(pattern: str, text: str) -> tuple[str, ...] | None:
    import re

    match = re.search(pattern, text, re.IGNORECASE)
    return match.groups() if match else None


def pip_subject(output: str) -> str | None:
    """The requirement pip could not satisfy, as pip names it (often a dependency, not the top one)."""
    found = _search(r"no matching distribution found for (\S+)", output) or _search(
        r"satisfies the requirement (\S+)", output
    )
    return found[0] if found else None


def requires_python(output: str) -> tuple[str | None, str | None, str | None]:
    """(package, interpreter version, required specifier) from pip's Requires-Python rejection."""
    direct = _search(r"package '([^']+)' requires a different python: (\S+) not in '([^']+)'", output)
    if direct:
        return direct[0], direct[1], direct[2]
    # From an index pip lists what it ignored, then says it found nothing.
    ignored = _search(r"requires-python (\S+?)(?:\s*$|\s+error:|\s*\n)", output)
    return pip_subject(output), None, ignored[0] if ignored else None


def memory_limit(result: Result) -> str:
    """The memory limit in force, as "under <source> <size>", or "" when none was seen."""
    from .table import human_bytes

    if result.mem_limit_mib:
        return f"under a {result.mem_limit_mib} MiB memory limit"
    from . import memlimit

    limits = memlimit.all_limits()
    if not limits:
        return ""
    tightest = min(limits, key=lambda limit: limit.limit)
    return f"under {tightest.source} = {human_bytes(tightest.limit)}"


def _signal_name(rc: int | None) -> str:
    import signal

    if rc is None:
        return "a signal"
    # rc < 0: the signal itself; 128+N: a shell's; 256-N: pip's relaunch (classify.is_signal_rc)
    number = -rc if rc < 0 else rc - 128 if rc < 192 else 256 - rc
    try:
        return f"{signal.Signals(number).name} (rc {rc})"
    except ValueError:
        return f"signal {number} (rc {rc})"


# --- one explanation per err kind ---------------------------------------------------------------

Explain = Callable[["Result", Spec, str], str]


def _where(spec: Spec, limit: str = "") -> str:
    """ "installing PKG with PYTHON[, LIMIT]": every failure message names these."""
    return f"installing {packages(spec)} with {interpreter(spec)}" + (f", {limit}" if limit else "")


def _memory(cause: Callable[[Result], str]) -> Explain:
    def explain(result: Result, spec: Spec, output: str) -> str:
        limit = memory_limit(result) or "with no memory limit seen (the kernel's OOM killer, or another process)"
        return (
            f"{cause(result)}, {_where(spec, limit)}; retries pause for the cooldown:"
            f" raise the limit, then retry now: {_run(retry(spec, cooldown='0'))}"
        )

    return explain


def _killed(result: Result) -> str:
    rc = result.failure.kill_rc if result.failure else None
    return f"a build step was killed by {_signal_name(rc)}, usually for a memory limit"


def _no_match(result: Result, spec: Spec, output: str) -> str:
    subject = pip_subject(output) or packages(spec)
    return (
        f"pip found no distribution for {subject}, {_where(spec)}: check the name and version, and"
        f" where pip looks (--index-url, --find-links), then retry: {_run(retry(spec))}"
    )


def rejected_pythons(result: Result, spec: Spec, versions: Sequence[str]) -> str:
    """pip refused each of ``versions`` (or the one interpreter of ``spec``) for the package's Requires-Python."""
    package, version, needed = requires_python(result.stderr_tail or (result.failure.tail if result.failure else ""))
    subject = package or packages(spec)
    refused = f"Python {', '.join(versions)}" if len(versions) > 1 else interpreter(spec, version or "".join(versions))
    return (
        f"{subject} requires Python {needed or '(another version)'}, and pip rejected {refused}:"
        f" build with an interpreter it supports: {_run(retry(spec, python='/path/to/python3.X'))}"
    )


def _requires_python(result: Result, spec: Spec, output: str) -> str:
    return rejected_pythons(result, spec, ())


def _timeout(result: Result, spec: Spec, output: str) -> str:
    longer = f"{max(spec.step_timeout * 2, 60):g}"
    return (
        f"a build step ran past its {spec.step_timeout:g} s time limit and was stopped, {_where(spec)}:"
        f" allow it more time: {_run(retry(spec, timeout=longer))}"
    )


def _apt_package(output: str, default: str) -> str:
    found = _search(r"apt install (python3[\w.]*-venv)", output)
    return found[0] if found else default


def _no_ensurepip(result: Result, spec: Spec, output: str) -> str:
    venv_pkg = _apt_package(output, "python3-venv")
    if result.has_pip is not False:  # the --target fallback was not tried (--strategy left it out)
        return (
            f"{interpreter(spec)} cannot create a venv (no ensurepip), installing {packages(spec)}: install"
            f" {venv_pkg}, or let the --target fallback run: {_run(retry(spec, strategy=None))}"
        )
    return (
        f"{interpreter(spec)} cannot create a venv (no ensurepip) and has no pip for the --target fallback,"
        f" installing {packages(spec)}: install them, or pass --python with an interpreter that has them:"
        f" {_run(f'sudo apt install {venv_pkg} python3-pip')}"
    )


def _simple(cause: str, advice: str, **changes: str) -> Explain:
    """A message whose cause and advice need only the spec."""

    def explain(result: Result, spec: Spec, output: str) -> str:
        text = cause.format(root=spec.root, python=interpreter(spec), disk=NEEDED_DISK_MIB)
        return f"{text}, {_where(spec)}: {advice}: {_run(retry(spec, **changes))}"

    return explain


def _venv_tool(cause: str, advice: str, fix: str) -> Explain:
    def explain(result: Result, spec: Spec, output: str) -> str:
        line = fix.format(
            retry=retry(spec),
            clean=clean_line(spec),
            doctor=retry(spec, "doctor"),
            other=retry(spec, python="/path/to/python3"),
        )
        return f"{cause.format(python=interpreter(spec))}, installing {packages(spec)}: {advice}: {_run(line)}"

    return explain


def _interrupted(result: Result, spec: Spec, output: str) -> str:
    rc = result.failure.kill_rc if result.failure else None
    cause = _signal_name(rc).split(" (rc")[0] if rc is not None else "the host"
    return (
        f"the build was interrupted by {cause} and stopped, {_where(spec)}: every process it started was"
        f" killed and nothing was kept; the next session builds again, or now: {_run(retry(spec))}"
    )


EXPLAIN: dict[ErrKind, Explain] = {
    ErrKind.PIP_NO_MATCH: _no_match,
    ErrKind.DNS_FAIL: _simple(
        "the package index host did not resolve", "check the network, or pass a reachable --index-url, then retry"
    ),
    ErrKind.CONN_REFUSED: _simple(
        "the package index refused the connection", "check the network and the proxy (HTTPS_PROXY), then retry"
    ),
    ErrKind.SSL_VERIFY: _simple(
        "TLS certificate verification failed", "set PIP_CERT to your CA bundle (or fix the system's), then retry"
    ),
    ErrKind.PERM_DENIED: _simple(
        "permission denied in the state dir {root}",
        "make it writable by you, or use another state dir",
        state_dir="DIR",
    ),
    ErrKind.NO_PIP: _venv_tool(
        "{python} has no pip module",
        "install pip for it (Debian/Ubuntu: python3-pip), or use another interpreter",
        "{other}",
    ),
    ErrKind.DISK_FULL: _simple(
        "no space left on the file system of {root}",
        f"free about {NEEDED_DISK_MIB} MiB there, or use another state dir",
        state_dir="DIR",
    ),
    ErrKind.PROXY_AUTH: _simple(
        "the proxy refused authentication", "check the user and password in HTTPS_PROXY, then retry"
    ),
    ErrKind.STDERR_TIMEOUT: _simple("the package index timed out", "retry later, or pass a closer --index-url"),
    ErrKind.SUBPROCESS_TIMEOUT: _timeout,
    ErrKind.VENV_ENSUREPIP_FAIL: _no_ensurepip,
    ErrKind.VENV_PATH_TOO_LONG: _simple(
        "the state dir path {root} is too long for a venv", "use a shorter state dir", state_dir="DIR"
    ),
    ErrKind.VENV_NO_MODULE: _venv_tool(
        "{python} has no venv module", "install it (Debian/Ubuntu: python3-venv), or use another interpreter", "{other}"
    ),
    ErrKind.VENV_ALREADY_EXISTS: _venv_tool(
        "a stale build dir was in the way of {python} -m venv", "remove the leftovers, then retry", "{clean} && {retry}"
    ),
    ErrKind.VENV_SETUP_FAILED: _venv_tool("{python} -m venv failed", "see what this interpreter lacks", "{doctor}"),
    ErrKind.SIGNAL_KILLED: _memory(_killed),
    ErrKind.OUT_OF_MEMORY: _memory(lambda result: "a build step ran out of memory"),
    ErrKind.REQUIRES_PYTHON: _requires_python,
    ErrKind.INTERRUPTED: _interrupted,
}


# An exception's errno often names a cause the table knows: explain it that way.
ERRNO_KINDS: dict[int, ErrKind] = {
    errno.EACCES: ErrKind.PERM_DENIED,
    errno.EPERM: ErrKind.PERM_DENIED,
    errno.EROFS: ErrKind.PERM_DENIED,
    errno.ENOSPC: ErrKind.DISK_FULL,
    errno.EDQUOT: ErrKind.DISK_FULL,
    errno.ENAMETOOLONG: ErrKind.VENV_PATH_TOO_LONG,
    errno.ENOMEM: ErrKind.OUT_OF_MEMORY,
}


def _not_a_python(result: Result, spec: Spec) -> bool:
    """``--python /bin/true``: "venv" succeeds, and the env has no interpreter to run."""
    failure = result.failure
    return (
        failure is not None
        and failure.text.startswith("exc:FileNotFoundError")
        and result.phase in (Phase.PIP, Phase.PIP_TARGET)
        and os.sep + "bin" + os.sep + "python" in failure.tail
    )


def _unexpected(result: Result, spec: Spec, events_file: str) -> str:
    failure = result.failure
    assert failure is not None
    if _not_a_python(result, spec):
        return (
            f"{spec.python} made no venv interpreter, installing {packages(spec)}: it is probably not a Python"
            f" interpreter; pass a python3 executable: {_run(retry(spec, python='/usr/bin/python3'))}"
        )
    known = ERRNO_KINDS.get(failure.errno) if failure.errno is not None else None
    if known is not None:
        return f"{failure.tail}: {EXPLAIN[known](result, spec, failure.tail)}"
    return (
        f"unexpected error ({failure.text[4:]}: {failure.tail}), {_where(spec)}: the traceback is in"
        f" {events_file}; retry, or report it with that traceback: {_run(retry(spec))}"
    )


def _other(result: Result, spec: Spec, events_file: str) -> str:
    failure = result.failure
    assert failure is not None
    step = f"the {result.phase.label} step" if result.phase else "a build step"
    return (
        f"{step} failed ({failure.tail or 'no output'}), {_where(spec)}: its output is in {events_file};"
        f" diagnose this machine: {_run(retry(spec, command='doctor'))}"
    )


def filled(result: Result, spec: Spec, events_file: str) -> Result:
    """``result`` with its failure message written, unless it has one; explaining never raises."""
    if result.failure is None or result.message:
        return result
    import dataclasses

    try:
        text = explain(result, spec, events_file)
    except Exception:  # explaining must never turn a failure into a crash
        text = f"{result.failure.text}: see the event log {events_file}"
    return dataclasses.replace(result, message=text)


def explain(result: Result, spec: Spec, events_file: str) -> str:
    """The failure message for ``result`` (which must carry a failure)."""
    failure: Failure | None = result.failure
    assert failure is not None
    if failure.text.startswith("exc:"):
        return _unexpected(result, spec, events_file)
    handler = EXPLAIN.get(failure.kind)
    if handler is None:
        return _other(result, spec, events_file)
    return handler(result, spec, result.stderr_tail or failure.tail)


# --- the lines for outcomes that are not failures -----------------------------------------------


def in_host(spec: Spec) -> str:
    return f"{spec.import_name} is already importable in this Python"


def healthy(strategy: str, env: str) -> str:
    return f"{strategy} at {env} is healthy"


def built(spec: Spec, where: str, env: str) -> str:
    """``where``: the strategy's own name for what it builds (``BuildStrategy.where``)."""
    return f"{spec.import_name} is importable from the new {where} {env}"


def too_old(version: str, need: str, import_name: str, found: str | None, run_line: str) -> str:
    """The host cannot import the package; say which interpreter can, and the line that uses it."""
    head = f"this Python is {version}; {import_name} needs {need} or newer"
    if found is None:
        return (
            f"{head}, and no Python {need}+ was found on this machine (`sdkboot pythons` shows where"
            " sdkboot looked): install one, or run the host with a newer Python"
        )
    return f"{head}; Python {found} was found: start the consumer with `{run_line}`"


def foreign_python(python: str, version: str, host: str) -> str:
    """An explicit --python of another X.Y, for an in-process consumer that could never import its env."""
    return (
        f"--python {python} is Python {version}, but this Python is {host} and cannot import an env built"
        " with it: add --for-run and start the consumer with `sdkboot run`, or pass a Python of this version"
    )


def cooling(spec: Spec, left: float) -> str:
    return (
        f"a recent build of {packages(spec)} ran out of memory or was killed by a signal; not retrying for"
        f" {left:.0f}s more:"
        f" retry now with {_run(retry(spec, cooldown='0'))}"
    )


def busy(pid: int | None) -> str:
    return f"another process (pid {pid}) is building now"


def low_memory(spec: Spec, limit_mib: int, floors_mib: Sequence[tuple[str, int]]) -> str:
    """SKIP_LOW_MEMORY: the limit seen, and the (strategy, measured floor) pairs that did not fit it."""
    floors = ", ".join(f"{name} needs {mib} MiB" for name, mib in floors_mib)
    return (
        f"not building {packages(spec)} with {interpreter(spec)} under a {limit_mib} MiB memory limit:"
        f" no strategy fits ({floors});"
        f" raise the limit, then retry now: {_run(retry(spec, cooldown='0'))}"
    )


def all_kinds() -> list[ErrKind]:
    """Every err kind a message exists for: all of them but NONE and the catch-all."""
    return [kind for kind in ErrKind if kind not in (ErrKind.NONE, ErrKind.UNCATEGORIZED)]


def nothing_can_build(need: str, best: str | None, best_xy: str | None) -> str:
    """No interpreter qualifies: say what to install, naming the best one found."""
    if best is None:
        return f"no Python {need}+ was found on this machine: install one that has venv and pip"
    venv = f"python{best_xy}-venv" if best_xy else "python3-venv"
    return (
        f"no Python {need}+ here can build the env: {best} has neither ensurepip nor pip; install them"
        f" (Debian/Ubuntu: apt install {venv} python3-pip), or a Python {need}+ that has them"
    )
