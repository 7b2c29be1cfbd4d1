"""``activate()``: put a built env at the FRONT of sys.path, safely, idempotently, without importing.

Fast tests publish install-states by hand (no pip); the e2e test activates a real
venv and a real ``pip install --target`` dir built by ``ensure()``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdkboot import Outcome, Spec, activate, ensure, state
from sdkboot.layout import Layout
from tests.conftest import PROBE_DIST, PROBE_MODULE
from tests.fake_envs import PYTHON_XY, fake_env, private_dirs, spec_for, write_file
from tests.interpreters import debian_venv, write_wrapper
from tests.wheels import make_wheel

PTH_DIST = "pth-dist"
PTH_MODULE = "only_via_pth"
PTH_LIB = "pth_dist_lib"

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits and sh wrappers")


@pytest.fixture(autouse=True)
def restored_interpreter() -> Iterator[None]:
    """Every test leaves sys.path, sys.modules and the import machinery as it found them."""
    path, meta, hooks = list(sys.path), list(sys.meta_path), list(sys.path_hooks)
    modules, cache = set(sys.modules), dict(sys.path_importer_cache)
    yield
    sys.path[:] = path
    sys.meta_path[:] = meta
    sys.path_hooks[:] = hooks
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path_importer_cache.clear()
    sys.path_importer_cache.update(cache)
    importlib.invalidate_caches()


def root_of(tmp_path: Path) -> Path:
    return private_dirs(tmp_path / "state", tmp_path / "state")


def spec(root: Path, import_name: str = "fake_mod") -> Spec:
    return spec_for(root, import_name)


def importable(name: str) -> bool:
    importlib.invalidate_caches()
    return importlib.util.find_spec(name) is not None


def pth_wheel(directory: Path, entry: str) -> Path:
    """A wheel whose root holds ``pth_dist.pth`` (one line: ``entry``) and ``pth_dist_lib/only_via_pth.py``."""
    directory.mkdir(parents=True, exist_ok=True)
    return make_wheel(
        directory,
        PTH_DIST,
        {
            "pth_dist.pth": entry + "\n",
            f"{PTH_LIB}/{PTH_MODULE}.py": "WHERE = 'reached through the .pth'\n",
        },
    )


def unpack(wheel: Path, site: Path, top: Path) -> None:
    """What pip does with a pure wheel, minus the bookkeeping: its files land in site-packages."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            write_file(site / name, archive.read(name).decode(), top)


# --- the happy paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["venv", "target"])
def test_activation_puts_the_site_dir_first_and_imports_nothing(tmp_path: Path, strategy: str) -> None:
    root = root_of(tmp_path)
    record = fake_env(root, strategy, {"fake_mod/__init__.py": "VALUE = 'from the env'\n"})
    before = list(sys.path)
    assert not importable("fake_mod")

    act = activate(spec(root))

    assert act.ok and act.path == record.site
    assert act.added == (record.site,)
    assert act.reason == f"added {strategy} env"
    assert sys.path == [record.site, *before], "the env goes to the FRONT, nothing else moves"
    assert "fake_mod" not in sys.modules, "activate() must never import the package"
    module = importlib.import_module("fake_mod")
    assert module.VALUE == "from the env"
    assert Path(str(module.__file__)).parent.parent == Path(record.site)
    if strategy == "target":
        assert record.site == record.env


@posix_only
def test_activation_never_runs_the_package(tmp_path: Path) -> None:
    root = root_of(tmp_path)
    record = fake_env(root, files={"fake_mod/__init__.py": "raise RuntimeError('imported by activate')\n"})
    act = activate(spec(root))
    assert act.ok and sys.path[0] == record.site
    assert "fake_mod" not in sys.modules


@pytest.mark.parametrize("strategy, outcome", [("venv", Outcome.NOOP_VENV), ("target", Outcome.NOOP_TARGET)])
def test_after_activation_ensure_still_names_the_env_not_the_system(
    tmp_path: Path, strategy: str, outcome: Outcome
) -> None:
    """A host calls ensure() again in the same process: the module is importable now, but from the
    env, so it is NOOP_VENV (or NOOP_TARGET), not NOOP_SYSTEM."""
    root = root_of(tmp_path)
    built_for = Spec(
        requirements=("fake-dist",), import_name="fake_mod", state_dir=str(root), min_python=sys.version_info[:2]
    )
    record = fake_env(root, strategy, spec=built_for)
    assert activate(built_for).ok and importable("fake_mod")
    result = ensure(built_for)
    assert (result.outcome, result.env, result.subprocesses) == (outcome, record.env, 0), result.message


def test_second_activation_adds_nothing(tmp_path: Path) -> None:
    root = root_of(tmp_path)
    record = fake_env(root)
    first = activate(spec(root))
    after_first = list(sys.path)

    second = activate(spec(root))

    assert first.added == (record.site,)
    assert second.ok and second.path == record.site
    assert second.added == () and second.reason == "already on sys.path"
    assert sys.path == after_first
    assert sys.path.count(record.site) == 1


