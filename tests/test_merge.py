"""The incremental merge (feeds.read.merge) is collect's result after any changes: a differential test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.model import Article, Problem, Severity
from feeds.read.article_files import printable_path, walk_article_files
from feeds.read.merge import Merge, path_key
from feeds.read.reader import ReadResult, collect

# nested names whose string order is not the walk's ("a-b" < "a/x" as strings, the folder "a" first in
# the walk), and names printed alike ("c\x01" and "c\\x01" are both shown as c\x01): equal sources
NAMES = ["a/x", "a/y", "a-b", "a.c", "b", "b/c/d", "b/c-e", "c\x01", "c\\x01", "d", "e/f", "\udcff"]
UIDS = ["urn:one", "urn:two", "urn:three", "urn:four"]
DAYS = [datetime(2026, 1, day, tzinfo=UTC) for day in (1, 2, 3)]

# a file: None (absent), or (uid index or None for an article lost to an error, published, day, a warning)
FILES = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(st.none(), st.integers(0, len(UIDS) - 1)), st.booleans(), st.integers(0, len(DAYS) - 1),
        st.booleans(),
    ),
)


def result_of(name: str, spec: tuple) -> ReadResult:
    uid, published, day, warned = spec
    source = printable_path(name)
    problems = (Problem(source, Severity.WARNING, "a warning"),) if warned else ()
    if uid is None:
        return ReadResult(None, (Problem(source, Severity.ERROR, "lost"), *problems))
    article = Article(
        source=source, uid=UIDS[uid], title=f"T {name}", link=f"https://x.org/{uid}",
        published_at=DAYS[day], published=published,
    )  # fmt: skip
    return ReadResult(article, problems)


@settings(max_examples=300, deadline=None)
@given(
    first=st.dictionaries(st.sampled_from(NAMES), FILES.filter(bool)),
    steps=st.lists(st.dictionaries(st.sampled_from(NAMES), FILES, min_size=1, max_size=4), max_size=6),
)
def test_a_patched_merge_equals_collect(first: dict, steps: list[dict]) -> None:
    """After any edits, additions and removals (several at once too: a story's copies gained, lost,
    renamed to another story, lost to an error), the merge is collect of the results in path order."""
    listing = (Problem(".", Severity.ERROR, "cannot list this folder"),)
    current = {name: result_of(name, spec) for name, spec in first.items()}
    ordered = sorted(current, key=path_key)
    merge = Merge([(name, current[name]) for name in ordered], current.__getitem__)
    assert merge.folder(listing, len(current)) == collect([current[name] for name in ordered], listing)
    for step in steps:
        changes = {}
        for name, spec in step.items():
            before = current.pop(name, None)
            if spec is not None:
                current[name] = result_of(name, spec)
            changes[name] = (before, current.get(name))
        merge.changed(changes)
        ordered = sorted(current, key=path_key)
        assert merge.folder(listing, len(current)) == collect([current[name] for name in ordered], listing)


def test_path_key_orders_names_as_the_walk_does(tmp_path: Path) -> None:
    """The merge places a file by path_key: the walk's order, which is not the names' string order."""
    for name in ("a/x.md", "a/y.md", "a-b.md", "a.c.md", "b/c/d.md", "b/c-e.md", "b0.md", "B.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    walked = [name for name, _ in walk_article_files(tmp_path)]
    assert walked == sorted(walked, key=path_key) != sorted(walked)
