"""The verification import without sdkboot resident: exec into a shell that runs it, then finish.

Under a memory cgroup the whole session counts, and the verifying import alone needs about
as much as the limit allows: a hook process that waits beside it (10 MiB and more) is what
kills it. So ``sdkboot hook`` ends its build by exec-ing into ``/bin/sh`` (a few hundred KiB),
which runs the verifier, then a fresh sdkboot that publishes or classifies and prints the
one metrics line. The build lock's descriptor is inherited through both execs, so nobody can
build meanwhile. The hook contract holds in every case: a verifier killed by the OOM killer
or by its own alarm (the time budget) is classified by the finisher like any step, and if
even the finisher fails, the shell prints a fixed failure line. The shell always exits 0.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from .codes import ErrKind, Outcome, Phase
from .layout import Layout

VERIFY_FILE = ".sdkboot-verify"  # <stage>/<this>.json|.out|.err while the verifier runs

# $1 verifier python  $2 its code  $3 alarm seconds  $4 out file  $5 err file
# $6 host python  $7 sdkboot root  $8 handoff file  $9 the fallback line
SCRIPT = (
    '"$1" -I -c "$2" "$3" >"$4" 2>"$5"; rc=$?\n'
    '"$6" -I -c \'import sys; sys.path.insert(0, sys.argv[1]); from sdkboot.handoff import finish;'
    ' sys.exit(finish(sys.argv[2], int(sys.argv[3])))\' "$7" "$8" "$rc" || printf \'%s\\n\' "$9"\n'
    "exit 0\n"
)
# Set before the import starts: SIGALRM's default action ends even a process stuck in reclaim.
ALARM = "import signal, sys; signal.alarm(int(sys.argv[1]))\n"
FALLBACK = {
    "metrics": {
        "sdk_bootstrap": int(Outcome.BUILD_FAILED),
        "sdk_bootstrap_phase": int(Phase.MAIN),
        "sdk_bootstrap_err": int(ErrKind.UNCATEGORIZED),
    }
}


class HandOff(Exception):
    """Raised by a strategy whose last step is the verification, when the caller allows a hand-off.

    It travels up through ensure() to the command, which calls ``exec_verifier``.
    """

    def __init__(self, argv: Sequence[str], code: str, stage: str, extra: Sequence[str]) -> None:
        super().__init__("verification handed off")
        self.python, self.code, self.stage, self.extra = argv[0], code, stage, list(extra)
        self.context: dict[str, Any] = {}
        self.lock_fd: int = -1


def supported() -> bool:
    return os.name == "posix" and os.path.exists("/bin/sh") and os.environ.get("SDKBOOT_NO_HANDOFF") != "1"


def _files(stage: str) -> dict[str, str]:
    base = os.path.join(stage, VERIFY_FILE)
    return {"json": base + ".json", "out": base + ".out", "err": base + ".err"}


def exec_verifier(handoff: HandOff, seconds: float) -> NoReturn:
    """Replace this process with the shell that verifies, then finishes. Never returns."""
    files = _files(handoff.stage)
    with open(files["json"], "w", encoding="utf-8") as handle:
        json.dump({**handoff.context, "stage": handoff.stage, "extra": handoff.extra}, handle)
    if handoff.lock_fd >= 0:
        os.set_inheritable(handoff.lock_fd, True)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [
        "sh",
        "-c",
        SCRIPT,
        "sdkboot-verify",
        handoff.python,
        ALARM + handoff.code,
        str(max(1, int(seconds))),
        files["out"],
        files["err"],
        sys.executable,
        root,
        files["json"],
        json.dumps(FALLBACK, sort_keys=True),
    ]
    os.execv("/bin/sh", argv)


def _completed(rc: int, files: dict[str, str], seconds: float) -> Any:
    from .runner import Completed

    def read(path: str) -> bytes:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return b""

    # The shell reports a child killed by signal N as 128+N; our own alarm is the time budget.
    killed = -(rc - 128) if 128 < rc < 128 + 65 else None
    timed_out = killed == -signal.SIGALRM
    code = killed if killed is not None and not timed_out else rc
    return Completed(code, read(files["out"]), read(files["err"]), seconds, timed_out=timed_out)


def _outcome(context: dict[str, Any], done: Any) -> Any:
    from . import cooldown
    from .build import _cool_down, _publish, failed
    from .classify import classify, user_places
    from .result import Result
    from .session import StepFailed, succeeded
    from .strategies.all_strategies import STRATEGIES
    from .strategies.base import parse_report

    layout, strategy, stage = Layout(context["root"]), STRATEGIES[context["strategy"]], context["stage"]
    try:
        if not succeeded(done):
            places = user_places(context["root"], (context.get("credit") or {}).get("python"))
            raise StepFailed(Phase.VERIFY, done, classify(Phase.VERIFY, done, places=places))
        built = parse_report(Phase.VERIFY, done, context["extra"])
    except StepFailed as error:
        import shutil  # here: ensure imports this module, and on 3.9 shutil loads threading

        shutil.rmtree(stage, ignore_errors=True)
        return _cool_down(
            layout, failed(error, strategy.code), time.time(), context["fingerprint"], cooldown.boot_time()
        )
    _publish(layout, context["fingerprint"], strategy.code, stage, built)
    return Result(strategy.built, strategy=strategy.code, env=stage, message=f"built {stage} (verified after hand-off)")


def finish(path: str, rc: int) -> int:
    """Publish or classify the verified build, log it, print the hook's metrics line. Exit 0."""
    from .commands.hook import reply
    from .ensure import log_event

    with open(path, encoding="utf-8") as handle:
        context = json.load(handle)
    files = _files(context["stage"])
    verify_seconds = max(0.0, time.time() - os.stat(path).st_mtime)
    done = _completed(rc, files, verify_seconds)
    for name in files.values():
        _unlink(name)
    durations: dict[str, float] = {**context["durations"], Phase.VERIFY.label: round(verify_seconds, 3)}
    result = dataclasses.replace(
        _outcome(context, done),
        duration=time.time() - context["started"],
        subprocesses=context["spawned"] + 1,
        durations=durations,
        skipped=tuple(context["skipped"]),
    )
    if isinstance(context.get("credit"), dict):  # which interpreter built (sdk_alt_py when not the host)
        from .ensure import credited

        result = credited(result, context["credit"])
    log_event(context["root"], result, time.time())
    reply(Layout(context["root"]), result)
    return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def context_of(
    root: str,
    strategy: str,
    fingerprint: dict[str, Any],
    started: float,
    spawned: int,
    durations: dict[str, float],
    skipped: list[str],
) -> dict[str, Any]:
    return {
        "root": root,
        "strategy": strategy,
        "fingerprint": fingerprint,
        "started": started,
        "spawned": spawned,
        "durations": durations,
        "skipped": skipped,
    }
