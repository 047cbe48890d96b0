"""The map of ``symgraph/rl`` stays honest: no import cycle between its modules (imports inside functions
count too: a cycle hidden in a function is still two modules that cannot be read one without the other)."""

import ast
from pathlib import Path

import networkx as nx

import symgraph.rl

PACKAGE = Path(symgraph.rl.__file__).parent
ROOT = PACKAGE.parents[1]


def _module_name(path, root):
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package=PACKAGE, root=ROOT):
    """Edges ``importer -> imported`` between the modules of ``package`` (``from package import module``
    points to the module, not to the package)."""
    modules = {_module_name(path, root): path for path in package.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            graph.add_edges_from((name, target) for target in targets if target in modules and target != name)
    return graph


def cycles(graph):
    """The import cycles of ``graph``, shortest first; a package's ``__init__`` re-exporting its own
    submodules is not counted (edges from a package to the modules under it)."""
    graph = graph.copy()
    graph.remove_edges_from([(a, b) for a, b in graph.edges if b.startswith(a + ".")])
    return sorted(nx.simple_cycles(graph), key=len)


def test_the_import_graph_covers_the_package():
    graph = import_graph()
    assert "symgraph.rl.learners.ppo" in graph and "symgraph.rl.driver.loop" in graph
    assert graph.has_edge("symgraph.rl.learners.ppo", "symgraph.rl.learners.on_policy")


def test_no_import_cycle_inside_symgraph_rl():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in found[:5])


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path):
    """The check can fail: ``a`` imports ``b`` at the top, ``b`` imports ``a`` inside a function."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg import a\n")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def f():\n    from pkg.a import g\n")
    assert [sorted(cycle) for cycle in cycles(import_graph(package, tmp_path))] == [["pkg.a", "pkg.b"]]
