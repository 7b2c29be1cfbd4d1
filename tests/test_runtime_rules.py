"""Rules the runtime package must keep that no other tool checks.

1. Standard library only: sdkboot runs before any dependency exists. Neither ruff nor mypy
   knows which imports are allowed, and an extra package installed in the test env would let
   the py39 run pass too.
2. Python 3.9: what ruff (``target-version = "py39"``: 3.10+ syntax is invalid-syntax, and
   FA102 flags an ``X | Y`` annotation without the future import) and the py39 tox run (which
   imports every module here, see test_every_module_imports_and_loads_no_foreign_package)
   already catch is not repeated. Left: what only fails on 3.9 when that very line runs, such
   as ``isinstance(x, int | None)`` or ``zip(strict=True)`` inside a function.
3. sdkboot never imports ``repro`` or ``tests`` (dev-only packages).

Each rule is one test listing every offender, not one test per module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "sdkboot"
SOURCES = sorted(PACKAGE.rglob("*.py"))

needs_stdlib_names = pytest.mark.skipif(
    sys.version_info < (3, 10), reason="sys.stdlib_module_names is new in Python 3.10"
)

# Standard-library modules that do not exist on 3.9, the oldest supported host.
NEWER_THAN_39_MODULES = {"tomllib"}
NEWER_THAN_39_KEYWORDS = {("dataclass", "slots"), ("dataclass", "kw_only"), ("zip", "strict"), ("field", "kw_only")}
TYPE_NAMES = {
    "int",
    "str",
    "bytes",
    "float",
    "bool",
    "complex",
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "type",
    "object",
    "None",
    "Any",
    "Optional",
    "Union",
    "List",
    "Dict",
    "Tuple",
    "Set",
    "FrozenSet",
    "Sequence",
    "Mapping",
    "Callable",
    "Iterable",
    "Iterator",
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


def imports(path: Path) -> Iterator[tuple[int, str]]:
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


def dynamic_imports(path: Path) -> Iterator[tuple[int, str | None]]:
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
        elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
            yield node.lineno, str(arg.values[0].value)
        else:
            yield node.lineno, None


def test_the_package_is_where_the_rules_look() -> None:
    names = {rel(path) for path in SOURCES}
    assert {"sdkboot/__init__.py", "sdkboot/ensure.py", "sdkboot/cli.py"} <= names
    assert any(name.startswith("sdkboot/commands/") for name in names)


# -- 1. standard library only ----------------------------------------------------------------


@needs_stdlib_names
def test_every_import_statement_names_the_standard_library_or_sdkboot() -> None:
    allowed = set(sys.stdlib_module_names) - NEWER_THAN_39_MODULES
    bad = [
        (rel(path), line, name)
        for path in SOURCES
        for line, name in imports(path)
        if name.split(".")[0] not in allowed and name.split(".")[0] != "sdkboot"
    ]
    assert bad == []


def test_dynamic_imports_stay_inside_sdkboot() -> None:
    bad = [
        (rel(path), line, prefix)
        for path in SOURCES
        for line, prefix in dynamic_imports(path)
        if prefix is None or not prefix.startswith("sdkboot.")
    ]
    assert bad == [], "a module imported by a name the rules cannot vouch for"


def _import_everything() -> list[str]:
    """In a fresh interpreter: what importing every sdkboot module adds to sys.modules. On the
    py39 tox run this is also what proves that every module imports on 3.9."""
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
    loaded: list[str] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert "sdkboot.ensure" in loaded and "sdkboot.commands.run" in loaded  # the walk did import the package
    return loaded


def test_every_module_imports_and_loads_no_foreign_package() -> None:
    loaded = _import_everything()
    assert [name for name in loaded if name.split(".")[0] in ("repro", "tests")] == []
    if sys.version_info >= (3, 10):
        stdlib = set(sys.stdlib_module_names)
        assert [name for name in loaded if name.split(".")[0] not in stdlib | {"sdkboot"}] == []


# -- 2. Python 3.9: what only fails there when the line runs ---------------------------------------


def _annotations(tree: ast.Module) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            every = (
                arguments.posonlyargs
                + arguments.args
                + arguments.kwonlyargs
                + [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            )
            yield from (a.annotation for a in every if a.annotation is not None)
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _has_bitor(node: ast.AST) -> bool:
    return any(isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.BitOr) for sub in ast.walk(node))


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


def _runtime_unions(tree: ast.Module) -> list[int]:
    in_annotations = {id(sub) for node in _annotations(tree) for sub in ast.walk(node)}
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.BitOr)
        and id(node) not in in_annotations
        and (_typelike(node.left) or _typelike(node.right))
    ]


def test_no_runtime_union_types() -> None:
    # Outside annotations (aliases, isinstance), ``int | None`` runs even with the future import.
    found = [(rel(path), line) for path in SOURCES for line in _runtime_unions(tree_of(path))]
    assert found == [], "a runtime X | Y type union: a TypeError on 3.9"


def _newer_keywords(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        found += [
            (node.lineno, f"{called}({kw.arg}=)") for kw in node.keywords if (called, kw.arg) in NEWER_THAN_39_KEYWORDS
        ]
    return found


def test_no_keywords_newer_than_39() -> None:
    found = [(rel(path), *hit) for path in SOURCES for hit in _newer_keywords(tree_of(path))]
    assert found == []


# -- the rule checkers themselves catch what they are for ------------------------------------------


def _check_source(tmp_path: Path, source: str) -> ast.Module:
    path = tmp_path / "sample.py"
    path.write_text(textwrap.dedent(source))
    return tree_of(path)


def test_the_checkers_catch_what_they_are_for(tmp_path: Path) -> None:
    tree = _check_source(
        tmp_path,
        """
        Alias = int | None
        def f(x: str | None) -> None:
            isinstance(x, (int | None))
            return zip(x, x, strict=True)
    """,
    )
    assert _runtime_unions(tree) == [2, 4]
    assert _newer_keywords(tree) == [(5, "zip(strict=)")]
    flags = _check_source(tmp_path, "mask = fcntl.LOCK_EX | fcntl.LOCK_NB\n")
    assert _runtime_unions(flags) == []


# -- 3. never repro ----------------------------------------------------------------------------


def test_no_import_statement_reaches_repro_or_tests() -> None:
    bad = [
        (rel(path), line, name)
        for path in SOURCES
        for line, name in imports(path)
        if name.split(".")[0] in ("repro", "<outside>", "tests")
    ]
    bad += [
        (rel(path), line, prefix or "?")
        for path in SOURCES
        for line, prefix in dynamic_imports(path)
        if prefix is None or prefix.startswith("repro")
    ]
    assert bad == [], "the runtime reaches outside its package"
