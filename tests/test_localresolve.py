"""The offline resolver: the same closure pip finds, or "undecided" so that pip decides."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sdkboot.localresolve import PACKAGING, UNDECIDED, Undecided, main, resolve
from tests.wheels import make_wheel

packaging = [pytest.importorskip(f"pip._vendor.packaging.{name}") for name in PACKAGING]


def names(report: Any) -> list[str]:
    return sorted(
        f"{i['metadata']['name']}=={i['metadata']['version']}{'*' if i['requested'] else ''}" for i in report["install"]
    )


def house(tmp_path: Path, *wheels: Sequence[Any]) -> Path:
    for dist, version, requires in wheels:
        make_wheel(tmp_path, dist, {f"{dist.replace('-', '_')}/__init__.py": ""}, version=version, requires=requires)
    return tmp_path


def test_dependencies_extras_and_markers_are_followed(tmp_path: Path) -> None:
    where = house(
        tmp_path,
        ("app", "1.0", ["lib>=1", "extra-only; extra == 'fast'", "never; python_version < '3'"]),
        ("lib", "1.0", []),
        ("lib", "2.0", []),
        ("extra-only", "1.0", []),
        ("never", "1.0", []),
    )
    assert names(resolve([str(where)], ["app"], packaging)) == ["app==1.0*", "lib==2.0"]
    assert names(resolve([str(where)], ["app[fast]"], packaging)) == ["app==1.0*", "extra-only==1.0", "lib==2.0"]
    assert names(resolve([str(where)], ["lib<2", "app"], packaging)) == ["app==1.0*", "lib==1.0*"]
    with pytest.raises(Undecided, match="conflicts"):  # greedy picked lib 2.0 first: pip would backtrack
        resolve([str(where)], ["app", "lib<2"], packaging)


def test_a_conflict_or_a_missing_wheel_is_left_to_pip(tmp_path: Path) -> None:
    where = house(tmp_path, ("app", "1.0", ["lib<2"]), ("lib", "2.0", []), ("other", "1.0", ["lib>=2"]))
    with pytest.raises(Undecided, match="no local wheel of lib"):
        resolve([str(where)], ["app"], packaging)
    with pytest.raises(Undecided, match="conflicts"):
        resolve([str(where)], ["other", "lib==2.0", "app"], packaging)


def test_main_says_undecided_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--find-links", str(tmp_path), "--", "absent"], packaging) == UNDECIDED
    assert main(["--", "x"], None) == UNDECIDED
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("sdkboot-resolve: undecided:") for line in err)
