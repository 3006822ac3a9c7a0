"""The package's layering: no import cycles, and core modules never import front ends.

Every ``import`` in every module counts, at module level or inside a function (a lazy import
is still a dependency); imports under ``if TYPE_CHECKING:`` are not run and do not count.
``from . import name`` is an edge to the submodule ``name`` when
there is one, else to the package itself (so a package's module importing its own
``__init__`` back is a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nircolor

CORE = (
    "io",
    "data",
    "metrics",
    "colorspace",
    "filters",
    "models",
    "nets",
    "tiling",
    "streamed",
    "api",
)
FRONT_ENDS = ("cli", "serve", "report", "batch", "cluster", "video")


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file under the package folder ``root``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join([package, *parts])] = path
    return modules


def runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *runtime_nodes(child)])
            continue
        yield node
        yield from runtime_nodes(node)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the package's modules it imports."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        base = name if is_package else name.rpartition(".")[0]
        for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    origin = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                targets = [
                    f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # nircolor.io.images.read_nir → module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return path[path.index(child) :] + [child]
            if child not in state and (cycle := visit(child)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer_violations(graph: dict[str, set[str]], package: str) -> list[str]:
    def layer(module: str) -> str:
        return module.removeprefix(package + ".").split(".")[0]

    return [
        f"{module} imports {target}"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer(module) in CORE and layer(target) in FRONT_ENDS
    ]


PACKAGE_ROOT = Path(nircolor.__file__).parent


def test_no_import_cycles():
    assert find_cycle(import_graph(PACKAGE_ROOT, "nircolor")) is None


def test_core_modules_never_import_front_ends():
    assert layer_violations(import_graph(PACKAGE_ROOT, "nircolor"), "nircolor") == []


def test_the_graph_sees_the_real_imports():
    graph = import_graph(PACKAGE_ROOT, "nircolor")
    assert "nircolor.api" in graph["nircolor.cli"] or any(
        "nircolor.api" in graph[m] for m in graph if m.startswith("nircolor.cli")
    )
    assert "nircolor.io.images" in graph["nircolor.io"]
    assert "nircolor.jobs" in graph["nircolor.batch"]


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        ({"__init__.py": "", "a.py": "from . import b\n", "b.py": "import pkg.a\n"}, True),
        (  # a package importing its module that imports the package back
            {"__init__.py": "from .a import f\n", "a.py": "def f():\n    from . import g\n"},
            True,
        ),
        ({"__init__.py": "", "sub/__init__.py": "", "sub/x.py": "from ..a import f\n"}, False),
        ({"__init__.py": "from .a import f\n", "a.py": "from .b import g\n", "b.py": ""}, False),
        (  # a type-only import back is no cycle
            {
                "__init__.py": "",
                "a.py": "from .b import g\n",
                "b.py": "import typing\nif TYPE_CHECKING:\n    from .a import f\n",
            },
            False,
        ),
    ],
)
def test_find_cycle_on_small_packages(tmp_path, files, cycle):
    files = {"a.py": "def f(): pass\n", **files} if "a.py" not in files else files
    graph = import_graph(_write(tmp_path, files), "pkg")
    assert (find_cycle(graph) is not None) == cycle


def test_layer_violations_on_a_small_package(tmp_path):
    root = _write(
        tmp_path,
        {"__init__.py": "", "api.py": "def f():\n    from .cli import main\n", "cli.py": ""},
    )
    assert layer_violations(import_graph(root, "pkg"), "pkg") == ["pkg.api imports pkg.cli"]
