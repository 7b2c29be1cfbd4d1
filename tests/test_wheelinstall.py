"""The streaming wheel installer, checked against pip on the same wheel set.

The e2e half installs one wheel set with pip (``pip --python`` into a ``--without-pip``
venv) and with sdkboot's installer into another, then compares what each left: the file
trees, the RECORDs, importlib.metadata's view, the console scripts and the ``.pth`` file.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sdkboot import wheelinstall
from sdkboot.wheelinstall import Scheme, WheelError, install_parallel, install_wheel, shebang
from tests.conftest import REPO
from tests.wheels import make_wheel

ALPHA = {
    "lean_alpha/__init__.py": "def main():\n    print('alpha says hi')\n    return 0\n",
    "lean_alpha/sub/mod.py": "VALUE = 7\n",
    "lean_alpha/sub/data.json": '{"k": 1}\n',
    "lean_alpha.pth": "lean_alpha_extra\n",
    "lean_alpha_extra/extra_mod.py": "EXTRA = True\n",
    "lean_alpha-1.0.data/data/share/lean-alpha/readme.txt": "shared data\n",
    "lean_alpha-1.0.data/scripts/alpha-tool": "#!python\nimport lean_alpha\nprint('tool', lean_alpha.__name__)\n",
    "lean_alpha-1.0.dist-info/entry_points.txt": "[console_scripts]\nalpha = lean_alpha:main\n"
    "[lean_alpha.plugins]\nfirst = lean_alpha.sub.mod\n",
}
BETA = {
    "lean_beta.py": (
        "def run():\n    return 0\nclass App:\n    @staticmethod\n    def start():\n        print('beta app')\n"
    ),
    "lean_beta-2.0.dist-info/entry_points.txt": "[gui_scripts]\nbeta-gui = lean_beta:run\n"
    "[console_scripts]\nbeta-app = lean_beta:App.start\n",
}


def wheelset(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [
        make_wheel(directory, "lean-alpha", ALPHA),
        make_wheel(directory, "lean-beta", BETA, version="2.0", requires=["lean-alpha"]),
    ]


# -- unit: the spec's edges ------------------------------------------------------------------------


def scheme(root: Path) -> Scheme:
    paths = {key: str(root / key) for key in ("purelib", "platlib", "scripts", "data", "headers")}
    return Scheme(paths, "/env/bin/python")


@pytest.mark.parametrize("member", ["/etc/passwd", "../evil.py", "pkg/../../evil.py", "C:/x.py", "pkg\\x.py"])
def test_a_member_that_would_escape_its_dir_is_refused(tmp_path: Path, member: str) -> None:
    wheel = make_wheel(tmp_path, "bad-dist", {"ok.py": "", member: "x"})
    with pytest.raises(WheelError, match="unsafe path"):
        install_wheel(str(wheel), scheme(tmp_path / "env"), compile_py=False)
    assert not (tmp_path / "evil.py").exists()


def test_an_unknown_data_dir_key_is_refused(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "odd-dist", {"odd_dist-1.0.data/elsewhere/x": "x"})
    with pytest.raises(WheelError, match=r"unknown \.data"):
        install_wheel(str(wheel), scheme(tmp_path / "env"), compile_py=False)


def test_two_dist_info_dirs_are_refused(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "two-dist", {"other-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\n"})
    with pytest.raises(WheelError, match=r"one \.dist-info"):
        install_wheel(str(wheel), scheme(tmp_path / "env"), compile_py=False)


def test_a_long_or_spaced_interpreter_path_gets_the_sh_trampoline() -> None:
    assert shebang("/env/bin/python") == b"#!/env/bin/python\n"
    for python in ("/a b/bin/python", "/" + "x" * 130 + "/python"):
        text = shebang(python).decode()
        assert text.startswith("#!/bin/sh\n") and f'"{python}"' in text


def _many(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [make_wheel(directory, f"many-{i}", {f"many_{i}/__init__.py": f"N = {i}\n" * (i + 1)}) for i in range(count)]


def test_parallel_workers_share_one_queue_and_report_in_the_order_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = [str(w) for w in _many(tmp_path / "w", 6)]
    monkeypatch.setattr(Scheme, "of_this_env", classmethod(lambda cls, dist="": scheme(tmp_path / "env")))
    summary = install_parallel(wheels, ["many-3"], 3)
    assert [item["wheel"] for item in summary] == wheels
    assert [item["name"] for item in summary] == [f"many_{i}" for i in range(6)]
    for i in range(6):
        dist_info = tmp_path / "env" / "purelib" / f"many_{i}-1.0.dist-info"
        assert (dist_info / "RECORD").is_file() and (dist_info / "REQUESTED").exists() == (i == 3)


def test_the_wheels_of_a_worker_that_dies_are_redone_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheels = [str(w) for w in _many(tmp_path / "w", 4)]
    monkeypatch.setattr(Scheme, "of_this_env", classmethod(lambda cls, dist="": scheme(tmp_path / "env")))
    parent, real = os.getpid(), wheelinstall.install_wheel

    def dies_in_a_worker(path: str, *args: object, **kwargs: object) -> wheelinstall.Installed:
        if os.getpid() != parent:
            os._exit(9)  # as the OOM killer would: no summary, no cleanup
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(wheelinstall, "install_wheel", dies_in_a_worker)
    summary = install_parallel(wheels, [], 2)
    assert [item["wheel"] for item in summary] == wheels
    assert all((tmp_path / "env" / "purelib" / f"many_{i}" / "__init__.py").is_file() for i in range(4))


def test_a_deflated_member_is_inflated_and_checked(tmp_path: Path) -> None:
    body = "".join(f"LINE_{i} = {i * i}\n" for i in range(60_000))  # several output chunks
    wheel = make_wheel(tmp_path, "big-dist", {"big_dist.py": body}, compression=zipfile.ZIP_DEFLATED)
    install_wheel(str(wheel), scheme(tmp_path / "env"), compile_py=False)
    assert (tmp_path / "env" / "purelib" / "big_dist.py").read_text() == body
    broken = tmp_path / "broken" / wheel.name
    broken.parent.mkdir()
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("big_dist.py")
    data = bytearray(wheel.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + 5000] ^= 0xFF  # inside the deflate stream
    broken.write_bytes(bytes(data))
    with pytest.raises(zipfile.BadZipFile):
        install_wheel(str(broken), scheme(tmp_path / "env2"), compile_py=False)


def test_a_local_header_that_names_another_member_is_refused(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "twin-dist", {"twin_a.py": "A = 1\n"})
    data = wheel.read_bytes()
    first = data.index(b"twin_a.py")  # the local header's name comes before the directory's
    wheel.write_bytes(data[:first] + b"twin_b.py" + data[first + len(b"twin_a.py") :])
    with pytest.raises(zipfile.BadZipFile, match="local header names"):
        install_wheel(str(wheel), scheme(tmp_path / "env"), compile_py=False)


def test_record_lists_every_written_file_with_its_hash_and_itself_last(tmp_path: Path) -> None:
    wheel = wheelset(tmp_path / "w")[0]
    env = tmp_path / "env"
    done = install_wheel(str(wheel), scheme(env), requested=True, compile_py=False)
    record = Path(done.dist_info) / "RECORD"
    rows = list(csv.reader(record.read_text().splitlines()))
    root = env / "purelib"
    for path, digest, size in rows[:-1]:
        assert (root / path).resolve().is_file() and digest.startswith("sha256=")
        assert int(size) == (root / path).resolve().stat().st_size
    assert rows[-1] == ["lean_alpha-1.0.dist-info/RECORD", "", ""]
    assert (Path(done.dist_info) / "INSTALLER").read_text() == "sdkboot\n"
    assert (Path(done.dist_info) / "REQUESTED").exists()
    assert (env / "data" / "share" / "lean-alpha" / "readme.txt").read_text() == "shared data\n"
    tool = env / "scripts" / "alpha-tool"
    assert tool.read_text().startswith("#!/env/bin/python\n") and os.access(tool, os.X_OK)


def test_a_member_whose_bytes_break_the_zip_crc_fails(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "crc-dist", {"crc_dist.py": "A = 1\n" * 50})
    data = bytearray(wheel.read_bytes())
    at = data.index(b"A = 1")  # stored uncompressed by make_wheel: flip a byte of the content
    data[at] = ord("B")
    wheel.write_bytes(bytes(data))
    with pytest.raises(zipfile.BadZipFile):
        install_wheel(str(wheel), scheme(tmp_path / "env"), compile_py=False)


# -- e2e: against pip --------------------------------------------------------------------------------


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
    return done  # type: ignore[no-any-return]


def fresh_venv(path: Path) -> Path:
    run([sys.executable, "-m", "venv", "--without-pip", str(path)])
    return path / "bin" / "python"


def pip_env(root: Path, wheels: Path) -> Path:
    python = fresh_venv(root / "pip-env")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-index",
            "--find-links",
            str(wheels),
            "--disable-pip-version-check",
            "lean-beta",
        ],
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    return python


def lean_env(root: Path, wheels: list[Path]) -> Path:
    python = fresh_venv(root / "lean-env")
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); from sdkboot.wheelinstall import main;"
        " sys.exit(main(sys.argv[1:]))"
    )
    done = run(
        [str(python), "-I", "-c", code, str(REPO), "--jobs", "2", "--requested", "lean-beta", "--", *map(str, wheels)]
    )
    assert [d["name"] for d in json.loads(done.stdout)["installed"]] == ["lean_alpha", "lean_beta"]
    return python


def tree(env: Path) -> set[str]:
    return {str(p.relative_to(env)) for p in env.rglob("*") if p.is_file() or p.is_symlink()}


def records(env: Path) -> dict[str, dict[str, tuple[str, str]]]:
    found = {}
    for record in env.glob("lib/python*/site-packages/*.dist-info/RECORD"):
        rows = csv.reader(record.read_text().splitlines())
        found[record.parent.name] = {row[0]: (row[1], row[2]) for row in rows}
    return found


# Files an installer writes itself: their bytes (shebangs, wrapper text, mtimes in .pyc) differ.
def _generated(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path.startswith("../") or name in ("INSTALLER", "RECORD", "REQUESTED") or path.endswith(".pyc")


METADATA_VIEW = """
import json, sys
from importlib import metadata
dists = sorted(metadata.distributions(), key=lambda d: d.metadata["Name"])
print(json.dumps([{
    "name": d.metadata["Name"], "version": d.version, "requires": d.requires,
    "entry_points": sorted([e.name, e.group, e.value] for e in d.entry_points),
    "files": sorted(str(f) for f in d.files or []),
    "requested": d.read_text("REQUESTED") is not None,
} for d in dists]))
"""


@pytest.mark.e2e
def test_an_env_built_by_the_lean_installer_matches_one_pip_built(tmp_path: Path) -> None:
    wheels = wheelset(tmp_path / "wheels")
    pip_python, lean_python = pip_env(tmp_path, tmp_path / "wheels"), lean_env(tmp_path, wheels)
    pip_root, lean_root = pip_python.parent.parent, lean_python.parent.parent

    assert tree(lean_root) == tree(pip_root)
    pip_records, lean_records = records(pip_root), records(lean_root)
    assert set(lean_records) == set(pip_records) == {"lean_alpha-1.0.dist-info", "lean_beta-2.0.dist-info"}
    for dist, rows in pip_records.items():
        assert set(lean_records[dist]) == set(rows), dist
        for path, (digest, size) in rows.items():
            if not _generated(path):
                assert lean_records[dist][path] == (digest, size), path

    views = [json.loads(run([str(p), "-I", "-c", METADATA_VIEW]).stdout) for p in (pip_python, lean_python)]
    assert views[0] == views[1]
    assert [v["requested"] for v in views[1]] == [False, True]


@pytest.mark.e2e
def test_the_lean_env_runs_its_scripts_and_processes_its_pth(tmp_path: Path) -> None:
    python = lean_env(tmp_path, wheelset(tmp_path / "wheels"))
    bin_dir = python.parent
    assert run([str(bin_dir / "alpha")]).stdout == "alpha says hi\n"
    assert run([str(bin_dir / "beta-app")]).stdout == "beta app\n"
    assert run([str(bin_dir / "alpha-tool")]).stdout == "tool lean_alpha\n"
    assert run([str(bin_dir / "beta-gui")]).returncode == 0
    code = "import extra_mod, lean_alpha.sub.mod as m; print(extra_mod.EXTRA, m.VALUE)"
    assert run([str(python), "-I", "-c", code]).stdout == "True 7\n"
    cached = list((python.parent.parent).glob("lib/python*/site-packages/lean_alpha/__pycache__/*.pyc"))
    assert cached, "byte-code is compiled at install, as pip does"


def test_main_reports_a_refused_wheel_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel(tmp_path, "bad-dist", {"../evil.py": "x"})
    monkeypatch.setattr(Scheme, "of_this_env", classmethod(lambda cls, dist="": scheme(tmp_path / "env")))
    assert wheelinstall.main(["--", str(wheel)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sdkboot-install: WheelError: unsafe path") and err.count("\n") == 1
