"""A streaming wheel installer, written on the binary distribution format spec.

Run by the build interpreter inside its fresh env (``python -I``): each wheel's members are
inflated by zlib straight from the archive to their scheme dir in 1 MiB chunks, their CRC-32
and size checked (a member without a sha256 in the wheel's RECORD is hashed on the way);
``--jobs N`` processes take the wheels from one queue, largest first. ``.data`` dirs map to
the scheme, ``#!python`` scripts get the env's interpreter, console and GUI entry points get
wrapper scripts, every ``.py`` is byte-compiled (as pip does), and each dist-info gets
INSTALLER, REQUESTED and a RECORD of what was really written. Nothing is atomic here: it
installs into a staging dir only.
"""

from __future__ import annotations

import base64
import configparser
import csv
import hashlib
import importlib.util
import io
import json
import os
import signal
import stat
import struct
import sys
import sysconfig
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

INSTALLER_NAME = "sdkboot"
CHUNK = 1 << 20
# Files this large are written around the page cache (see _evict); smaller ones stay cached
# for the import that verifies the build.
_EVICT_EVERY = 8 * CHUNK
# ...from their first 8 MiB on, every 2 MiB: what is written between two calls stays charged
# until the next one, and the faster inflate made 8 MiB steps the install's memory peak.
_EVICT_STEP = 2 * CHUNK
# Longer shebangs are cut by some kernels, and spaces split them: use the /bin/sh trampoline.
_MAX_SHEBANG = 127
_SCHEME_KEYS = ("purelib", "platlib", "scripts", "data", "headers")
# A zip local file header (APPNOTE 4.3.7): signature, versions, flags, method, time, date,
# CRC-32, sizes, then the lengths of the name and the extra field that follow it.
_LOCAL = struct.Struct("<4s5H3L2H")
_LOCAL_MAGIC = b"PK\x03\x04"
# Compressed bytes per read: inflating 256 KiB at a time was the fastest measured.
_RAW_READ = 256 << 10
_ENCRYPTED, _UTF8 = 0x1, 0x800


class WheelError(Exception):
    """A wheel this installer refuses: malformed, unsafe path, or a hash that does not match."""


@dataclass(frozen=True)
class Scheme:
    """Where each kind of file goes, and the interpreter that scripts run with."""

    paths: dict[str, str]
    python: str

    @classmethod
    def of_this_env(cls, dist: str = "") -> Scheme:
        found = sysconfig.get_paths()
        xy = "%d.%d" % sys.version_info[:2]
        headers = os.path.join(sys.prefix, "include", "site", f"python{xy}", dist)
        paths = {
            "purelib": found["purelib"],
            "platlib": found["platlib"],
            "scripts": found["scripts"],
            "data": found["data"],
            "headers": headers,
        }
        return cls(paths, sys.executable)


@dataclass
class Installed:
    """One installed distribution: its name, version and the RECORD rows written."""

    name: str
    version: str
    dist_info: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _safe_member(name: str) -> str:
    """The member's path inside the wheel; WheelError if it would escape its dir."""
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or any(p in ("..", "") for p in parts[:-1]) or ":" in parts[0]:
        raise WheelError(f"unsafe path in wheel: {name!r}")
    return name


def _dist_info(names: Iterable[str]) -> str:
    found = {n.split("/", 1)[0] for n in names if n.count("/") == 1 and n.endswith(".dist-info/WHEEL")}
    if len(found) != 1:
        raise WheelError(f"expected one .dist-info dir with a WHEEL file, found {sorted(found) or 'none'}")
    return found.pop()


def _headers(text: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip().lower(): value.strip() for key, value in pairs}


def _expected_hashes(zf: zipfile.ZipFile, dist_info: str) -> dict[str, str]:
    text = zf.read(f"{dist_info}/RECORD").decode("utf-8")
    return {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) >= 2 and row[1]}


