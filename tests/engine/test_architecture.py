"""The layering rules, read from the source with ``ast`` (every import counts, function-level ones
included):

* ``engine/`` never imports streamlit;
* ``engine/store`` imports no capability, and ``engine/audit`` imports none either;
* no import cycle between the engine's packages;
* pages and dashboard hold no SQL and reach the engine only through workflows;
* public functions with more than two parameters take them keyword-only after the first.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"
CAPABILITIES = {"credit", "ingest", "mlrisk", "market", "live", "api"}


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _node(module: str) -> str | None:
    """The engine package a module belongs to (``engine.credit._runner`` -> ``credit``), or the
    top-level module's own name (``engine.errors`` -> ``errors``)."""
    parts = module.split(".")
    if parts[0] != "engine" or len(parts) < 2:
        return None
    return parts[1]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _modules(ENGINE):
        rel = path.relative_to(ROOT).with_suffix("").parts
        if len(rel) < 2 or rel[1] == "__init__":
            continue
        src = rel[1]
        if src == "cli":  # the command registry loads every capability's cli by name
            continue
        for imported in _imports(path):
            dst = _node(imported)
            if dst and dst != src and ((ENGINE / dst).is_dir() or (ENGINE / f"{dst}.py").exists()):
                graph.setdefault(src, set()).add(dst)
    return graph


def test_engine_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in _modules(ENGINE)
                 if any(m == "streamlit" or m.startswith("streamlit.") for m in _imports(p))]
    assert offenders == []


@pytest.mark.parametrize("package", ["store", "audit"])
def test_lower_layers_import_no_capability(package):
    graph = _graph()
    assert graph.get(package, set()) & CAPABILITIES == set(), graph.get(package)


def test_no_package_cycles():
    graph = _graph()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < 12:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == [], f"package import cycles: {sorted({' -> '.join(c) for c in cycles})}"


def test_the_graph_sees_real_edges():
    """Guards the tests above: the graph must hold edges we know exist."""
    graph = _graph()
    assert "ingest" in graph["credit"] and "store" in graph["credit"]
    assert "audit" in graph["market"] and "audit" in graph["mlrisk"]


FRONT = [ROOT / "pages", ROOT / "dashboard"]
SQL = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b",
                 re.IGNORECASE)
#: What a page or dashboard module may import from the engine: workflows, models, errors,
#: and pure helpers; never a storage module, the store's SQL or the audit chain.
FORBIDDEN = re.compile(r"^engine\.(store\._|[a-z_]+\._store|market\.records|audit\.chain|"
                       r"audit\.runs)|^duckdb")


def test_front_ends_hold_no_sql_and_no_storage_imports():
    offenders = []
    for path in [p for f in FRONT for p in _modules(f)]:
        rel = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value) \
                    and re.search(r"\b(FROM|INTO|SET|TABLE)\b", node.value, re.IGNORECASE) \
                    and node.value.upper() != node.value.lower() and len(node.value) < 400 \
                    and re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|WITH)\b", node.value, re.IGNORECASE):
                offenders.append(f"{rel}:{node.lineno} SQL {node.value[:60]!r}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("execute", "executemany", "sql"):
                offenders.append(f"{rel}:{node.lineno} .{node.func.attr}()")
        for imported in _imports(path):
            if FORBIDDEN.match(imported):
                offenders.append(f"{rel} imports {imported}")
    assert offenders == []


def _signature_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    out = []

    def check(fn: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool, owner: str = "") -> None:
        if fn.name.startswith("_"):
            return
        if any(isinstance(d, ast.Name) and d.id in ("field_validator", "model_validator")
               or isinstance(d, ast.Call) and getattr(d.func, "id", "") in ("field_validator", "model_validator")
               for d in fn.decorator_list):
            return
        positional = [*fn.args.posonlyargs, *fn.args.args]
        if method and positional and positional[0].arg in ("self", "cls"):
            positional = positional[1:]
        total = len(positional) + len(fn.args.kwonlyargs)
        if total > 2 and len(positional) > 1:
            out.append(f"{rel}:{fn.lineno} {owner}{fn.name}({', '.join(a.arg for a in positional)}, …)")

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            check(node, method=False)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    check(item, method=True, owner=f"{node.name}.")
    return out


def test_functions_with_more_than_two_parameters_are_keyword_only_after_the_first():
    problems = [p for path in _modules(ENGINE) for p in _signature_problems(path)]
    assert problems == [], "\n".join(problems)


def test_signature_check_finds_a_positional_function(tmp_path):
    """Guards the test above on a known offender."""
    probe = tmp_path / "probe.py"
    probe.write_text("def kupiec(exceptions, observations, confidence):\n    pass\n"
                     "def fine(a, *, b, c):\n    pass\n"
                     "class Model:\n    def put(self, key, payload):\n        pass\n",
                     encoding="utf-8")
    assert [p.split(" ", 1)[1] for p in _signature_problems(probe)] == [
        "kupiec(exceptions, observations, confidence, …)"]
