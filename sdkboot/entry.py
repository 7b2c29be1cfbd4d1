"""The process entry point: ``python -m sdkboot``, the ``sdkboot`` script and the bundle.

``sdkboot hook`` owes its host, at every memory limit under which the interpreter starts at all,
the async line first, then exactly one metrics line, and exit 0. Under the user's limit the full
CLI (argparse, the build machinery) may not fit, so the hook answers before loading any of it:

1. the async line, from ``--async-timeout`` read by hand (a bad value or ``--help`` goes to
   the full CLI instead, which explains it before anything reaches stdout);
2. SIGINT and SIGTERM become ``Interrupted`` (the hook still answers, then exits 0);
3. the full CLI runs the hook, which prints the metrics line through ``answer()``;
4. if the CLI could not load or run for lack of memory, the metrics line prepared in step 1
   says so: outcome SKIP_LOW_MEMORY, nothing spawned, the RLIMIT_AS soft limit when known.

A usage error found by the full CLI (after the async line) is one stderr line and exit 2.
This module imports nothing beyond what the interpreter has loaded at start-up, plus signal.
"""

import sys

USAGE_RC = 2
# The contract's codes (docs/telemetry.md), spelled out: loading sdkboot.codes may not fit here.
_SKIP_LOW_MEMORY, _BUILD_FAILED, _PHASE_PRE, _INTERRUPTED = 10, 3, 1, 19
_MIB = 1024 * 1024
_state = {"announced": False, "answered": False, "reader_gone": False}


def _write(line: str) -> None:
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _state["reader_gone"] = True
    except (OSError, ValueError, AttributeError):
        pass  # stdout is closed (or None): the CLI says so on stderr; the work still counts


def _reader_check() -> None:
    # Raised where the CLI can say so (one line, exit 141); the lean start itself stays quiet.
    if _state["reader_gone"]:
        raise BrokenPipeError("the reader of stdout went away")


def _once(key: str, line: str) -> None:
    if not _state[key]:
        _state[key] = True
        _write(line)


def _async_line(async_ms: int) -> str:
    return '{"async": true, "asyncTimeout": %d}' % async_ms


def announce(async_ms: int) -> None:
    """The first line of the hook protocol, once per process."""
    _once("announced", _async_line(async_ms))
    _reader_check()


def answer(line: str) -> None:
    """The metrics line, once per process (the host reads exactly one)."""
    _once("answered", line)
    _reader_check()


def async_ms(args: "list[str]") -> "int | None":
    """The ``--async-timeout`` value in ``args`` (default 180000); None when the full CLI must
    speak first: a help request, or a value it would reject."""
    value = "180000"
    for index, arg in enumerate(args):
        if arg == "--":
            break  # requirements follow
        if arg in ("-h", "--help"):
            return None
        if arg == "--async-timeout":
            value = args[index + 1] if index + 1 < len(args) else ""
        elif arg.startswith("--async-timeout="):
            value = arg.partition("=")[2]
    return _positive(value)


def _positive(text: str) -> "int | None":
    return int(text) if text.isdigit() and int(text) > 0 else None


def _address_space_mib() -> "int | None":
    """RLIMIT_AS (soft) from /proc, without loading the resource module; None if unknown."""
    try:
        with open("/proc/self/limits") as handle:
            for line in handle:
                if line.startswith("Max address space"):
                    soft = line.split()[3]
                    return int(soft) // _MIB if soft.isdigit() else None
    except OSError:
        pass
    return None


def low_memory_line() -> str:
    """The metrics line for a hook that could not load its own code under the limit in force."""
    metrics = '"sdk_bootstrap": %d, "sdk_hook_py": %d' % (_SKIP_LOW_MEMORY, _hook_py())
    limit = _address_space_mib()
    if limit is not None:
        metrics += ', "sdk_mem_limit_mib": %d' % limit
    return '{"metrics": {%s}}' % metrics


def interrupted_line(signum: int) -> str:
    """The metrics line for a hook stopped by a signal before ensure() ran: phase pre, err 19."""
    return (
        '{"metrics": {"sdk_bootstrap": %d, "sdk_bootstrap_phase": %d, "sdk_bootstrap_err": %d,'
        ' "sdk_bootstrap_rc": %d, "sdk_hook_py": %d}}' % (_BUILD_FAILED, _PHASE_PRE, _INTERRUPTED, -signum, _hook_py())
    )


def _hook_py() -> int:
    return sys.version_info[0] * 100 + sys.version_info[1]


def _cli(args: "list[str]") -> int:
    from .cli import main

    return main(args)


def hook(args: "list[str]") -> int:
    """``sdkboot hook ARGS``: announce, then run the full hook, then make sure it answered."""
    ms = async_ms(args[1:])
    if ms is None:
        return _cli(args)
    from . import interrupts

    fallback = low_memory_line()  # prepared while there is still memory to prepare it
    interrupts.install()
    _once("announced", _async_line(ms))
    try:
        rc = _cli(args)
    except MemoryError:
        rc = 0
    except interrupts.Interrupted as stop:  # before the hook itself could take over
        rc, fallback = 0, interrupted_line(stop.signum)
    interrupts.ignore()
    if rc == USAGE_RC or _state["reader_gone"]:
        return rc  # the CLI said why, on stderr (a reader that left: exit 141)
    _once("answered", fallback)  # a no-op when the hook has answered
    return 0


def main(argv: "list[str] | None" = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["hook"]:
        return hook(args)
    return _cli(args)
