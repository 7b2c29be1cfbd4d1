"""Build tiny, real wheels for offline tests (no network, no build backend)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Sequence
from pathlib import Path


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _metadata(dist: str, version: str, requires: Sequence[str], requires_python: str = "") -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {dist}", f"Version: {version}"]
    lines += [f"Requires-Python: {requires_python}"] if requires_python else []
    lines += [f"Requires-Dist: {req}" for req in requires]
    lines += [f"Requires-Python: {requires_python}"] if requires_python else []
    return "\n".join(lines) + "\n"


def make_wheel(
    directory: Path,
    dist: str,
    files: dict[str, str],
    version: str = "1.0",
    requires: Sequence[str] = (),
    requires_python: str = "",
    compression: int = zipfile.ZIP_STORED,
) -> Path:
    """Write ``dist-version-py3-none-any.whl`` holding ``files`` (archive path -> text)."""
    stem = f"{dist.replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = _metadata(dist, version, requires, requires_python)
    members[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: sdkboot-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = [_record_line(name, text.encode()) for name, text in members.items()]
    members[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path
