"""Make a Debian root file system offline-friendly: debootstrap, prune, stream as a tar.

debootstrap uses the system's default mirror on purpose: on the build machines that is the
only Debian source reachable, and it keeps mirror URLs out of the recipes.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Callable

from repro import Unsupported, mounts

Progress = Callable[[str], None]
CHUNK = 1 << 20
TIMEOUT = 1800.0


@dataclass(frozen=True)
class Bootstrap:
    suite: str
    variant: str
    packages: tuple[str, ...]

    def argv(self, target: str) -> list[str]:
        include = f"--include={','.join(self.packages)}" if self.packages else ""
        words = ["debootstrap", f"--variant={self.variant}", include, self.suite, target]
        return [word for word in words if word]


class BootstrapFailed(RuntimeError):
    """debootstrap exited non-zero or ran too long; the message carries the log's tail."""


def check_tools() -> None:
    """``Unsupported`` naming the package to install when the build cannot run here."""
    if shutil.which("debootstrap") is None:
        raise Unsupported("debootstrap is missing: install it (apt-get install debootstrap)")
    if shutil.which("tar") is None:
        raise Unsupported("tar is missing: install it (apt-get install tar)")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise Unsupported("debootstrap needs root (device nodes, chroot): run as root")


def make_rootfs_dir() -> str:
    # /var/tmp rather than /tmp: often a tmpfs mounted nodev, where debootstrap cannot mknod.
    base = os.environ.get("SDKBOOT_ROOTFS_TMP") or "/var/tmp"
    return tempfile.mkdtemp(prefix="sdkboot-rootfs-", dir=base if os.path.isdir(base) else None)


def run(spec: Bootstrap, target: str, progress: Progress, timeout: float = TIMEOUT) -> None:
    """Run debootstrap, passing every output line to ``progress``."""
    tail: list[str] = []
    proc = subprocess.Popen(spec.argv(target), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # A timer, not a check per line: a stalled download prints nothing at all.
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stdout or ():
            tail = ([*tail, line.rstrip()])[-15:]
            progress(line.rstrip())
    finally:
        timer.cancel()
    if proc.wait() != 0:
        raise BootstrapFailed(f"debootstrap exited {proc.returncode}:\n" + "\n".join(tail))


def prune(target: str, patterns: Sequence[str]) -> int:
    """Delete files matching ``patterns`` (relative to ``target``); return the bytes freed."""
    freed = 0
    for pattern in patterns:
        for path in glob.glob(os.path.join(target, pattern)):
            freed += _remove(path)
    return freed


def _remove(path: str) -> int:
    if os.path.isdir(path) and not os.path.islink(path):
        size = sum(_size(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
        shutil.rmtree(path)
        return size
    size = _size(path)
    os.unlink(path)
    return size


def _size(path: str) -> int:
    return os.lstat(path).st_size


def tar_stream(target: str) -> Generator[bytes, None, None]:
    """The root file system as a tar byte stream, numeric owners kept (no name lookup)."""
    argv = ["tar", "--numeric-owner", "--xattrs", "-C", target, "-cf", "-", "."]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finished = False
    try:
        yield from _chunks(proc)
        finished = True
    finally:
        _finish_tar(proc, check=finished)


def _chunks(proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
    while proc.stdout is not None:
        chunk = proc.stdout.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _finish_tar(proc: subprocess.Popen[bytes], check: bool) -> None:
    # Closing our end first lets an abandoned tar die of SIGPIPE instead of blocking forever.
    if proc.stdout is not None:
        proc.stdout.close()
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0 and check:
        raise BootstrapFailed(f"tar exited {proc.returncode}: {stderr.strip()[-400:]}")


def mounts_below(target: str, mountinfo: str | None = None) -> list[str]:
    """Mount points at or under ``target``, deepest first, from /proc/self/mountinfo."""
    root = os.path.realpath(target)
    text = mountinfo if mountinfo is not None else mounts.read_mountinfo()
    points = [str(mount.point) for mount in mounts.parse_mountinfo(text)]
    inside = [p for p in points if p == root or p.startswith(root + os.sep)]
    return sorted(set(inside), key=len, reverse=True)


def remove_rootfs(target: str) -> None:
    """Unmount what an interrupted debootstrap left mounted (/proc, /sys), then delete.

    Deleting first would walk into the host's live /proc and /sys through those mounts.
    """
    for point in mounts_below(target):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if mounts_below(target):
        raise BootstrapFailed(f"{target} still has mounts; not deleting it")
    shutil.rmtree(target, ignore_errors=True)