def test_activation_moves_ahead_of_an_older_copy_already_on_sys_path(tmp_path: Path) -> None:
    """An older copy of the module elsewhere on sys.path must not shadow the built env."""
    root = root_of(tmp_path)
    old = private_dirs(tmp_path / "old", tmp_path / "old")
    write_file(old / "fake_mod" / "__init__.py", "VALUE = 'old copy'\n", old)
    sys.path.insert(0, str(old))
    record = fake_env(root, files={"fake_mod/__init__.py": "VALUE = 'new build'\n"})

    assert activate(spec(root)).ok

    assert sys.path.index(record.site) < sys.path.index(str(old))
    assert importlib.import_module("fake_mod").VALUE == "new build"


@posix_only
@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_pth_file_adds_its_dir_and_only_that_makes_the_module_importable(tmp_path: Path, kind: str) -> None:
    root = root_of(tmp_path)
    record = fake_env(root, "target", files={}, spec=spec(root, PTH_MODULE))
    site = Path(record.site)
    lib = site / PTH_LIB
    unpack(pth_wheel(tmp_path / "wheels", PTH_LIB if kind == "relative" else str(lib)), site, root)

    # With the site dir merely on sys.path (no .pth processing) the module is NOT reachable.
    sys.path.insert(0, str(site))
    assert not importable(PTH_MODULE)
    sys.path.remove(str(site))
    before = list(sys.path)

    act = activate(spec(root, PTH_MODULE))

    assert act.ok
    assert act.added == (str(site), str(lib))
    assert sys.path == [str(site), str(lib), *before], "both the site dir and the .pth dir go first"
    assert PTH_MODULE not in sys.modules
    module = importlib.import_module(PTH_MODULE)
    assert module.WHERE == "reached through the .pth"
    assert Path(str(module.__file__)).parent == lib


# --- refusals ----------------------------------------------------------------------------------


def refused(root: Path, import_name: str = "fake_mod") -> str:
    """Activate, expect a refusal that leaves sys.path alone, and return its reason."""
    before = list(sys.path)
    act = activate(spec(root, import_name))
    assert not act.ok and act.path is None and act.added == ()
    assert sys.path == before, "a refused activation must not touch sys.path"
    assert act.reason
    return act.reason


@posix_only
@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757, 0o1777])
@pytest.mark.parametrize("which", ["site", "env", "builds", "state root"])
def test_group_or_world_writable_dirs_are_refused(tmp_path: Path, which: str, mode: int) -> None:
    root = root_of(tmp_path)
    record = fake_env(root)
    target = {"site": Path(record.site), "env": Path(record.env), "builds": root / "builds", "state root": root}[which]
    target.chmod(mode)

    reason = refused(root)

    assert "group- or world-writable" in reason and str(target) in reason
    assert "fake_mod" not in sys.modules and not importable("fake_mod")


@posix_only
def test_a_group_writable_pth_file_is_refused(tmp_path: Path) -> None:
    root = root_of(tmp_path)
    record = fake_env(root)
    pth = write_file(Path(record.site) / "evil.pth", "somewhere\n", root, mode=0o664)
    reason = refused(root)
    assert str(pth) in reason and "group- or world-writable" in reason


@posix_only
def test_a_world_writable_dir_named_in_a_pth_file_never_reaches_sys_path(tmp_path: Path) -> None:
    """A dir a .pth adds is on sys.path just like the site dir: the same rule must apply to it.

    activate() checks the site dir, its parents and the .pth files, but not the dirs the
    .pth files name; any user can drop modules into a world-writable one.
    """
    root = root_of(tmp_path)
    record = fake_env(root)
    shared = private_dirs(Path(record.site) / "shared_lib", root)
    shared.chmod(0o777)
    write_file(Path(record.site) / "shared.pth", "shared_lib\n", root)

    act = activate(spec(root))

    on_path = str(shared) in sys.path
    assert not on_path, f"world-writable {shared} was put on sys.path (added: {act.added})"


@pytest.mark.parametrize("built", ["other minor", "other major", "prefix of mine"])
def test_an_env_built_for_another_python_is_refused(tmp_path: Path, built: str) -> None:
    major, minor = sys.version_info[:2]
    # "prefix of mine": 3.110 is not 3.11, even though the string starts the same.
    version = {
        "other minor": f"{major}.{minor + 1}.0",
        "other major": "2.7.18",
        "prefix of mine": f"{major}.{minor}0.0",
    }[built]
    root = root_of(tmp_path)
    fake_env(root, python_version=version)

    reason = refused(root)

    other = ".".join(version.split(".")[:2])
    assert reason == f"env was built for Python {other}, this is {PYTHON_XY}"


def _republish(root: Path, record: state.InstallState, **changes: object) -> None:
    """Replace the one published record by an edited copy."""
    data = record.to_json()
    data.update(changes)
    state.save(Layout(str(root)), state.Installs((state.InstallState.from_json(data),)))


