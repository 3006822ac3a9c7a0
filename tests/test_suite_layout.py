"""The test suite's layout: shared helpers live in tests/helpers, no test module imports another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def imported_test_modules(source: str) -> list[str]:
    """The test modules (``test_*``) and ``conftest`` that ``source`` imports, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names = [base] if base else []
            if node.level and not base:  # ``from . import test_x``
                names = [alias.name for alias in node.names]
            elif base in ("tests",):  # ``from tests import test_x``
                names = [f"tests.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if any(part == "conftest" or part.startswith("test_") for part in parts):
                found.append(name)
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from .conftest import run_cli\n", ["conftest"]),
        ("from .test_nets import tiny_config\n", ["test_nets"]),
        ("from tests.test_fuzz import mutation_batch\n", ["tests.test_fuzz"]),
        ("import tests.test_serve\n", ["tests.test_serve"]),
        ("from . import test_cli\n", ["test_cli"]),
        ("from tests import conftest\n", ["tests.conftest"]),
        ("def f():\n    from .test_serve import x\n", ["test_serve"]),
        ("from .helpers.cli import run_cli\nfrom tests.helpers import requires\n", []),
        ("import numpy as np\nfrom nircolor.io import write_image\n", []),
    ],
)
def test_the_checker_finds_imports_of_test_modules(source, expected):
    assert imported_test_modules(source) == expected


@pytest.mark.parametrize("path", sorted(TESTS.glob("test_*.py")), ids=lambda p: p.name)
def test_no_test_module_imports_another_or_conftest(path):
    assert imported_test_modules(path.read_text()) == []


def test_helpers_import_no_test_module():
    for path in sorted((TESTS / "helpers").rglob("*.py")):
        assert imported_test_modules(path.read_text()) == [], path.name


def test_conftest_keeps_only_fixtures():
    tree = ast.parse((TESTS / "conftest.py").read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = [ast.unparse(d) for d in node.decorator_list]
            assert any(d.startswith("pytest.fixture") for d in decorators), node.name
        assert not isinstance(node, ast.ClassDef), node.name
