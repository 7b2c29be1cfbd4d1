"""The README's Guarantees table names tests that exist: a property never points at nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import REPO

FAULTS = REPO / "tests" / "faults"


def _guarantee_rows() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return rows[1:]  # after the header row (the |---| row does not start with "| ")


def _functions(path: Path) -> set[str]:
    return {
        node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.FunctionDef)
    }


def test_every_guarantee_names_an_existing_test() -> None:
    rows = _guarantee_rows()
    assert len(rows) >= 15
    for row in rows:
        cited = re.findall(r"`((?:tests/)?test_\w+\.py)(?:::(\w+))?`", row.split("|")[-2])
        assert cited, f"no test named in: {row}"
        for name, function in cited:
            path = REPO / name if name.startswith("tests/") else FAULTS / name
            assert path.is_file(), f"{name} (cited in the README) does not exist"
            assert not function or function in _functions(path), f"{name}::{function} does not exist"
