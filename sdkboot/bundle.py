"""``sdkboot.pyz``: the one file a host tool carries, a zipapp of the runtime package only.

- ``python3 sdkboot.pyz SUBCOMMAND`` is ``sdkboot SUBCOMMAND`` (the same entry point).
- ``sys.path.insert(0, ".../sdkboot.pyz"); import sdkboot`` gives consumers ``activate()``.
- Deterministic: the same source gives the same bytes, whatever interpreter bundles it and
  wherever: entries sorted, timestamps and modes fixed, stored uncompressed (deflate output
  differs between zlib builds, zlib-ng included), and no bytecode (it is per Python version).
- Its ``__main__.py`` parses on every Python, 2.7 included, and checks the version before the
  package is imported: an old interpreter gets one line and exit 2, never a SyntaxError.
- Built from a bundle, it reproduces that bundle's bytes: the source is read from wherever
  the running package lives, a directory or an archive.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile

from .version import VERSION

NAME = "sdkboot.pyz"
SHEBANG = b"#!/usr/bin/env python3\n"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say
FILE_MODE = 0o100644
PACKAGE = "sdkboot"
# The runtime's sources and its data files (the measured floors the preflight reads).
SUFFIXES = (".py", ".json")
# Kept to the oldest syntax: `python2 sdkboot.pyz` must read this far to say what is wrong.
MAIN = b"""\
# The entry point of a sdkboot bundle. Every Python parses this file, so an interpreter
# too old for sdkboot says so in one line (exit 2) instead of failing on newer syntax.
import sys

if sys.version_info < (3, 9):
    sys.stderr.write("sdkboot: needs Python 3.9 or newer; %s is Python %s\\n"
                     % (sys.executable or "this interpreter", sys.version.split()[0]))
    sys.exit(2)

from sdkboot.entry import main  # noqa: E402

sys.exit(main())
"""
Files = list[tuple[str, bytes]]


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def running_archive() -> str | None:
    """The bundle this copy of sdkboot runs from, or None when it runs from a directory."""
    container = os.path.dirname(_package_dir())
    return container if os.path.isfile(container) else None


def _from_dir(directory: str) -> Files:
    found: Files = []
    for current, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in names:
            if name.endswith(SUFFIXES) and not name.startswith("."):
                path = os.path.join(current, name)
                rel = os.path.relpath(path, os.path.dirname(directory)).replace(os.sep, "/")
                with open(path, "rb") as handle:
                    found.append((rel, handle.read()))
    return found


def _from_archive(archive: str) -> Files:
    with zipfile.ZipFile(archive) as source:
        return [
            (name, source.read(name))
            for name in source.namelist()
            if name.startswith(PACKAGE + "/") and name.endswith(SUFFIXES)
        ]


def sources() -> Files:
    """The runtime package's files, as ``(archive name, bytes)``, sorted by name."""
    archive = running_archive()
    files = _from_archive(archive) if archive else _from_dir(_package_dir())
    return sorted(files)


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = FILE_MODE << 16
    info.create_system = 3  # Unix, on every platform: the mode bits mean the same everywhere
    return info


def archive_bytes(files: Files) -> bytes:
    """The bundle: the shebang line, then a zip of ``__main__.py`` and ``files`` in name order."""
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in [("__main__.py", MAIN), *sorted(files)]:
            archive.writestr(_entry(name), data)
    return buffer.getvalue()


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def write(path: str) -> tuple[str, int]:
    """Write the bundle to ``path`` (parent dirs made) and ``path.sha256``; its sha256 and size.

    Both are staged beside their target and renamed into place: a reader never sees half a file.
    """
    data = archive_bytes(sources())
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _replace(path, data, 0o755)
    _replace(path + ".sha256", f"{digest}  {os.path.basename(path)}\n".encode(), 0o644)
    return digest, len(data)


def _replace(path: str, data: bytes, mode: int) -> None:
    staged = f"{path}.tmp-{os.getpid()}"
    try:
        with open(staged, "wb") as handle:
            handle.write(data)
        os.chmod(staged, mode)
        os.replace(staged, path)
    except BaseException:
        try:
            os.unlink(staged)
        except OSError:
            pass
        raise


def version_text() -> str:
    """What ``--version`` says: the version and, from a bundle, the bundle's sha256."""
    archive = running_archive()
    if archive is None:
        return f"sdkboot {VERSION}"
    try:
        digest = sha256_of(archive)
    except OSError as exc:
        digest = f"unreadable ({exc.strerror})"
    return f"sdkboot {VERSION} (bundle {archive}, sha256 {digest})"
