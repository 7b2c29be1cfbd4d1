"""The project as a newcomer meets it in a fresh clone: nothing tracked gets in the way of the quick start."""
from __future__ import annotations

from tests.conftest import REPO


def test_no_tracked_file_stands_where_the_quick_start_makes_a_venv() -> None:
    # A file named .venv makes `python3 -m venv .venv` fail in every fresh clone.
    assert not (REPO / ".venv").is_file()
