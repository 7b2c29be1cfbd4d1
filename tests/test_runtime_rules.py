"""Rules the runtime package must keep, checked on its source.

1. Standard library only: sdkboot runs before any dependency exists.
2. Python 3.9 syntax: no ``match``, no runtime-evaluated ``X | Y`` types, no 3.10+ typing names.
3. sdkboot never imports ``repro`` (the reproduction harness is a dev-only package).
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "sdkboot"
SOURCES = sorted(PACKAGE.rglob("*.py"))

needs_stdlib_names = pytest.mark.skipif(
    sys.version_info < (3, 10), reason="sys.stdlib_module_names is new in Python 3.10")

# Standard-library modules and names that do not exist on 3.9, the oldest supported host.
NEWER_THAN_39_MODULES = {"tomllib"}
NEWER_THAN_39_TYPING = {
    "TypeAlias", "ParamSpec", "Concatenate", "TypeGuard", "Self", "Never", "LiteralString",
    "Required", "NotRequired", "Unpack", "TypeVarTuple", "assert_never", "assert_type",
    "reveal_type", "dataclass_transform", "override", "get_overloads", "clear_overloads",
    "is_typeddict", "TypeIs", "ReadOnly",
}
NEWER_THAN_39_KEYWORDS = {("dataclass", "slots"), ("dataclass", "kw_only"), ("zip", "strict"),
                          ("field", "kw_only")}
TYPE_NAMES = {
    "int", "str", "bytes", "float", "bool", "complex", "list", "dict", "tuple", "set",
    "frozenset", "type", "object", "None", "Any", "Optional", "Union", "List", "Dict", "Tuple",
    "Set", "FrozenSet", "Sequence", "Mapping", "Callable", "Iterable", "Iterator",
}


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import statement, relative ones resolved."""
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.lineno, node.module or ""
                continue
            base = package_of(path).split(".")
            up = node.level - 1
            anchor = base[: len(base) - up] if up else base
            if up > len(base) - 1:
                anchor = ["<outside>"]
            yield node.lineno, ".".join(anchor + ([node.module] if node.module else []))


