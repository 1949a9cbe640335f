"""The package's layout is its architecture: load time (language), per event (runtime), and the
edges (cli, delivery, engines, studio). These tests keep the imports honest to that picture."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "transformer"
EDGES = ("transformer.cli", "transformer.delivery", "transformer.engines", "transformer.studio")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The transformer modules ``path`` imports (``from . import x`` counts as module x when x is one)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if not base.startswith("transformer"):
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("transformer"))
    return found - {name}


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_no_import_cycle_between_modules() -> None:
    graph = {name: {m for m in _imports(path, top_level_only=True) if m in MODULES} for name, path in MODULES.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle.extend([*stack[stack.index(nxt):], node, nxt] if nxt in stack else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*stack, node]):
                return True
        state[node] = 2
        return False

    for name in sorted(graph):
        if state.get(name) is None and visit(name, []):
            break
    assert not cycle, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("layer", ["transformer.language", "transformer.runtime"])
def test_load_time_and_per_event_code_never_import_the_edges(layer: str) -> None:
    for name, path in MODULES.items():
        if name == layer or name.startswith(layer + "."):
            wrong = sorted(m for m in _imports(path, top_level_only=False) if m.startswith(EDGES))
            assert not wrong, f"{name} imports {wrong}: the core must not depend on the edges"


def test_importing_the_core_imports_no_optional_extra() -> None:
    code = ("import sys, transformer; transformer.load('kustomer'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'urllib3', 'apache_beam', 'pyspark', 'rich', 'tqdm', 'prometheus_client', 'starlette', 'uvicorn'} "
            "or m.startswith(('transformer.cli', 'transformer.delivery', 'transformer.engines', 'transformer.studio'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
