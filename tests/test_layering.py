"""The package's structure, asserted: three products with imports pointing one
way (core <- training, core <- evaluation, never back, and the two products
never import each other), a layered core, and no import cycle anywhere.

Imports are read from the source (ast), so a function-local import counts as
much as a top-level one; imports under ``if TYPE_CHECKING:`` are annotations
only and are ignored. The layer table is the one docs/ARCHITECTURE.md shows.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "codec"

# Core layers, lowest first: a module may import its own layer or lower ones.
CORE_LAYERS = (
    ("leaves", {"version", "errors", "limits", "metrics", "quantize", "compressai_parts", "models.integer",
                "precision"}),
    ("channel simulation", {"channel", "channel.*"}),
    ("format and coding", {"fsio", "container", "image", "rangecoder", "entropy", "scaletable"}),
    ("models", {"models", "models.*", "refine"}),
    ("checkpoints", {"checkpoint_schema", "checkpoint", "shipped", "filecheck"}),
    ("api", {"api"}),
    ("command line", {"", "commandline", "cli"}),   # "" is codec/__init__
)
PRODUCTS = ("training", "evaluation")


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_name(p): p for p in ROOT.rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def imports_of(name: str) -> set[str]:
    """Package modules (names relative to codec) that module ``name`` imports."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    pkg = [p for p in pkg if p]
    out = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif node.module and (node.module == "codec" or node.module.startswith("codec.")):
                mod = node.module[len("codec."):] if node.module != "codec" else ""
            else:
                continue
            for a in node.names:
                full = f"{mod}.{a.name}" if mod else a.name
                out.add(full if full in MODULES else mod)
        elif isinstance(node, ast.Import):
            out.update(a.name[len("codec."):] for a in node.names if a.name.startswith("codec."))
    return out - {name}


def layer_of(name: str) -> int:
    for i, (_, members) in enumerate(CORE_LAYERS):
        for m in members:
            if name == m or (m.endswith(".*") and name.startswith(m[:-1])):
                return i
    raise AssertionError(f"core module codec.{name} is in no layer of CORE_LAYERS (add it there and in "
                         "docs/ARCHITECTURE.md)")


def product_of(name: str) -> str | None:
    head = name.split(".")[0]
    return head if head in PRODUCTS else None


def test_the_import_reader_sees_relative_absolute_and_local_imports():
    assert "api" in imports_of("")                       # codec/__init__: from .api import ...
    assert "shipped" in imports_of("api")                # from . import ..., shipped
    assert "training.train" in imports_of("training.cli")  # a function-local import
    assert "training.config" in imports_of("training.schedule")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if product_of(n) is None))
def test_core_module_imports_no_product_and_no_higher_layer(name):
    mine = layer_of(name)
    for dep in imports_of(name):
        assert product_of(dep) is None, f"core module codec.{name} imports product module codec.{dep}"
        assert layer_of(dep) <= mine, (f"codec.{name} ({CORE_LAYERS[mine][0]}) imports codec.{dep} "
                                       f"({CORE_LAYERS[layer_of(dep)][0]}), a higher layer")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if product_of(n)))
def test_products_import_the_core_or_themselves_only(name):
    for dep in imports_of(name):
        other = product_of(dep)
        assert other in (None, product_of(name)), f"codec.{name} imports codec.{dep}: products stay apart"


def test_no_import_cycle():
    graph = {n: imports_of(n) & set(MODULES) for n in MODULES}
    state: dict[str, int] = {}

    def visit(n, path):
        if state.get(n) == 1:
            raise AssertionError("import cycle: " + " -> ".join(f"codec.{m}" for m in path + [n]))
        if state.get(n) == 2:
            return
        state[n] = 1
        for d in sorted(graph[n]):
            visit(d, path + [n])
        state[n] = 2

    for n in sorted(graph):
        visit(n, [])


def test_the_file_format_module_needs_no_torch():
    tree = ast.parse(MODULES["container"].read_text())
    names = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
             for a in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert "torch" not in names and "numpy" not in names


def test_version_is_a_leaf():
    assert imports_of("version") == set()
