"""Hand-written install-states and helpers shared by the fast command tests.

A "built" env here is a few files plus an install-state published with the real
``sdkboot.state`` API: no venv, no pip, so the tests stay fast and run anywhere.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from sdkboot import inuse, safefs, seal, state
from sdkboot.layout import Layout
from sdkboot.spec import Spec
from tests.conftest import REPO

PYTHON_XY = "%d.%d" % sys.version_info[:2]
PYTHON_XYZ = "%d.%d.%d" % sys.version_info[:3]
# The package's default floor is 3.10; tests that must not stop at HOOK_PY_INCOMPATIBLE on an
# older host (the py39 run) lower it to this interpreter.
MIN_PYTHON = ("--min-python", PYTHON_XY)
# Tests whose fake interpreters play venv and pip pin the order that starts with them.
VENV_ORDER = ("--strategy", "venv", "--strategy", "target")


def private_dirs(path: Path, top: Path) -> Path:
    """Create ``path`` and make it and each parent up to ``top`` mode 0755 (umask-proof)."""
    if top != path and top not in path.parents:
        raise ValueError(f"{path} is not under {top}")
    path.mkdir(parents=True, exist_ok=True)
    current = path
    while True:
        current.chmod(0o755)
        if current == top:
            return path
        current = current.parent


def write_file(path: Path, text: str, top: Path, mode: int = 0o644) -> Path:
    private_dirs(path.parent, top)
    path.write_text(text)
    path.chmod(mode)
    return path


def spec_for(
    root: Path, import_name: str = "fake_mod", requirements: Sequence[str] = ("fake-dist",), **extra: object
) -> Spec:
    """The Spec the CLI builds for ``--state-dir root --import-name NAME REQ...``."""
    return Spec(requirements=tuple(requirements), import_name=import_name, state_dir=str(root), **extra)  # type: ignore[arg-type]


def fake_env(
    root: Path,
    strategy: str = "venv",
    files: Mapping[str, str] | None = None,
    spec: Spec | None = None,
    python_version: str = PYTHON_XYZ,
    name: str = "",
) -> state.InstallState:
    """Write an env of ``strategy`` under ``root/builds`` holding ``files`` and publish its state.

    The fingerprint is the one ``spec`` would compute (so ensure/status see it healthy), by
    default ``spec_for(root)``'s.
    """
    files = {"fake_mod/__init__.py": "VALUE = 1\n"} if files is None else files
    private_dirs(root, root)
    safefs.claim(str(root))  # as ensure() does before it builds
    env = root / "builds" / (name or f"{strategy}-test")
    if strategy == "target":
        site = env
        extra: list[Path] = [env]
    else:
        site = env / "lib" / f"python{PYTHON_XY}" / "site-packages"
        python = write_file(env / "bin" / "python", "#!/bin/sh\n", root, mode=0o755)
        extra = [python, env]
    private_dirs(site, root)
    written = [write_file(site / rel, text, root) for rel, text in files.items()]
    fp = state.fingerprint(spec if spec is not None else spec_for(root))
    paths = [str(p) for p in written[:1] + extra]
    return publish_built(root, strategy, env, site, python_version, paths, fp)


def publish_built(
    root: Path, strategy: str, env: Path, site: Path, python_version: str, paths: Sequence[str], fp: state.Fingerprint
) -> state.InstallState:
    """Publish a build the way ``sdkboot.build`` does: use-lock, seal, then the record."""
    safefs.claim(str(root))  # as ensure() does before it builds
    inuse.create(str(env))
    seal.write(str(env), str(site))
    stamp = seal.stamp(str(site)) or ()
    record = state.new_state(strategy, str(env), str(site), python_version, paths, fp, stamp)
    state.publish(Layout(str(root)), record)
    return record


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a ``python -m sdkboot`` child: this repo first on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.update(extra)
    return env


def sdkboot(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sdkboot ARGS`` as a user would, text mode, both streams captured."""
    return subprocess.run(
        [sys.executable, "-m", "sdkboot", *args],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else child_env(),
        timeout=timeout,
        stdin=stdin,
    )


_HOLD = (
    "import sys\n"
    "from sdkboot.lock import BuildLock\n"
    "lock = BuildLock(sys.argv[1])\n"
    "assert lock.acquire(), 'lock already held'\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextlib.contextmanager
def lock_held(lock_file: Path) -> Iterator[int]:
    """Another process holds the build lock for the duration; yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(lock_file)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # EOF: the holder exits and the kernel drops its lock
        try:
            holder.wait(10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
