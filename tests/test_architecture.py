"""The house rules of DESIGN.md, enforced."""

import ast
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import core

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_core_never_imports_streamlit():
    """Every core module imports with streamlit made unimportable: all features work headless."""
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.") if not m.name.endswith("__main__")]
    assert len(names) >= 5
    result = _run(
        f"""
        import importlib, sys
        sys.modules["streamlit"] = None  # any `import streamlit` now raises ImportError
        failed = []
        for name in {names!r}:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                failed.append(f"{{name}}: {{exc}}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_app_start_does_not_import_torch():
    """Starting the lab (importing app and rendering home) must not pay torch's ~5 s import."""
    result = _run(
        """
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file("app.py", default_timeout=60).run()
        assert not at.exception, at.exception
        heavy = sorted(m for m in ("torch", "sentence_transformers", "setfit", "transformers") if m in sys.modules)
        print(heavy)
        sys.exit(1 if heavy else 0)
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    assert "datasets" in result.stdout


# --- the import graph: imports point down only ---------------------------------------------------------
#
# Every `import` / `from … import` statement in core counts, wherever it stands (module level,
# inside a function, under `if TYPE_CHECKING:`): a lazy import hides a cycle from Python, not
# from the design. Plug-in discovery by name (importlib.import_module("core.…")) is no
# statement and so no edge: core/backends/__init__.py finds its plug-ins that way.

CORE = ROOT / "core"


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _core_modules() -> dict[str, "Path"]:
    return {_module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def _imports(path, name: str, known) -> list[tuple[str, int]]:
    """(imported core module, line) for every import statement in a file, relative forms resolved."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:  # `from core.x import y`: the module core.x.y if it is one, else core.x
                sub = f"{mod}.{a.name}"
                out.append((sub if sub in known else mod, node.lineno))
    return [(m, line) for m, line in out if m in known and m != name]


def _graph() -> dict[str, dict[str, str]]:
    """module -> {imported module: 'file:line' of the first such import}."""
    known = _core_modules()
    graph: dict[str, dict[str, str]] = {}
    for name, path in known.items():
        edges = graph.setdefault(name, {})
        for target, line in _imports(path, name, known):
            edges.setdefault(target, f"{path.relative_to(ROOT)}:{line}")
    return graph


def _package(module: str) -> str:
    """The room a module lives in: core.<package> for a subpackage, the module itself at core's root."""
    parts = module.split(".")
    if len(parts) == 1:
        return module
    top = ".".join(parts[:2])
    return top if (CORE / parts[1]).is_dir() else module


def _cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one node (Tarjan), as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for comp in comps:  # a shortest way back to the start, inside the component (breadth first)
        start = min(comp)
        prev: dict[str, str] = {}
        frontier, end = [start], None
        while frontier and end is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w not in comp:
                        continue
                    if w == start:
                        end = v
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if end is not None:
                    break
            frontier = nxt
        path = [end]
        while path[-1] != start:
            path.append(prev[path[-1]])
        cycles.append([*reversed(path), start])
    return cycles


def _describe(cycle: list[str], graph: dict[str, dict[str, str]]) -> str:
    return "  " + " -> ".join(cycle) + "\n" + "\n".join(
        f"      {a} -> {b}  ({graph[a][b]})" for a, b in zip(cycle, cycle[1:]))


def test_no_import_cycle_between_core_modules():
    """No file imports (even inside a function) a file that imports it back, however indirectly."""
    graph = _graph()
    assert len(graph) > 30
    cycles = _cycles(graph)
    assert not cycles, "import cycles between core modules:\n" + "\n".join(_describe(c, graph) for c in cycles)


def test_no_import_cycle_between_core_packages():
    """core's packages (data, prompts, evaluation, …; a root module such as core/store.py is its own
    node) import one another one way only: a module used by a lower package does not live in a higher one."""
    modules = _graph()
    graph: dict[str, dict[str, str]] = {}
    for a, edges in modules.items():
        for b, where in edges.items():
            pa, pb = _package(a), _package(b)
            if pa != pb:
                graph.setdefault(pa, {}).setdefault(pb, f"{a} -> {b} at {where}")
            graph.setdefault(pb, {})
    assert {"core.data", "core.evaluation", "core.store"} <= set(graph)
    cycles = _cycles(graph)
    assert not cycles, "import cycles between core packages:\n" + "\n".join(_describe(c, graph) for c in cycles)


def _page_offences(path) -> list[str]:
    """Private names a page reaches into: `from core… import _x`, or `alias._x` on an imported core/pages module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = path.relative_to(ROOT)
    modules: set[str] = set()  # local names bound to core / pages modules
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("core", "pages"):
            for a in node.names:
                # pages/_shared.py, pages/_catalog_editor.py …: page helpers are named with "_" only so that
                # Streamlit lists no page for them; importing one is fine, reaching into its private names is not.
                if a.name.startswith("_") and node.module != "pages":
                    out.append(f"{where}:{node.lineno}: from {node.module} import {a.name}")
                else:
                    modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ("core", "pages"):
                    modules.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in modules):
            out.append(f"{where}:{node.lineno}: {node.value.id}.{node.attr}")
    return out


def test_pages_use_only_public_names():
    """Pages call core (and pages/_shared.py) through public names only: a private name may change any day."""
    files = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
    offences = [o for f in files for o in _page_offences(f)]
    assert not offences, "pages reaching into private names:\n  " + "\n  ".join(offences)
