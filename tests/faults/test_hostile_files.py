"""Every file sdkboot keeps in a state dir, replaced by every hostile thing, for every entry point.

Hostile contents (empty, truncated, binary, huge, deep nesting, wrong JSON types, huge numbers)
and hostile kinds (a FIFO, a directory, a symlink to a device, to the user's file or out of the
state dir, a hard link to the user's file). Entry points: ensure on a healthy env (the no-op),
ensure that must rebuild, activate(), status and clean --dry-run. Each trial must finish before its
deadline, raise nothing, leave the victim file as it was and, unless the spoiled file is the
install-state itself, keep the healthy env usable.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

import sdkboot
from sdkboot.cli import main
from sdkboot.layout import BUILDS_DIR, OWN_NAMES, STATE_FILE
from tests.conftest import FaultLog
from tests.fake_envs import fake_env
from tests.faults.deadline import Hung, deadline
from tests.faults.fakes import FILES, IMPORT_NAME, FakeBuilds, fault_spec

pytestmark = [
    pytest.mark.usefixtures("restored_sys_path"),
    pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, symlinks, hard links"),
]
VICTIM_TEXT = "the user's own file\n"
CONTENTS: dict[str, bytes] = {
    "empty": b"",
    "truncated": b'{"strategy": "venv", "env": "/x", "si',
    "binary": b"\x00\xff\xfe\x80garbage\xc3\n",
    "huge": b'{"x": "' + b"a" * 5_000_000 + b'"}',
    "deep nesting": b"[" * 200_000,
    "wrong types": b'{"strategy": 7, "env": [], "site": {}, "paths": "abc", "fingerprint": [], "built_at": "x",'
    b' "python_version": 3, "time": "x", "rc": "x", "phase": [], "boot": 5, "0.1.0": "x"}',
    "huge numbers": b'{"time": 1e999, "built_at": 1' + b"0" * 5000 + b', "rc": -1' + b"0" * 400 + b"}",
}
KINDS = (
    "fifo",
    "directory",
    "link to /dev/zero",
    "link to the user's file",
    "link out of the state dir",
    "hard link to the user's file",
)


def plant(root: Path, name: str, what: str, victim: Path) -> None:
    """Replace ``root/name`` by ``what`` (a content name or a kind)."""
    path = root / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if what in CONTENTS:
        path.write_bytes(CONTENTS[what])
    elif what == "fifo":
        os.mkfifo(path)
    elif what == "directory":
        path.mkdir()
        (path / "inside").write_text("kept\n")
    elif what == "link to /dev/zero":
        path.symlink_to("/dev/zero")
    elif what == "link to the user's file":
        path.symlink_to(victim)
    elif what == "link out of the state dir":
        path.symlink_to(victim.parent, target_is_directory=True)
    else:
        os.link(victim, path)


ENTRY_POINTS = ("ensure (no-op)", "ensure (rebuild)", "activate", "status", "clean --dry-run")


def run(entry: str, root: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run one entry point; what it did wrong (raised, crashed, a traceback on stderr)."""
    spec = fault_spec(root)
    if entry == "ensure (no-op)":
        result = sdkboot.ensure(spec)
        return [] if result.failure is None or not str(result.err_kind).startswith("exc:") else [str(result.err_kind)]
    if entry == "ensure (rebuild)":
        result = sdkboot.ensure(fault_spec(root, "sdkboot-fault-dist>=1"))
        wrong = [] if result.failure is None or result.err_kind != "exc:MemoryError" else [result.err_kind]
        return wrong + ([] if "Traceback" not in result.message else ["a traceback in the message"])
    if entry == "activate":
        sdkboot.activate(spec)  # raising is the failure
        return []
    argv = ["status", "--json", "--state-dir", str(root), "--import-name", IMPORT_NAME, "sdkboot-fault-dist"]
    if entry == "clean --dry-run":
        argv = ["clean", "--dry-run", "--state-dir", str(root)]
    code = main(argv)
    err = capsys.readouterr().err
    return [f"exit {code}: {err.strip()[:200]}"] if code not in (0, 1, 2, 3) or "internal error" in err else []


@pytest.mark.parametrize("what", [*CONTENTS, *KINDS])
def test_hostile_files_in_the_state_dir(
    tmp_path: Path,
    what: str,
    capsys: pytest.CaptureFixture[str],
    fake_builds: FakeBuilds,
    fault_log: Callable[[str], FaultLog],
) -> None:
    log = fault_log("hostile files in the state dir")
    victim = tmp_path / "user" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text(VICTIM_TEXT)
    for name in sorted(OWN_NAMES - {".sdkboot-state"}):
        for entry in ENTRY_POINTS:
            root = tmp_path / f"{name.strip('.')}-{ENTRY_POINTS.index(entry)}"
            fake_env(root, spec=fault_spec(root), files=FILES)
            plant(root, name, what, victim)
            try:
                with deadline(20):
                    wrong = run(entry, root, capsys)
            except Hung:
                wrong = ["hung"]
            except Exception as exc:  # raising into the host is what is being counted
                wrong = [f"raised {type(exc).__name__}: {str(exc)[:120]}"]
            if victim.read_text() != VICTIM_TEXT:
                wrong.append("the user's file changed")
                victim.write_text(VICTIM_TEXT)
            if name not in (STATE_FILE, BUILDS_DIR) and entry != "ensure (rebuild)":
                act = sdkboot.activate(fault_spec(root))
                wrong += [] if act.ok else [f"the healthy env stopped activating: {act.reason}"]
            log.trial([f"{name} as {what}, {entry}: {w}" for w in wrong])
    log.check()
