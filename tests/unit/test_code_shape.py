"""The code stays small enough to read: no module over 300 lines, no function over 60."""

import ast

import pytest

from tests.helpers import REPO

PACKAGES = ("stages", "faceswap", "cloud", "bench", "review")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def modules():
    return sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(REPO)))
def test_module_and_function_sizes(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long
