"""The step supervisor: the one direct child of sdkboot, so that no build process outlives it.

sdkboot never starts a build step itself. It starts this small program, which starts the step
and stays with it. The runner passes this file's source with ``-c`` (never its path: sdkboot may
live inside a zip) and runs it with ``-I -S`` so that it costs little under the user's limit::

    python -I -S -c SOURCE LIFELINE REPORT MODE -- ARGV...

- LIFELINE is the read end of a pipe whose only writer is sdkboot. EOF on it means sdkboot died
  (even by SIGKILL, even together with its whole process group) or gave up on the step.
- REPORT is where it writes ``P<pid>`` once the step runs, or ``E<errno>`` if it could not start.
- MODE ``own``: the step leads a new process group; when the step ends or sdkboot goes away,
  that whole group is killed. On Linux the supervisor is also a child subreaper (when ctypes
  loads), so descendants that left the group for a session of their own come back to it and
  are killed too. MODE ``shared`` (a host that keeps steps in its own process group, elsewhere
  than Linux): the step stays in the caller's group, where the host's group kill reaches it;
  only the step itself is killed here.

It then exits exactly as the step did: the same exit code, or the same signal (core dumps off
first), so a step killed by SIGKILL or SIGSEGV still reads as -9 or -11 to the classifier.
SIGTERM, SIGINT and SIGHUP sent to the supervisor kill the step rather than orphan it.

It imports only os, select, signal and sys (ctypes and resource lazily, where they help): under
RLIMIT_AS every loaded extension module costs address space. No typing import, for the same reason.
"""

import os
import select
import signal
import sys

# Default action writes a core file: turned off before the supervisor re-raises one of these.
CORE_SIGNALS = (
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGILL",
    "SIGQUIT",
    "SIGSEGV",
    "SIGSYS",
    "SIGTRAP",
    "SIGXCPU",
    "SIGXFSZ",
)
STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")
# Python ignores these; an ignored signal stays ignored across exec, so the step gets them back.
RESTORED_SIGNALS = ("SIGPIPE", "SIGXFSZ")
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
# Bounds the descendant sweep: a fork loop must not keep the supervisor busy forever.
MAX_SWEEPS = 500
OOM_SCORE_ADJ = "/proc/self/oom_score_adj"


def _signals(names: "tuple[str, ...]") -> "list[int]":
    return [int(getattr(signal, name)) for name in names if hasattr(signal, name)]


def _prctl(option: int, value: int) -> bool:
    """prctl(2) through ctypes; False when ctypes cannot load (e.g. the address space is full)."""
    try:
        import ctypes

        return int(ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)) == 0
    except Exception:  # any failure only means "not available here"
        return False


def _kill(pid: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass  # already gone


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _children() -> "list[int]":
    """PIDs whose parent is this process, from /proc (Linux); empty where /proc cannot tell."""
    me = os.getpid()
    listed = _read_bytes("/proc/self/task/%d/children" % me).split()
    if listed:
        return [int(pid) for pid in listed]
    found: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        fields = _read_bytes(f"/proc/{name}/stat").rsplit(b")", 1)[-1].split() if name.isdigit() else []
        if len(fields) > 1 and fields[1] == b"%d" % me:
            found.append(int(name))
    return found


def _sweep() -> None:
    """As a subreaper: kill and reap every leftover descendant until none remains."""
    for _ in range(MAX_SWEEPS):
        children = _children()
        for pid in children:
            _kill(pid, group=False)
        try:
            # Block only for a child just killed; one that /proc did not list is left to init.
            if os.waitpid(-1, 0 if children else os.WNOHANG)[0] == 0:
                return
        except OSError:  # ChildProcessError: nothing is left
            return


def _write_quietly(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as handle:
            handle.write(data)
    except OSError:
        pass  # not Linux, or not allowed: the default victim choice stays


def _spawn(argv: "list[str]", own_group: bool) -> int:
    """Start the step; under a cgroup limit it, not the supervisor, is the OOM killer's choice.

    The raised oom_score_adj is inherited by the step; the supervisor then lowers its own back
    (allowed down to the value it started with).
    """
    saved = _read_bytes(OOM_SCORE_ADJ).strip() or b"0"
    _write_quietly(OOM_SCORE_ADJ, b"1000")
    try:
        if own_group:
            return os.posix_spawnp(argv[0], argv, os.environ, setsigdef=_signals(RESTORED_SIGNALS), setpgroup=0)
        return os.posix_spawnp(argv[0], argv, os.environ, setsigdef=_signals(RESTORED_SIGNALS))
    finally:
        _write_quietly(OOM_SCORE_ADJ, saved)


def _wait(pid: int, own_group: bool, lifeline: int, wake: int) -> int:
    """The step's wait status. Kills it first if sdkboot goes away or a stop signal arrives."""
    chld = int(signal.SIGCHLD)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        ready = select.select([lifeline, wake], [], [])[0]
        stop = lifeline in ready  # EOF: sdkboot died or gave up on the step
        if wake in ready:
            stop = any(number != chld for number in os.read(wake, 512)) or stop
        if stop:
            _kill(pid, group=own_group)
            return os.waitpid(pid, 0)[1]


def _no_core() -> bool:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        return True
    except Exception:  # fall back to prctl
        return sys.platform.startswith("linux") and _prctl(PR_SET_DUMPABLE, 0)


def _mirror(status: int) -> None:
    """Exit as the step did: a signal is re-raised on ourselves with its default action."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number not in _signals(CORE_SIGNALS) or _no_core():
            try:
                signal.signal(number, signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # SIGKILL cannot be caught, so it has its default action already
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
            os.kill(os.getpid(), number)
        os._exit(128 + number)  # the shell's convention, if the signal did not end us
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _report(fd: int, data: bytes) -> None:
    try:
        os.write(fd, data)
        os.close(fd)
    except OSError:
        pass  # sdkboot is gone: the lifeline says so


def main(args: "list[str]") -> None:
    lifeline, report, own_group, argv = int(args[0]), int(args[1]), args[2] == "own", args[4:]
    for fd in (lifeline, report):
        os.set_inheritable(fd, False)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    for number in _signals(("SIGCHLD", *STOP_SIGNALS)):
        signal.signal(number, lambda *_: None)
    reaper = own_group and sys.platform.startswith("linux") and _prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        pid = _spawn(argv, own_group)
    except OSError as exc:
        _report(report, b"E%d\n" % (exc.errno or 0))
        os._exit(127)
    _report(report, b"P%d\n" % pid)
    status = _wait(pid, own_group, lifeline, wake_r)
    if own_group:
        _kill(pid, group=True)  # stragglers in the step's group must not outlive it
    if reaper:
        _sweep()
    _mirror(status)


if __name__ == "__main__":
    main(sys.argv[1:])
