"""The shape of the code: no import circle, arrows only down the layers, small functions, and
a README whose layout section names the folders that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "redact"
MAX_LINES = 60
# Lower layers know nothing of higher ones (../shared/ARCHITECTURE.md); a folder may import
# its own layer's folders, without a circle.
LAYERS = {"errors": 0, "io": 1, "models": 1, "config": 1, "detect": 2, "track": 2, "speech": 2,
          "plan": 3, "render": 3, "audit": 3, "batch": 4, "review": 4, "cli": 5}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every redact module ``path`` imports, lazy (inside functions) and TYPE_CHECKING ones
    included: a circle through a lazy import is still a circle."""
    out: set[str] = set()
    here = module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                pkg = here.split(".")[: -node.level] if path.name != "__init__.py" else \
                    here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*pkg, node.module])
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != here and name != "redact":
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    return {name: imports_of(path, set(files)) for name, path in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    assert cycles(graph()) == []


def _folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_arrows_point_down_the_layers():
    wrong = []
    for module, deps in graph().items():
        mine = _folder(module)
        if mine not in LAYERS:
            continue  # the package's own lazy re-exports
        for dep in deps:
            theirs = _folder(dep)
            if theirs in LAYERS and LAYERS[theirs] > LAYERS[mine]:
                wrong.append(f"{module} -> {dep}")
    assert wrong == []


def long_functions(root: Path = PKG) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_LINES:
                    out.append(f"{path.relative_to(root)}:{node.lineno} {node.name} {length}")
    return out


def test_the_length_check_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n")
    assert [line.split()[-2:] for line in long_functions(tmp_path)] == \
        [["f", str(MAX_LINES + 1)]]


def test_no_function_over_60_lines():
    assert long_functions() == []


def test_readme_layout_names_the_folders():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Code layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`redact/(\w+)/`", section))
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert named == folders
