"""Options shared by sweep, floor and validate: limit ranges and the scenario context."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from repro import UsageError, options


def _args(**values: object) -> argparse.Namespace:
    defaults = {
        "python": sys.executable,
        "wheelhouse": None,
        "timeout": 90.0,
        "limit": "as",
        "lo": None,
        "hi": None,
        "resolution": None,
    }
    return argparse.Namespace(**{**defaults, **values})


def test_span_defaults_come_from_the_kind() -> None:
    span = options.span(_args(limit="cgroup", hi=65536))
    assert (span.kind.name, span.lo_kib, span.hi_kib, span.resolution_kib) == ("cgroup", 4096, 65536, 256)


def test_context_refuses_bad_options(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such interpreter"):
        options.context(_args(python=str(tmp_path / "nope")), tmp_path, False)
    with pytest.raises(UsageError, match="no wheelhouse at"):
        options.context(_args(wheelhouse=tmp_path), tmp_path, True)
    ok = options.context(_args(wheelhouse=tmp_path), tmp_path, False)
    assert Path(ok.python).is_absolute() and ok.wheelhouse == tmp_path.resolve()


def test_size_arg_turns_value_errors_into_argparse_errors() -> None:
    assert options.size_arg("64m") == 65536
    with pytest.raises(argparse.ArgumentTypeError, match="bad size"):
        options.size_arg("64q")