@pytest.mark.parametrize("where", ["sibling dir", "sibling with the state dir's name as prefix"])
def test_a_site_dir_outside_the_state_dir_is_refused(tmp_path: Path, where: str) -> None:
    root = root_of(tmp_path)
    record = fake_env(root)
    top = tmp_path / ("elsewhere" if where == "sibling dir" else "state-evil")
    outside = private_dirs(top / "site", top)
    write_file(outside / "fake_mod" / "__init__.py", "VALUE = 'outside'\n", top)
    _republish(root, record, site=str(outside))

    reason = refused(root)

    assert "outside the state dir" in reason and str(outside) in reason


@posix_only
def test_a_symlink_inside_the_state_dir_is_refused(tmp_path: Path) -> None:
    """sdkboot never makes links on the way to a site dir; one there may lead anywhere."""
    root = root_of(tmp_path)
    record = fake_env(root)
    outside = private_dirs(tmp_path / "elsewhere" / "site", tmp_path / "elsewhere")
    link = root / "builds" / "link"
    link.symlink_to(outside, target_is_directory=True)
    _republish(root, record, site=str(link))

    reason = refused(root)

    assert f"{link} is a symlink inside the state dir" in reason


def test_nothing_built(tmp_path: Path) -> None:
    assert refused(root_of(tmp_path)) == "nothing built: install-state absent"


def test_a_missing_state_dir_is_nothing_built(tmp_path: Path) -> None:
    assert refused(tmp_path / "never-created") == "nothing built: install-state absent"


@pytest.mark.parametrize("content", ["{truncated", "[1, 2]", '{"layout": 2, "builds": 7}'])
def test_a_corrupt_install_state_is_refused(tmp_path: Path, content: str) -> None:
    root = root_of(tmp_path)
    fake_env(root)
    (root / "install-state.json").write_text(content)
    assert refused(root).startswith("nothing built: install-state corrupt")


def test_an_install_state_of_an_older_layout_holds_nothing(tmp_path: Path) -> None:
    root = root_of(tmp_path)
    fake_env(root)
    (root / "install-state.json").write_text('{"strategy": "venv", "env": "/x"}')
    assert refused(root) == "nothing built: install-state is from another sdkboot layout (1)"


def test_a_state_with_wrongly_typed_fields_is_refused_not_raised(tmp_path: Path) -> None:
    """A hand-edited or foreign install-state is "corrupt": activate() must answer, not raise
    (a number where ``python_version`` should be a string once reached ``_usable``)."""
    root = root_of(tmp_path)
    record = fake_env(root)
    data = record.to_json()
    data["python_version"] = int(PYTHON_XY.replace(".", ""))
    (root / "install-state.json").write_text(json.dumps({"layout": state.LAYOUT_VERSION, "builds": [data]}))

    act = activate(spec(root))

    assert not act.ok and "install-state" in act.reason


def test_a_missing_listed_path_is_refused(tmp_path: Path) -> None:
    root = root_of(tmp_path)
    record = fake_env(root)
    gone = Path(record.paths[0])
    gone.unlink()
    assert refused(root) == f"missing {gone}"


def test_a_state_from_another_layout_version_is_refused(tmp_path: Path) -> None:
    root = root_of(tmp_path)
    record = fake_env(root)
    _republish(root, record, fingerprint={**record.fingerprint, "layout": state.LAYOUT_VERSION + 1})
    assert refused(root) == "install-state is from another sdkboot layout version"


# --- the real thing ----------------------------------------------------------------------------


@pytest.mark.e2e
@posix_only
def test_activate_a_real_venv_and_a_real_target_dir(tmp_path: Path, probe_wheelhouse: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for wheel in probe_wheelhouse.iterdir():
        (wheels / wheel.name).write_bytes(wheel.read_bytes())
    pth_wheel(wheels, PTH_LIB)
    debian = write_wrapper(tmp_path / "py-debian", debian_venv())
    common = dict(
        requirements=(PROBE_DIST, PTH_DIST),
        import_name=PROBE_MODULE,
        no_index=True,
        find_links=(str(wheels),),
        min_python=sys.version_info[:2],
        strategies=("venv", "target"),
    )
    builds = {
        "venv": Spec(state_dir=str(tmp_path / "venv-state"), **common),  # type: ignore[arg-type]
        "target": Spec(state_dir=str(tmp_path / "target-state"), python=str(debian), **common),  # type: ignore[arg-type]
    }
    expected = {"venv": Outcome.BUILT, "target": Outcome.BUILT_TARGET}
    for strategy, build_spec in builds.items():
        result = ensure(build_spec)
        assert result.outcome is expected[strategy], result
        before = list(sys.path)

        act = activate(build_spec)

        assert act.ok, act.reason
        assert act.path is not None and sys.path[0] == act.path
        assert sys.path[len(act.added) :] == before
        assert PROBE_MODULE not in sys.modules and PTH_MODULE not in sys.modules
        assert importlib.import_module(PROBE_MODULE).VALUE == 42
        assert Path(str(importlib.import_module(PTH_MODULE).__file__)).parent == Path(act.path) / PTH_LIB
        assert activate(build_spec).added == ()
        # Undo before the next strategy, as the autouse fixture will at the end.
        sys.path[:] = before
        for name in (PROBE_MODULE, PTH_MODULE):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
