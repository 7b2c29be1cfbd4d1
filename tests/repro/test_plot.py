"""The optional strip chart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from repro import plot
from repro.limits import Run
from repro.signature import Sample, Sweep
from tests.conftest import require_capability


def test_missing_matplotlib_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert not plot.usable(tmp_path / "x.png")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matplotlib is missing" in err and "sdkboot[plot]" in err


@pytest.mark.e2e  # renders with the real optional extra; tox's repro env installs it
def test_strip_chart_writes_a_png(tmp_path: Path) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        require_capability("matplotlib (the 'plot' extra) is not installed")
    samples = {
        kib: Sample.of(kib, Run((), "", rc, "", "", 0.0, None, 0))
        for kib, rc in [(2048, -11), (4096, -11), (8192, 127), (65536, 0)]
    }
    out = tmp_path / "chart.png"
    plot.strip_chart([Sweep("venv", samples, True), Sweep("pip-target", samples, False)], "t", out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
