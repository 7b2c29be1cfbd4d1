"""The damage check: notice a deleted or replaced distribution without a subprocess.

At publish, the seal records each installed distribution: its ``.dist-info`` dir and the
top-level entries its RECORD lists, each with its inode. It goes into a small file in the
build, and the install-state keeps a stamp of the site dir (inode, mtime, ctime).

The no-op path stats only the site dir. Deleting, adding or renaming any top-level entry
changes the dir's ctime (which nothing can set back), so an unchanged stamp means every
recorded entry is still the one that was installed. A changed stamp (someone ran pip in
the env, or deleted ``pydantic/``) makes the check stat each recorded entry and name the
first distribution that is gone or replaced. Damage inside a package dir (a deleted
submodule) is left to ``sdkboot status --deep``, which runs the sealed import probe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

SEAL_FILE = ".sdkboot-seal.json"
SEAL_CAP = 1024 * 1024  # a few thousand distributions; a bigger file is not one sdkboot wrote
Stamp = tuple[int, ...]
# distribution name -> [(top-level entry, inode), ...]
Entries = dict[str, list[tuple[str, int]]]


def stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns


def seal_file(env: str) -> str:
    return os.path.join(env, SEAL_FILE)


def _dist_name(info_dir: str) -> str:
    # "pydantic_core-2.50.5.dist-info" -> "pydantic_core" (wheel names escape "-" as "_").
    return info_dir.split("-", 1)[0]


def _top_levels(site: str, info_dir: str) -> Iterator[str]:
    """The dist-info dir and the first component of every RECORD path inside ``site``."""
    import csv  # build time only

    yield info_dir
    try:
        with open(os.path.join(site, info_dir, "RECORD"), newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return
    for row in rows:
        path = row[0].replace("\\", "/") if row else ""
        first = path.split("/", 1)[0]
        # Scripts land outside site (../../bin/...), and __pycache__ is shared by every module.
        if first and first not in ("..", ".", "__pycache__") and not path.startswith("/") and ":" not in first:
            yield first


def entries(site: str) -> Entries:
    """Every distribution installed in ``site``, each with its top-level entries and their inodes."""
    found: Entries = {}
    try:
        names = sorted(os.listdir(site))
    except OSError:
        return found
    for info_dir in (name for name in names if name.endswith((".dist-info", ".egg-info"))):
        listed: dict[str, int] = {}
        for entry in _top_levels(site, info_dir):
            try:
                listed[entry] = os.lstat(os.path.join(site, entry)).st_ino
            except OSError:
                continue  # listed but never written (an optional .pyc): nothing to watch
        found.setdefault(_dist_name(info_dir), []).extend(sorted(listed.items()))
    return found


def write(env: str, site: str) -> int:
    """Seal ``site`` into the build at ``env``; the number of distributions recorded.

    Written before the site stamp is taken: for ``--target`` builds the file sits in site itself.
    """
    from .safefs import write_json_atomic

    found = entries(site)
    write_json_atomic(seal_file(env), {"site": site, "distributions": found})
    return len(found)


def _read(env: str) -> tuple[Entries | None, str | None]:
    from .safefs import read_json

    data, reason = read_json(seal_file(env), SEAL_CAP)
    if data is None:
        return None, f"seal {reason}"
    dists = data.get("distributions")
    if not isinstance(dists, dict):
        return None, "seal corrupt: no distributions"
    try:
        return {str(name): [(str(e), int(i)) for e, i in items] for name, items in dists.items()}, None
    except (TypeError, ValueError):
        return None, "seal corrupt: malformed entries"


def damage(site: str, found: Entries) -> str | None:
    """The first distribution with a recorded entry gone, else one with an entry that is another
    file now (a dist-info dir renamed by a reinstall says more than a reused inode); None when intact."""
    replaced = None
    for name in sorted(found):
        for entry, inode in found[name]:
            try:
                now = os.lstat(os.path.join(site, entry)).st_ino
            except FileNotFoundError:
                return f"distribution {name} missing ({entry} is gone)"
            except OSError as exc:
                return f"distribution {name} unreadable ({entry}: {exc.strerror})"
            if now != inode and replaced is None:
                replaced = f"distribution {name} replaced ({entry} is another file now)"
    return replaced


def check(env: str, site: str, recorded: Stamp) -> str | None:
    """Why the build's distributions are damaged, or None. One stat when nothing changed."""
    now = stamp(site)
    if now == tuple(recorded):
        return None
    if now is None:
        return f"site dir {site} is missing"
    found, reason = _read(env)
    if found is None:
        return f"site dir changed and its {reason}"
    return damage(site, found)
