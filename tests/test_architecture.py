"""STYLE §1: one stage per module, imports pointing backwards only; outlets never touch YAML or feedgen."""

from __future__ import annotations

import ast

import pytest

from .conftest import PROJECT

# Each module and the stage it belongs to; a module may import only modules of earlier stages
# (or, where listed, its own helpers of the same stage).
STAGES = [
    {"model", "formats"},
    {"text", "safe_yaml", "dates"},
    {"config"},
    {"article_fields"},
    {"reader"},
    {"load", "watch"},
    {"catalog"},
    {"writer"},
    {"xmlfeed", "jsonfeed"},
    {"rss", "atom"},
    {"render"},
    {"site", "signature"},
    {"websub"},
    {"cdn", "live"},
    {"bulk"},
    {"export", "web"},
    {"serve"},
    {"cli"},
]
SAME_STAGE_ALLOWED = {("signature", "site")}
RANK = {module: rank for rank, stage in enumerate(STAGES) for module in stage}
OUTLETS = ("web", "export", "bulk", "cdn", "live", "serve", "cli", "websub", "site", "render", "writer", "jsonfeed")


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(project modules imported, third-party top-level packages imported)."""
    tree = ast.parse((PROJECT / "feeds" / f"{module}.py").read_text(encoding="utf-8"))
    ours, theirs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "feeds":
                ours |= {alias.name for alias in node.names if alias.name in RANK}
            elif node.module.startswith("feeds."):
                ours.add(node.module.split(".")[1])
            else:
                theirs.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("feeds."):
                    ours.add(alias.name.split(".")[1])
                else:
                    theirs.add(alias.name.split(".")[0])
    return ours, theirs


def test_every_module_has_a_stage() -> None:
    modules = {p.stem for p in (PROJECT / "feeds").glob("*.py") if p.stem != "__init__"}
    assert modules == set(RANK)


@pytest.mark.parametrize("module", sorted(RANK))
def test_imports_point_backwards(module: str) -> None:
    ours, _ = _imports(module)
    forward = {
        other for other in ours if RANK[other] >= RANK[module] and (module, other) not in SAME_STAGE_ALLOWED
    } - {module}
    assert not forward, f"{module} imports later stages: {sorted(forward)}"


@pytest.mark.parametrize("module", OUTLETS)
def test_outlets_never_parse_yaml_or_call_feedgen(module: str) -> None:
    _, theirs = _imports(module)
    assert not theirs & {"yaml", "feedgen", "lxml"}, theirs
