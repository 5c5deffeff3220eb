"""Dependencies point one way: bench -> apps -> shared. These tests read the
imports of every module, so a new one that points back fails here rather than in
review."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ["articles", "comments", "newsletter", "newsroom", "ratelimit"]


def imported_packages(package: str) -> dict[str, set[str]]:
    """The top-level packages each module of `package` imports, by module path."""
    imports = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        imports[str(path.relative_to(ROOT))] = names
    return imports


def test_articles_imports_neither_comments_nor_newsletter():
    offenders = {
        module: names & {"comments", "newsletter"}
        for module, names in imported_packages("articles").items()
        if names & {"comments", "newsletter"}
    }
    assert offenders == {}


@pytest.mark.parametrize("package", PRODUCT_PACKAGES)
def test_product_code_never_imports_the_benchmark(package):
    offenders = [
        module
        for module, names in imported_packages(package).items()
        if "bench" in names
    ]
    assert offenders == []


def test_the_rate_limiter_imports_no_app():
    apps = {"articles", "comments", "newsletter"}
    offenders = {
        module: names & apps
        for module, names in imported_packages("ratelimit").items()
        if names & apps
    }
    assert offenders == {}
