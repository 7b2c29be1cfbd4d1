"""The exact `sdkboot run` line, and everything discovery and run need, from inside a zip."""

from __future__ import annotations

import importlib.machinery
import json
import shlex
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

from sdkboot import invocation
from sdkboot.spec import Spec
from tests.conftest import REPO


@pytest.fixture
def as_sdkboot_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """As when sdkboot's own CLI (the hook) is the process: the consumer is left to fill in."""
    monkeypatch.setattr(sys, "argv", [str(REPO / "sdkboot" / "__main__.py"), "hook"])


def test_the_run_line_carries_every_non_default_option(tmp_path: Path, as_sdkboot_cli: None) -> None:
    spec = Spec(
        requirements=("fakesdk>=1",),
        import_name="fakesdk",
        min_python=(3, 11),
        state_dir=str(tmp_path / "my state"),
        find_links=(str(tmp_path / "w"),),
        no_index=True,
    )
    line = invocation.run_line(spec)
    words = shlex.split(line)
    run = words.index("run")
    assert words[run - 2 : run] == ["-m", "sdkboot"] and words[run - 3] == sys.executable
    assert words[run + 1 :] == [
        "--min-python",
        "3.11",
        "--import-name",
        "fakesdk",
        "--state-dir",
        str(tmp_path / "my state"),
        "--find-links",
        str(tmp_path / "w"),
        "--no-index",
        "fakesdk>=1",
        "--",
        "SCRIPT",
    ]


def test_defaults_are_left_out(as_sdkboot_cli: None) -> None:
    words = shlex.split(invocation.run_line(Spec()))
    assert words[words.index("run") + 1 :] == ["--", "SCRIPT"]


def test_an_in_process_consumer_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text("")
    monkeypatch.setattr(sys, "argv", [str(agent)])
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    assert invocation.consumer() == ["--", str(agent)]
    monkeypatch.setattr(sys, "argv", [str(agent), "--token", "secret"])
    assert invocation.consumer() == ["--", str(agent), "ARGS..."], "its arguments are never copied"
    module = types.ModuleType("__main__")
    module.__spec__ = importlib.machinery.ModuleSpec("my_agent.__main__", None)
    monkeypatch.setitem(sys.modules, "__main__", module)
    assert invocation.consumer() == ["-m", "my_agent", "ARGS..."]


def test_a_vendored_copy_says_where_it_is() -> None:
    first = invocation.launcher()[0]
    assert first == f"PYTHONPATH={REPO}", "the repo is not a site dir: a fresh interpreter needs the path"


@pytest.mark.skipif(sys.platform == "win32", reason="paths in the zip are POSIX here")
def test_from_a_zip_the_probe_and_the_target_entry_travel_as_source(tmp_path: Path) -> None:
    bundle = tmp_path / "sdkboot.pyz"
    with zipfile.ZipFile(bundle, "w") as archive:
        for path in sorted((REPO / "sdkboot").rglob("*.py")):
            archive.write(path, str(path.relative_to(REPO)))
        archive.writestr("__main__.py", "import sys\nfrom sdkboot.cli import main\nsys.exit(main())\n")
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(bundle)!r})\n"
        "from sdkboot import invocation, launch\n"
        "from sdkboot.discovery import probe\n"
        "found, spawned = probe(sys.executable)\n"
        "print(json.dumps({'version': found.info.label, 'spawned': spawned, 'launcher': invocation.launcher(),"
        " 'entry': 'site.addsitedir' in launch._target_main()}))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "spawned": 1,
        "launcher": [sys.executable, str(bundle)],
        "entry": True,
    }
    listing = subprocess.run(
        [sys.executable, str(bundle), "pythons", "--json", "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode in (0, 1) and json.loads(listing.stdout)["candidates"], listing.stderr
