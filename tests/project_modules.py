"""The package's modules by dotted name under ``feeds`` ("model", "read.reader") and what each imports.

Shared by the tests that check the layout (test_architecture), the foundation modules' imports
(test_model) and the reader's own modules (test_parsecache), so all three read imports one way.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import PROJECT

FEEDS = PROJECT / "feeds"


def all_modules() -> set[str]:
    """Every module of the package but the ``__init__`` files, by dotted name under ``feeds``."""
    return {
        ".".join(path.relative_to(FEEDS).with_suffix("").parts)
        for path in FEEDS.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    }


def module_path(module: str) -> Path:
    return FEEDS.joinpath(*module.split(".")).with_suffix(".py")


def module_tree(module: str) -> ast.Module:
    return ast.parse(module_path(module).read_text(encoding="utf-8"))


def _resolve(dotted: str) -> str | None:
    """``feeds.read.reader`` → "read.reader"; a package or ``feeds`` itself → None."""
    parts = dotted.split(".")[1:]
    return ".".join(parts) if parts and module_path(".".join(parts)).exists() else None


def imports(module: str) -> tuple[set[str], set[str]]:
    """(the package's modules imported, third-party or standard top-level packages imported)."""
    ours, theirs = set(), set()
    for node in ast.walk(module_tree(module)):
        if isinstance(node, ast.ImportFrom) and node.level:  # from ..server import web: resolved, so it is seen
            package = ["feeds", *module.split(".")[:-1]]
            base = package[: len(package) - node.level + 1] + ([node.module] if node.module else [])
            node = ast.ImportFrom(".".join(base), node.names, 0)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "feeds":
            found = _resolve(node.module)
            if found:  # from feeds.read.reader import read_folder
                ours.add(found)
            else:  # from feeds.read import reader, load / from feeds import __version__
                ours |= {name for alias in node.names if (name := _resolve(f"{node.module}.{alias.name}"))}
        elif isinstance(node, ast.ImportFrom) and node.module:
            theirs.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "feeds":
                    ours |= {found} if (found := _resolve(alias.name)) else set()
                else:
                    theirs.add(alias.name.split(".")[0])
    return ours, theirs
