"""Dependencies point one way: bench -> the project (newsroom: settings, URLs,
site-wide commands) -> apps -> shared packages. These tests read the imports of
every module, so a new one that points back fails here rather than in review."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["articles", "comments", "newsletter"]
SHARED = ["mailing", "publicpages", "ratelimit", "safetext"]
PRODUCT_PACKAGES = [*APPS, *SHARED, "newsroom"]


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


@pytest.mark.parametrize("package", SHARED)
def test_shared_packages_import_no_app_and_not_the_project(package):
    forbidden = {*APPS, "newsroom"}
    offenders = {
        module: names & forbidden
        for module, names in imported_packages(package).items()
        if names & forbidden
    }
    assert offenders == {}


@pytest.mark.parametrize("package", APPS)
def test_apps_never_import_the_project(package):
    offenders = [
        module
        for module, names in imported_packages(package).items()
        if "newsroom" in names and "/migrations/" not in module
    ]
    assert offenders == []
