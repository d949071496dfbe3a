"""STYLE §1: one stage per module, imports pointing backwards only; outlets never touch YAML or feedgen.

And the shape of every module: none over 400 lines, no ``global`` statement, no module-level
container that starts empty to be filled at run time (a cache or registry: state belongs to an
object whose lifetime is the run or the process; an ``lru_cache`` on a pure function is fine).
"""

from __future__ import annotations

import ast

import pytest

from .project_modules import all_modules, imports, module_path, module_tree

# The pipeline's packages in order (README, Design): the top of the package holds the shared values,
# then read → index → render, then the outlets. A module imports only the top's shared values, its own
# package and earlier ones; an outlet imports another outlet only where OUTLET_USES says why.
PIPELINE = ("read", "index", "render")
OUTLET_PACKAGES = ("server", "folder", "bucket", "stats")
TOP_OUTLETS = {"websub", "cli"}  # the ping every outlet sends, and the command line over all of them
OUTLET_USES = {
    ("folder", "server"),  # export --watch keeps its articles in memory as the live server does (server.live)
    ("server", "stats"),  # the live server records who reads which feed
}

# Each module and the stage it belongs to; a module may import only modules of earlier stages
# (or, where listed, its own helpers of the same stage).
STAGES = [
    {"model", "formats", "cache_dir", "site_paths", "sqlite_wal"},
    {"config_values"},
    {"config"},
    # read
    {"read.front_matter", "read.yaml_scalars"},
    {"read.mojibake", "read.yaml_problems"},
    {"read.text", "read.safe_yaml", "read.dates", "read.cache_files", "read.cache_writes", "read.file_text"},
    {"read.file_problems", "read.clean_shapes"},
    {"read.article_fields", "read.article_files"},
    {"read.reader"},
    {"read.parsecache", "read.merge"},
    {"read.parse_pool", "read.cached_details"},
    {"read.load", "read.folder_scan", "read.watch"},
    {"read.incremental_load"},
    # index
    {"index.identity"},
    {"index.families"},
    {"index.filters"},
    {"index.filter_index", "index.configured"},
    {"index.catalog"},
    {"index.catalog_update"},
    # render
    {"render.writer"},
    {"render.gzipped", "render.item_template"},
    {"render.xmlfeed", "render.jsonfeed"},
    {"render.rss", "render.atom"},
    {"render.feed"},
    {"render.page_layout"},
    {"render.feed_page"},
    {"render.index_page"},
    {"render.site", "render.signature"},
    # outlets
    {"websub", "server.asgi_bridge", "stats.agents"},
    {"stats.store"},
    {"stats.recorder", "stats.logs", "stats.report"},
    {"stats.report_page"},
    {"server.responses"},
    {"server.snapshot"},
    {"server.hub_pings"},
    {"folder.cdn", "folder.listing", "folder.pool", "server.live"},
    {"folder.bulk", "folder.generation", "folder.records", "folder.outwatch", "bucket.plan", "server.page_cache"},
    {"folder.flip"},
    {"folder.outdir"},
    {"folder.export", "server.web", "bucket.s3_store", "bucket.purge"},
    {"folder.runs"},
    {"folder.exporter", "server.serve", "bucket.publish"},
    {"cli"},
]
SAME_STAGE_ALLOWED = {("render.signature", "render.site")}
RANK = {module: rank for rank, stage in enumerate(STAGES) for module in stage}
# Modules that never parse YAML or call feedgen: every outlet, and the renderers that are not feedgen's writers.
OUTLETS = sorted(
    {module for module in RANK if module.split(".")[0] in OUTLET_PACKAGES} | TOP_OUTLETS
    | {"render.site", "render.feed", "render.writer", "render.jsonfeed", "render.page_layout", "render.feed_page",
       "render.index_page", "index.filters"}
)  # fmt: skip
MAX_LINES = 400
# Module-level containers that start empty, each with the reason it is not a cache of the process:
STARTS_EMPTY_ALLOWED = {
    # set once, in a forked render worker only, by its pool's initializer: that process is its owner and
    # lives exactly as long as the job (a pool has no other channel to its tasks short of pickling the catalog)
    ("folder.pool", "_worker_job"),
    # memos of what the Loader class's resolver table makes of a plain scalar's text (its tag; the value when an
    # immutable builtin): they live as long as that table, PyYAML's class-level state, and are emptied whenever a
    # resolver is added to it (safe_yaml's add_*_resolver); bounded (_MEMO_SIZE), so no run's input grows them
    ("read.safe_yaml", "Loader._plain_tags"),
    ("read.safe_yaml", "Loader._plain_values"),
}
_CONTAINER_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter", "WeakSet",
                    "WeakValueDictionary", "WeakKeyDictionary", "bytearray"}  # fmt: skip


