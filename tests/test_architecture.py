"""STYLE §1: one stage per module, imports pointing backwards only; outlets never touch YAML or feedgen.

And the shape of every module: none over 450 lines, no ``global`` statement, no module-level
container that starts empty to be filled at run time (a cache or registry: state belongs to an
object whose lifetime is the run or the process; an ``lru_cache`` on a pure function is fine).
"""

from __future__ import annotations

import ast

import pytest

from .conftest import PROJECT

# Each module and the stage it belongs to; a module may import only modules of earlier stages
# (or, where listed, its own helpers of the same stage).
STAGES = [
    {"model", "formats", "cache_dir", "cache_files", "asgi_bridge", "site_paths"},
    {"text", "safe_yaml", "dates", "agents"},
    {"config"},
    {"article_fields"},
    {"reader"},
    {"parsecache"},
    {"load", "folder_scan", "watch"},
    {"stats_store"},
    {"stats_recorder", "stats_logs", "stats_report"},
    {"stats_html"},
    {"identity"},
    {"families"},
    {"filters"},
    {"filter_index", "configured"},
    {"catalog"},
    {"writer"},
    {"gzipped"},
    {"xmlfeed", "jsonfeed"},
    {"rss", "atom"},
    {"render"},
    {"page_layout"},
    {"feed_page"},
    {"index_page"},
    {"site", "signature"},
    {"responses"},
    {"websub"},
    {"cdn", "live"},
    {"bulk", "generation", "records", "publish_plan", "page_cache"},
    {"outdir"},
    {"export", "web", "s3_store", "purge"},
    {"exporter", "serve", "publish"},
    {"cli"},
]
SAME_STAGE_ALLOWED = {("signature", "site")}
RANK = {module: rank for rank, stage in enumerate(STAGES) for module in stage}
OUTLETS = (
    "web", "export", "exporter", "generation", "records", "outdir", "bulk", "cdn", "live", "serve", "cli", "websub",
    "site", "render", "writer", "jsonfeed", "page_layout", "feed_page", "index_page",
    "publish_plan", "s3_store", "purge", "publish",  # issue 17
    "agents", "stats_store", "stats_recorder", "stats_logs", "stats_report", "stats_html",
    "responses", "page_cache", "filters", "asgi_bridge",  # issue 16
)  # fmt: skip
MAX_LINES = 450
# Module-level containers that start empty, each with the reason it is not a cache of the process:
STARTS_EMPTY_ALLOWED = {
    # set once, in a forked render worker only, by its pool's initializer: that process is its owner and
    # lives exactly as long as the job (a pool has no other channel to its tasks short of pickling the catalog)
    ("bulk", "_worker_job"),
}
_CONTAINER_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "WeakSet",
                    "WeakValueDictionary", "WeakKeyDictionary", "bytearray"}  # fmt: skip


def _tree(module: str) -> ast.Module:
    return ast.parse((PROJECT / "feeds" / f"{module}.py").read_text(encoding="utf-8"))


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(project modules imported, third-party top-level packages imported)."""
    tree = _tree(module)
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


def _starts_empty(value: ast.expr) -> bool:
    """``{}``, ``[]``, ``set()``, ``WeakSet()``…: a container with nothing in it yet."""
    if isinstance(value, ast.Dict | ast.List | ast.Set):
        return not (value.keys if isinstance(value, ast.Dict) else value.elts)
    if isinstance(value, ast.Call) and not value.args and not value.keywords:
        name = value.func.id if isinstance(value.func, ast.Name) else getattr(value.func, "attr", "")
        return name in _CONTAINER_CALLS
    return False


@pytest.mark.parametrize("module", sorted(RANK))
def test_no_module_is_too_long_to_read_in_one_sitting(module: str) -> None:
    lines = len((PROJECT / "feeds" / f"{module}.py").read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"feeds/{module}.py has {lines} lines: split it into flat sibling modules"


@pytest.mark.parametrize("module", sorted(RANK))
def test_no_global_statement_and_no_module_level_cache(module: str) -> None:
    tree = _tree(module)
    globals_ = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Global)]
    assert not globals_, f"feeds/{module}.py has a global statement on lines {globals_}: give the state an owner"
    empty = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and _starts_empty(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            empty += [ast.unparse(t) for t in targets if (module, ast.unparse(t)) not in STARTS_EMPTY_ALLOWED]
    assert not empty, f"feeds/{module}.py fills module-level containers at run time: {empty}"


def test_every_allowed_container_still_exists() -> None:
    """An exception nobody needs any more is removed, so the list cannot hide a new cache under an old name."""
    for module, name in sorted(STARTS_EMPTY_ALLOWED):
        assigned = {
            ast.unparse(target)
            for node in _tree(module).body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        }
        assert name in assigned, f"{module}.{name} is gone: remove it from STARTS_EMPTY_ALLOWED"


def test_the_architecture_checks_see_what_they_look_for() -> None:
    """The detectors themselves, on small sources: a check that can never fail proves nothing."""
    def starts_empty(source: str) -> bool:
        return _starts_empty(ast.parse(source, mode="eval").body)

    flagged = [starts_empty(source) for source in ("{}", "[]", "set()", "weakref.WeakSet()")]
    kept = [starts_empty(source) for source in ("{'a': 1}", "(1,)", "frozenset()", "f()")]
    assert all(flagged) and not any(kept)
    assert any(isinstance(node, ast.Global) for node in ast.walk(ast.parse("def f():\n    global x\n    x = 1\n")))