def dynamic_imports(path: Path) -> Iterator[Tuple[int, Optional[str]]]:
    """Literal prefixes of importlib.import_module(...) / __import__(...) calls."""
    for node in ast.walk(tree_of(path)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called not in ("import_module", "__import__"):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            yield node.lineno, arg.value
        elif (isinstance(arg, ast.JoinedStr) and arg.values
              and isinstance(arg.values[0], ast.Constant)):
            yield node.lineno, str(arg.values[0].value)
        else:
            yield node.lineno, None


def test_the_package_is_where_the_rules_look() -> None:
    names = {rel(path) for path in SOURCES}
    assert {"sdkboot/__init__.py", "sdkboot/ensure.py", "sdkboot/cli.py"} <= names
    assert any(name.startswith("sdkboot/commands/") for name in names)


# -- 1. standard library only ----------------------------------------------------------------

@needs_stdlib_names
@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_imports_only_the_standard_library(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) - NEWER_THAN_39_MODULES  # type: ignore[attr-defined]
    bad = [(line, name) for line, name in imports(path)
           if name.split(".")[0] not in allowed and name.split(".")[0] != "sdkboot"]
    assert bad == [], f"{rel(path)} imports outside the standard library"


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_dynamic_imports_stay_inside_sdkboot(path: Path) -> None:
    bad = [(line, prefix) for line, prefix in dynamic_imports(path)
           if prefix is None or not prefix.startswith("sdkboot.")]
    assert bad == [], f"{rel(path)} imports a module by a name it cannot vouch for"


@needs_stdlib_names
def test_importing_everything_loads_only_the_standard_library() -> None:
    # In a fresh interpreter: what importing every sdkboot module adds to sys.modules.
    code = textwrap.dedent(f"""
        import json, pkgutil, sys
        before = set(sys.modules)
        sys.path.insert(0, {str(REPO)!r})
        import sdkboot, sdkboot.cli
        for info in pkgutil.walk_packages(sdkboot.__path__, "sdkboot."):
            if not info.name.endswith("__main__"):  # that one runs the CLI
                __import__(info.name)
        print(json.dumps(sorted(set(sys.modules) - before)))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    loaded = json.loads(done.stdout.decode().strip().splitlines()[-1])
    stdlib = set(sys.stdlib_module_names)  # type: ignore[attr-defined]
    foreign = [name for name in loaded
               if name.split(".")[0] not in stdlib and name.split(".")[0] != "sdkboot"]
    assert foreign == []
    assert "sdkboot.ensure" in loaded  # the walk did import the package


# -- 2. Python 3.9 syntax ----------------------------------------------------------------------

@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_parses_as_python_39(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    ast.parse(source, filename=str(path), feature_version=(3, 9))


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_no_match_statements(path: Path) -> None:
    match = getattr(ast, "Match", None)
    if match is None:
        pytest.skip("this Python has no match statement at all")
    found = [node.lineno for node in ast.walk(tree_of(path)) if isinstance(node, match)]
    assert found == []


def _annotations(tree: ast.Module) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            every = (arguments.posonlyargs + arguments.args + arguments.kwonlyargs
                     + [a for a in (arguments.vararg, arguments.kwarg) if a is not None])
            yield from (a.annotation for a in every if a.annotation is not None)
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _has_bitor(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.BitOr)
               for sub in ast.walk(node))


def _future_annotations(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(alias.name == "annotations" for alias in node.names)
               for node in tree.body)


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_union_annotations_are_never_evaluated(path: Path) -> None:
    tree = tree_of(path)
    uses = [node.lineno for node in _annotations(tree) if _has_bitor(node)]
    if uses:
        assert _future_annotations(tree), (
            f"{rel(path)} writes X | Y annotations (lines {uses}) without "
            "`from __future__ import annotations`: a TypeError at import on 3.9")


def _typelike(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Name):
        return node.id in TYPE_NAMES
    if isinstance(node, ast.Subscript):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _typelike(node.left) or _typelike(node.right)
    return False


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_no_runtime_union_types(path: Path) -> None:
    # Outside annotations (aliases, isinstance), ``int | None`` runs even with the future import.
    tree = tree_of(path)
    in_annotations = {id(sub) for node in _annotations(tree) for sub in ast.walk(node)}
    found = [node.lineno for node in ast.walk(tree)
             if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr)
             and id(node) not in in_annotations
             and (_typelike(node.left) or _typelike(node.right))]
    assert found == [], f"{rel(path)}: runtime X | Y type union on 3.9"


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_no_typing_names_newer_than_39(path: Path) -> None:
    found = [(node.lineno, alias.name) for node in ast.walk(tree_of(path))
             if isinstance(node, ast.ImportFrom) and node.module == "typing"
             for alias in node.names if alias.name in NEWER_THAN_39_TYPING]
    assert found == []


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_no_keywords_newer_than_39(path: Path) -> None:
    found: List[Tuple[int, str]] = []
    for node in ast.walk(tree_of(path)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        found += [(node.lineno, f"{called}({kw.arg}=)") for kw in node.keywords
                  if (called, kw.arg) in NEWER_THAN_39_KEYWORDS]
    assert found == []


# -- the rule checkers themselves catch what they are for ------------------------------------------

def _check_source(tmp_path: Path, source: str) -> ast.Module:
    path = tmp_path / "sample.py"
    path.write_text(textwrap.dedent(source))
    return tree_of(path)


def test_checkers_catch_violations(tmp_path: Path) -> None:
    tree = _check_source(tmp_path, """
        Alias = int | None
        def f(x: str | None) -> None: ...
    """)
    assert any(_has_bitor(node) for node in _annotations(tree))
    assert not _future_annotations(tree)
    alias = tree.body[0]
    assert isinstance(alias, ast.Assign) and _typelike(alias.value)
    flags = _check_source(tmp_path, "mask = fcntl.LOCK_EX | fcntl.LOCK_NB\n").body[0]
    assert isinstance(flags, ast.Assign) and not _typelike(flags.value)
    if sys.version_info >= (3, 10):
        with pytest.raises(SyntaxError):
            ast.parse("match x:\n    case 1:\n        pass\n", feature_version=(3, 9))


# -- 3. never repro ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_never_imports_repro(path: Path) -> None:
    bad = [(line, name) for line, name in imports(path)
           if name.split(".")[0] in ("repro", "<outside>", "tests")]
    bad += [(line, prefix or "?") for line, prefix in dynamic_imports(path)
            if prefix is None or prefix.startswith("repro")]
    assert bad == [], f"{rel(path)} reaches outside the runtime package"


def test_importing_sdkboot_does_not_load_repro() -> None:
    code = textwrap.dedent(f"""
        import pkgutil, sys
        sys.path.insert(0, {str(REPO)!r})
        import sdkboot, sdkboot.cli
        for info in pkgutil.walk_packages(sdkboot.__path__, "sdkboot."):
            if not info.name.endswith("__main__"):  # that one runs the CLI
                __import__(info.name)
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("repro", "tests")))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip().splitlines()[-1] == "[]"