def test_every_module_has_a_stage() -> None:
    assert all_modules() == set(RANK)


def _package(module: str) -> str:
    return module.split(".")[0] if "." in module else module if module in TOP_OUTLETS else "shared"


@pytest.mark.parametrize("module", sorted(RANK))
def test_packages_show_the_pipeline(module: str) -> None:
    """read → index → render → outlets, by folder: what a package imports says where it sits."""
    order = ("shared", *PIPELINE, "outlets")
    where = _package(module)
    rank = order.index("outlets" if where in OUTLET_PACKAGES or where in TOP_OUTLETS else where)
    ours, _ = imports(module)
    wrong = set()
    for other in ours:
        there = _package(other)
        if there in OUTLET_PACKAGES or there in TOP_OUTLETS:
            allowed = rank == len(order) - 1 and (
                where == "cli" or there in (where, "websub") or (where, there) in OUTLET_USES
            )
        else:
            allowed = order.index(there) <= rank
        if not allowed:
            wrong.add(other)
    assert not wrong, f"{module} reaches past its place in the pipeline: {sorted(wrong)}"


@pytest.mark.parametrize("module", sorted(RANK))
def test_imports_point_backwards(module: str) -> None:
    ours, _ = imports(module)
    forward = {
        other for other in ours if RANK[other] >= RANK[module] and (module, other) not in SAME_STAGE_ALLOWED
    } - {module}
    assert not forward, f"{module} imports later stages: {sorted(forward)}"


@pytest.mark.parametrize("module", OUTLETS)
def test_outlets_never_parse_yaml_or_call_feedgen(module: str) -> None:
    _, theirs = imports(module)
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
    lines = len(module_path(module).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module_path(module)} has {lines} lines: split it by meaning"


@pytest.mark.parametrize("module", sorted(RANK))
def test_no_global_statement_and_no_module_level_cache(module: str) -> None:
    tree = module_tree(module)
    globals_ = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Global)]
    assert not globals_, f"{module_path(module)} has a global statement on lines {globals_}: give the state an owner"
    empty = [name for name in _starting_empty(tree) if (module, name) not in STARTS_EMPTY_ALLOWED]
    assert not empty, f"{module_path(module)} fills module-level or class-level containers at run time: {empty}"


def _starting_empty(tree: ast.Module) -> list[str]:
    """The module's and its classes' containers that start empty (a class's named ``Class.name``): a class
    attribute lives as long as the module, so a memo there is a module-level cache by another name."""
    bodies = [("", tree.body)] + [
        (f"{node.name}.", node.body) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
    ]
    names = []
    for prefix, body in bodies:
        for node in body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and _starts_empty(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names += [prefix + ast.unparse(target) for target in targets]
    return names


def test_every_allowed_container_still_exists() -> None:
    """An exception nobody needs any more is removed, so the list cannot hide a new cache under an old name."""
    for module, name in sorted(STARTS_EMPTY_ALLOWED):
        assert name in _starting_empty(module_tree(module)), (
            f"{module}.{name} is gone: remove it from STARTS_EMPTY_ALLOWED"
        )


def test_the_architecture_checks_see_what_they_look_for() -> None:
    """The detectors themselves, on small sources: a check that can never fail proves nothing."""
    def starts_empty(source: str) -> bool:
        return _starts_empty(ast.parse(source, mode="eval").body)

    source = "class A:\n    memo: dict = {}\n    size = 3\nseen = set()\n"
    assert _starting_empty(ast.parse(source)) == ["seen", "A.memo"]  # a class's memo is seen too
    flagged = [starts_empty(source) for source in ("{}", "[]", "set()", "weakref.WeakSet()")]
    kept = [starts_empty(source) for source in ("{'a': 1}", "(1,)", "frozenset()", "f()")]
    assert all(flagged) and not any(kept)
    assert any(isinstance(node, ast.Global) for node in ast.walk(ast.parse("def f():\n    global x\n    x = 1\n")))


def test_relative_imports_are_seen_as_the_modules_they_name(tmp_path, monkeypatch) -> None:
    """``from ..server.web import create_app`` in read/ is a forward import like the absolute one."""
    import tests.project_modules as project_modules

    (tmp_path / "read").mkdir()
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "web.py").write_text("")
    (tmp_path / "model.py").write_text("")
    (tmp_path / "read" / "dates.py").write_text("from ..server.web import create_app\nfrom .. import model\n")
    monkeypatch.setattr(project_modules, "FEEDS", tmp_path)
    assert project_modules.imports("read.dates")[0] == {"server.web", "model"}
