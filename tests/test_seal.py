"""The damage check: a deleted or replaced distribution is noticed, in one stat when nothing changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from sdkboot import seal


def install(site: Path, dist: str, files: dict[str, str], version: str = "1.0") -> None:
    """What pip leaves: the files, a .dist-info dir and a RECORD listing them."""
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    rows = [f"{rel},sha256=x,{len(text)}" for rel, text in files.items()]
    rows += [
        f"{info.name}/METADATA,,",
        f"{info.name}/RECORD,,",
        "../../../bin/tool,,",
        f"__pycache__/{dist}.cpython-311.pyc,,",
        '"odd,name.py",,',
    ]
    (info / "METADATA").write_text(f"Name: {dist}\n")
    (info / "RECORD").write_text("\n".join(rows) + "\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "env" / "site"
    install(site, "pydantic", {"pydantic/__init__.py": "", "pydantic/main.py": ""})
    install(site, "typing_extensions", {"typing_extensions.py": ""})
    install(site, "pydantic_core", {"pydantic_core/__init__.py": "", "pydantic_core/_x.so": ""})
    return site


def sealed(site: Path) -> seal.Stamp:
    env = str(site.parent)
    seal.write(env, str(site))
    stamp = seal.stamp(str(site))
    assert stamp is not None
    return stamp


def test_entries_are_the_dist_info_dirs_and_top_levels_of_each_record(site: Path) -> None:
    found = seal.entries(str(site))
    assert {name: [entry for entry, _ in items] for name, items in found.items()} == {
        "pydantic": ["pydantic", "pydantic-1.0.dist-info"],
        "pydantic_core": ["pydantic_core", "pydantic_core-1.0.dist-info"],
        "typing_extensions": ["typing_extensions-1.0.dist-info", "typing_extensions.py"],
    }, "scripts outside site, __pycache__ and entries never written are left out"


def test_an_untouched_build_is_healthy_in_one_stat(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = sealed(site)
    calls: list[tuple[Any, ...]] = []
    real = os.stat

    def counted(*a: Any, **k: Any) -> os.stat_result:
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(os, "stat", counted)
    monkeypatch.setattr(os, "lstat", lambda *a, **k: pytest.fail("the quick check must not walk the entries"))
    assert seal.check(str(site.parent), str(site), stamp) is None
    assert len(calls) == 1


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("delete the package dir", "distribution pydantic missing (pydantic is gone)"),
        ("delete the dist-info dir", "distribution pydantic_core missing (pydantic_core-1.0.dist-info is gone)"),
        ("delete a top-level module", "distribution typing_extensions missing (typing_extensions.py is gone)"),
        ("replace the package dir", "distribution pydantic replaced (pydantic is another file now)"),
    ],
)
def test_damage_is_named(site: Path, damage: str, expected: str) -> None:
    stamp = sealed(site)
    if damage == "delete the package dir":
        shutil.rmtree(site / "pydantic")
    elif damage == "delete the dist-info dir":
        shutil.rmtree(site / "pydantic_core-1.0.dist-info")
    elif damage == "delete a top-level module":
        (site / "typing_extensions.py").unlink()
    else:  # an atomic replacement: the new dir exists before the old one goes, so it has another inode
        (site / "pydantic.new").mkdir()
        (site / "pydantic.new" / "__init__.py").write_text("")
        shutil.rmtree(site / "pydantic")
        (site / "pydantic.new").rename(site / "pydantic")
    assert seal.check(str(site.parent), str(site), stamp) == expected


def test_another_version_installed_over_it_is_noticed_by_its_dist_info(site: Path) -> None:
    stamp = sealed(site)
    shutil.rmtree(site / "pydantic")  # pip uninstall + install: the inode may well be reused,
    shutil.rmtree(site / "pydantic-1.0.dist-info")  # but the metadata dir has another name
    install(site, "pydantic", {"pydantic/__init__.py": ""}, version="2.0")
    assert seal.check(str(site.parent), str(site), stamp) == (
        "distribution pydantic missing (pydantic-1.0.dist-info is gone)"
    )


def test_a_harmless_addition_is_healthy_after_a_full_look(site: Path) -> None:
    stamp = sealed(site)
    (site / "someone-else.pth").write_text("")
    assert seal.stamp(str(site)) != stamp
    assert seal.check(str(site.parent), str(site), stamp) is None


def test_a_changed_site_without_its_seal_is_damaged(site: Path) -> None:
    stamp = sealed(site)
    os.unlink(seal.seal_file(str(site.parent)))
    (site / "new.txt").write_text("")
    assert seal.check(str(site.parent), str(site), stamp) == "site dir changed and its seal absent"
    Path(seal.seal_file(str(site.parent))).write_text('{"distributions": [1]}')
    assert seal.check(str(site.parent), str(site), stamp) == "site dir changed and its seal corrupt: no distributions"


def test_a_missing_site_dir(site: Path) -> None:
    stamp = sealed(site)
    shutil.rmtree(site)
    assert seal.check(str(site.parent), str(site), stamp) == f"site dir {site} is missing"


def test_a_target_build_seals_itself_before_the_stamp(tmp_path: Path) -> None:
    # For --target, env == site: the seal file lands in site, and the stamp must come after it.
    site = tmp_path / "target"
    install(site, "dep", {"dep/__init__.py": ""})
    seal.write(str(site), str(site))
    stamp = seal.stamp(str(site))
    assert stamp is not None and seal.check(str(site), str(site), stamp) is None
    shutil.rmtree(site / "dep")
    assert seal.check(str(site), str(site), stamp) == "distribution dep missing (dep is gone)"
