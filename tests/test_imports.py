"""The import graph of fempde, particles and meshes: no cycles, and the layers go one way.

The graph is built from the source with :mod:`ast`, every import counted —
at module level, inside functions (a lazy import hides a cycle, it does not
remove it) and under ``TYPE_CHECKING``. A module that imports a name from a
package depends on the submodule of that name when there is one, else on
the package's ``__init__``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fempde", "particles", "meshes")


def modules(root=ROOT):
    """``{dotted name: (path, is_package)}`` of every module of the packages."""
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imports_of(name, source, is_package, known):
    """The modules of ``known`` that module ``name`` (its ``source``) imports."""
    package = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                targets.add(submodule if submodule in known else module)
    edges = set()
    for target in targets:
        while target and target not in known:  # numpy.linalg -> numpy (not ours); fempde.fem.space.Space -> ...
            target = target.rpartition(".")[0]
        if target and target != name:
            edges.add(target)
    return edges


def import_graph(root=ROOT):
    known = modules(root)
    return {name: imports_of(name, path.read_text(), is_package, known) for name, (path, is_package) in known.items()}


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_the_packages(graph):
    assert {"fempde", "fempde.solvers.stepping", "particles.crosscheck", "meshes.generators"} <= set(graph)
    assert "fempde.solvers.stepping" in graph["fempde.solvers.loop"]
    assert "particles.crosscheck.study" in graph["particles.crosscheck"]
    assert "fempde.model" in graph["particles.crosscheck.study"]  # from fempde.model import Limit: its __init__


def test_there_is_no_import_cycle(graph):
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_cycle():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(planted) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_cycle_finder_reads_lazy_and_type_checking_imports(tmp_path):
    (tmp_path / "fempde" / "x").mkdir(parents=True)
    (tmp_path / "particles").mkdir()
    (tmp_path / "meshes").mkdir()
    for package in ("fempde", "fempde/x", "particles", "meshes"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "fempde" / "x" / "a.py").write_text("from typing import TYPE_CHECKING\n"
                                                    "if TYPE_CHECKING:\n    from .b import B\n")
    (tmp_path / "fempde" / "x" / "b.py").write_text("def f():\n    from . import a\n")
    assert cycles(import_graph(tmp_path)) == [["fempde.x.a", "fempde.x.b"]]


def _imports_from(graph, layer, other):
    return sorted((name, target) for name, targets in graph.items() if name.startswith(layer + ".")
                  for target in targets if target == other or target.startswith(other + "."))


def test_solvers_import_nothing_from_problems(graph):
    assert _imports_from(graph, "fempde.solvers", "fempde.problems") == []


def test_problems_import_nothing_from_solvers(graph):
    assert _imports_from(graph, "fempde.problems", "fempde.solvers") == []


def test_fempde_never_imports_particles(graph):
    assert _imports_from(graph, "fempde", "particles") == []
    assert "particles" not in graph["fempde"]