def _evict(handle: io.BufferedWriter, final: bool) -> None:
    """Keep a huge file's pages out of the page cache, which counts against a memory cgroup.

    A cgroup is charged for the dirty pages it writes, and reclaiming them waits on the disk:
    a 400 MB binary left dirty is what kills the verification import that comes next. Asking
    the kernel to drop what was written starts its writeback early and frees the clean part;
    at the end the file is synced once, so nothing of it stays charged.
    """
    if not hasattr(os, "posix_fadvise"):
        return
    handle.flush()
    if final:
        os.fdatasync(handle.fileno())
    os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


class _Writer:
    """Writes one wheel's files and remembers what it wrote, relative to the dist-info's parent."""

    def __init__(self, scheme: Scheme, root: str, record: Installed) -> None:
        self.scheme, self.root, self.record = scheme, root, record

    def relative(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def write(self, path: str, chunks: Iterable[bytes], executable: bool, known: str | None = None) -> None:
        """Stream ``chunks`` to ``path`` and record it.

        ``known`` is the wheel's RECORD hash of these bytes: the zip's CRC-32, checked at the
        end of each member, already proves they arrived intact, so hashing
        400 MB again would only cost time. Without one, the hash is computed on the way.
        """
        os.makedirs(os.path.dirname(path), exist_ok=True)
        digest = None if known else hashlib.sha256()
        with open(path, "wb") as handle:
            size = _write_all(handle, chunks, digest)
            if size >= _EVICT_EVERY:
                _evict(handle, final=True)
        if executable:
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        encoded = known or "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()  # type: ignore[union-attr]
        self.record.rows.append((self.relative(path), encoded, str(size)))

    def write_bytes(self, path: str, data: bytes, executable: bool = False) -> None:
        self.write(path, [data], executable)


def _write_all(handle: io.BufferedWriter, chunks: Iterable[bytes], digest: Any | None) -> int:
    size = 0
    for chunk in chunks:
        if digest is not None:
            digest.update(chunk)
        size = _put(handle, chunk, size)
    return size


def _put(handle: io.BufferedWriter, chunk: bytes, size: int) -> int:
    handle.write(chunk)
    size += len(chunk)
    if size >= _EVICT_EVERY and size % _EVICT_STEP < len(chunk):
        _evict(handle, final=False)
    return size


def _chunks(stream: io.BufferedIOBase) -> Iterable[bytes]:
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _data_offset(archive: BinaryIO, info: zipfile.ZipInfo) -> int:
    """Where the member's data starts, after a local header that must name the same member."""
    archive.seek(info.header_offset)
    header = archive.read(_LOCAL.size)
    if len(header) != _LOCAL.size or header[:4] != _LOCAL_MAGIC:
        raise zipfile.BadZipFile(f"bad local file header for {info.filename!r}")
    fields = _LOCAL.unpack(header)
    flags, name_len, extra_len = int(fields[2]), int(fields[-2]), int(fields[-1])
    if flags & _ENCRYPTED:
        raise WheelError(f"encrypted member in wheel: {info.filename!r}")
    name = archive.read(name_len).decode("utf-8" if flags & _UTF8 else "cp437", errors="replace")
    if name != info.orig_filename:
        raise zipfile.BadZipFile(f"local header names {name!r}, the directory {info.orig_filename!r}")
    return info.header_offset + _LOCAL.size + name_len + extra_len


def _inflate(inflater: zlib._Decompress, data: bytes, info: zipfile.ZipInfo) -> bytes:
    try:
        return inflater.decompress(data, CHUNK)
    except zlib.error as exc:
        raise zipfile.BadZipFile(f"{info.filename!r}: {exc}") from None


def _raw_chunks(archive: BinaryIO, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A stored or deflated member's bytes, inflated straight from the archive by zlib.

    zipfile's reader added ~0.2 s of CPU (8-20%) to the closure's 400 MB binary, the longest
    piece of the build. The checks are its own: the local header, the size and the CRC-32, which
    fails the member (BadZipFile) on its last chunk, before its RECORD row is written.
    """
    archive.seek(_data_offset(archive, info))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else None
    left, crc, size = info.compress_size, 0, 0
    while left:
        data = archive.read(min(_RAW_READ, left))
        if not data:
            raise zipfile.BadZipFile(f"truncated member: {info.filename!r}")
        left -= len(data)
        while data:
            out, data = (_inflate(inflater, data, info), inflater.unconsumed_tail) if inflater else (data, b"")
            crc, size = zlib.crc32(out, crc), size + len(out)
            if size > info.file_size:
                raise zipfile.BadZipFile(f"member larger than its directory entry says: {info.filename!r}")
            yield out
    if inflater is not None:  # what zlib still holds when the last input filled an output chunk
        out = inflater.flush()
        crc, size = zlib.crc32(out, crc), size + len(out)
        yield out
    if inflater is not None and not inflater.eof:
        raise zipfile.BadZipFile(f"truncated deflate stream: {info.filename!r}")
    if crc != info.CRC or size != info.file_size:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")


def shebang(python: str) -> bytes:
    """``#!python`` made concrete: direct when the kernel can take it, else via /bin/sh."""
    if len(python) + 3 <= _MAX_SHEBANG and " " not in python:
        return f"#!{python}\n".encode()
    # sh runs the first line; Python sees a harmless string literal.
    return f"#!/bin/sh\n'''exec' \"{python}\" \"$0\" \"$@\"\n' '''\n".encode()


def _script(python: str, data: bytes) -> bytes:
    """A ``.data/scripts`` file: a ``#!python`` or ``#!pythonw`` first line points at the env."""
    first, _sep, rest = data.partition(b"\n")
    if first.rstrip(b"\r") in (b"#!python", b"#!pythonw") or first.startswith((b"#!python ", b"#!pythonw ")):
        return shebang(python) + rest
    return data


def _target(scheme: Scheme, root_key: str, member: str, data_dir: str) -> tuple[str, bool]:
    """(destination path, is a script) for one member."""
    head, _, rest = member.partition("/")
    if head != data_dir:
        return os.path.join(scheme.paths[root_key], *member.split("/")), False
    key, _, inner = rest.partition("/")
    if key not in _SCHEME_KEYS or not inner:
        raise WheelError(f"unknown .data dir entry: {member!r}")
    return os.path.join(scheme.paths[key], *inner.split("/")), key == "scripts"


def _install_member(
    zf: zipfile.ZipFile,
    archive: BinaryIO,
    info: zipfile.ZipInfo,
    target: tuple[str, bool],
    writer: _Writer,
    expected: str | None,
) -> None:
    path, is_script = target
    executable = bool((info.external_attr >> 16) & 0o111) or is_script
    if is_script:  # a rewritten shebang changes the bytes, and so the hash, on purpose
        writer.write(path, [_script(writer.scheme.python, zf.read(info))], executable)
    elif info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        writer.write(path, _raw_chunks(archive, info), executable, _sha256_only(expected))
    else:  # bzip2, lzma: rare in wheels, and zipfile knows them
        with zf.open(info) as stream:
            writer.write(path, _chunks(stream), executable, _sha256_only(expected))  # type: ignore[arg-type]


def _sha256_only(recorded: str | None) -> str | None:
    """A RECORD hash this installer can reuse: sha256 (the only one pip and the spec expect)."""
    return recorded if recorded and recorded.startswith("sha256=") else None


def _wrapper(python: str, target: str) -> bytes:
    module, _, attr = target.partition(":")
    head = attr.split(".", 1)[0] if attr else ""
    call = f"_entry{attr[len(head) :]}()" if attr else "_entry.main()"
    imported = f"from {module} import {head} as _entry" if attr else f"import {module} as _entry"
    body = f'import sys\n{imported}\n\nif __name__ == "__main__":\n    sys.exit({call})\n'
    return shebang(python) + f"# an entry point, written by {INSTALLER_NAME}\n".encode() + body.encode()


def _entry_points(zf: zipfile.ZipFile, dist_info: str) -> list[tuple[str, str]]:
    try:
        text = zf.read(f"{dist_info}/entry_points.txt").decode("utf-8")
    except KeyError:
        return []
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    parser.read_string(text)
    found = []
    for section in ("console_scripts", "gui_scripts"):
        if parser.has_section(section):
            found += [(name, value.split("[", 1)[0].strip()) for name, value in parser.items(section)]
    return found


def _compile(writer: _Writer, py_files: Sequence[str]) -> None:
    """Byte-compile what was installed, as pip does; a file that does not compile is left as source."""
    import py_compile

    for path in py_files:
        cfile = importlib.util.cache_from_source(path)
        try:
            py_compile.compile(path, cfile=cfile, dfile=path, doraise=True)
        except (py_compile.PyCompileError, SyntaxError, ValueError):
            continue
        with open(cfile, "rb") as handle:
            data = handle.read()
        writer.record.rows.append((writer.relative(cfile), _digest(data), str(len(data))))


def install_wheel(path: str, scheme: Scheme, requested: bool = False, compile_py: bool = True) -> Installed:
    """Install one wheel into ``scheme``; WheelError for a wheel that breaks the spec."""
    with zipfile.ZipFile(path) as zf, open(path, "rb") as archive:
        infos = zf.infolist()
        dist_info = _dist_info(info.filename for info in infos)
        name_version = dist_info[: -len(".dist-info")]
        wheel = _headers(zf.read(f"{dist_info}/WHEEL").decode("utf-8"))
        root_key = "purelib" if wheel.get("root-is-purelib", "true").lower() == "true" else "platlib"
        name, _, version = name_version.partition("-")
        dist_scheme = Scheme({**scheme.paths, "headers": os.path.join(scheme.paths["headers"], name)}, scheme.python)
        root = dist_scheme.paths[root_key]
        record = Installed(name, version, os.path.join(root, dist_info))
        writer = _Writer(dist_scheme, root, record)
        expected = _expected_hashes(zf, dist_info)
        py_files = []
        for info in infos:
            member = _safe_member(info.filename)
            if info.is_dir() or member == f"{dist_info}/RECORD" or member.endswith("/RECORD.jws"):
                continue
            target = _target(dist_scheme, root_key, member, f"{name_version}.data")
            _install_member(zf, archive, info, target, writer, expected.get(member))
            if target[0].endswith(".py") and not target[1]:
                py_files.append(target[0])
        for script, entry in _entry_points(zf, dist_info):
            writer.write_bytes(os.path.join(dist_scheme.paths["scripts"], script), _wrapper(scheme.python, entry), True)
    if compile_py:
        _compile(writer, py_files)
    _finish_dist_info(writer, record, requested)
    return record


def _finish_dist_info(writer: _Writer, record: Installed, requested: bool) -> None:
    writer.write_bytes(os.path.join(record.dist_info, "INSTALLER"), f"{INSTALLER_NAME}\n".encode())
    if requested:
        writer.write_bytes(os.path.join(record.dist_info, "REQUESTED"), b"")
    rows = [*sorted(record.rows), (writer.relative(os.path.join(record.dist_info, "RECORD")), "", "")]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    with open(os.path.join(record.dist_info, "RECORD"), "w", encoding="utf-8", newline="") as handle:
        handle.write(buffer.getvalue())


def _canonical(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def install_all(wheels: Sequence[str], requested: Sequence[str], scheme: Scheme | None = None) -> list[Installed]:
    """Install every wheel in this process; ``requested`` names (any spelling) get a REQUESTED file."""
    return [_install_one(wheel, requested, scheme or Scheme.of_this_env()) for wheel in wheels]


def _install_one(wheel: str, requested: Sequence[str], scheme: Scheme) -> Installed:
    dist = os.path.basename(wheel).split("-", 1)[0]
    return install_wheel(wheel, scheme, requested=_canonical(dist) in {_canonical(name) for name in requested})


def _summary(wheel: str, done: Installed) -> dict[str, object]:
    return {
        "name": done.name,
        "version": done.version,
        "dist_info": done.dist_info,
        "files": len(done.rows) + 1,
        "wheel": wheel,
    }


# A claim is one wheel's index, in records small enough that every POSIX pipe holds them all.
_CLAIM = struct.Struct("<H")
_MAX_CLAIMS = 4096


def _claims(count: int) -> int:
    """The read end of a pipe holding every index once, largest work first; EOF when all are taken."""
    read, write = os.pipe()
    try:
        os.write(write, b"".join(_CLAIM.pack(i) for i in range(count)))
    finally:
        os.close(write)
    return read


def _drain(claims: int, wheels: Sequence[str], requested: Sequence[str]) -> list[dict[str, object]]:
    """Install wheels as they are claimed, until none are left: a process that is done early takes more."""
    scheme = Scheme.of_this_env()
    done: list[dict[str, object]] = []
    while True:
        record = os.read(claims, _CLAIM.size)
        if len(record) != _CLAIM.size:
            return done
        wheel = wheels[_CLAIM.unpack(record)[0]]
        done.append(_summary(wheel, _install_one(wheel, requested, scheme)))


def _fork_worker(claims: int, wheels: Sequence[str], requested: Sequence[str]) -> tuple[int, int]:
    """(pid, read end of a pipe) of a forked worker that drains the claims and writes its summary."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns into the caller's code
        code = 1
        try:
            os.close(read)
            data = json.dumps(_drain(claims, wheels, requested)).encode()
            while data:
                data = data[os.write(write, data) :]
            code = 0
        except BaseException as exc:  # a worker reports everything and exits
            print(f"sdkboot-install: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _collect(pid: int, read: int) -> list[dict[str, object]] | None:
    """A worker's summary, or None when it failed or was killed (its wheels are redone)."""
    chunks = []
    while True:
        chunk = os.read(read, CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    return json.loads(b"".join(chunks).decode())  # type: ignore[no-any-return]


def install_parallel(wheels: Sequence[str], requested: Sequence[str], jobs: int) -> list[dict[str, object]]:
    """Install with ``jobs`` processes (fork, POSIX), in the order given; a worker that dies has its wheels redone here.

    The processes take wheels from one queue, largest first: the huge wheel starts at once,
    and whoever finishes early takes the rest, so no process waits while another still has
    a list of its own. Redoing in this one process needs less memory than two at once, so a
    worker killed by a memory limit costs time, not the build.
    """
    order = sorted(wheels, key=os.path.getsize, reverse=True)
    workers = max(1, jobs) - 1 if hasattr(os, "fork") and len(order) <= _MAX_CLAIMS else 0
    summary = _in_parallel(order, requested, min(workers, len(order) - 1)) if workers else []
    installed = {str(item["wheel"]) for item in summary}
    missing = [wheel for wheel in order if wheel not in installed]
    summary += [_summary(w, d) for w, d in zip(missing, install_all(missing, requested))]
    position = {wheel: i for i, wheel in enumerate(wheels)}
    return sorted(summary, key=lambda item: position[str(item["wheel"])])


def _in_parallel(order: Sequence[str], requested: Sequence[str], workers: int) -> list[dict[str, object]]:
    """What this process and ``workers`` forked ones installed from one queue; the dead report nothing."""
    claims, forked = _claims(len(order)), []
    try:
        forked = [_fork_worker(claims, order, requested) for _ in range(workers)]
        summary = _drain(claims, order, requested)
    except BaseException:
        for pid, read in forked:  # a failed install: the workers' work is moot
            os.kill(pid, signal.SIGKILL)
            _collect(pid, read)
        raise
    finally:
        os.close(claims)
    for pid, read in forked:
        summary += _collect(pid, read) or []
    return summary


def main(argv: Sequence[str]) -> int:
    """``[--jobs N] [--requested NAME]... -- WHEEL...``: install, then print one JSON line of what was installed."""
    args = list(argv)
    split_at = args.index("--") if "--" in args else len(args)
    options, wheels = args[:split_at], args[split_at + 1 :]
    jobs = int(options[options.index("--jobs") + 1]) if "--jobs" in options else 1
    requested = [options[i + 1] for i, a in enumerate(options) if a == "--requested"]
    try:
        summary = install_parallel(wheels, requested, jobs)
    except (WheelError, zipfile.BadZipFile, KeyError, UnicodeDecodeError, OSError) as exc:
        print(f"sdkboot-install: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"installed": summary}))
    return 0
