"""The filter index derived from the previous snapshot's equals one built afresh, whatever the reload did."""

from __future__ import annotations

import dataclasses
from unittest import mock

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feeds.index import filter_index
from feeds.index.catalog import build_catalog
from feeds.index.filter_index import FilterIndex
from feeds.index.filters import parse_filter, wanted_keys
from feeds.model import Article
from tests.test_catalog import article, make_settings
from tests.test_filters import KINDS, PROVIDERS, TOPICS, WORDS

SETTINGS = make_settings(topic_aliases=(("Artificial Intelligence", "AI"),), items_per_feed=3)

fields = st.fixed_dictionaries(
    {
        "topics": st.lists(st.sampled_from(TOPICS), max_size=3, unique=True),
        "provider": st.sampled_from(PROVIDERS),
        "quality": st.one_of(st.none(), st.integers(-5, 105)),
        "title": st.lists(st.sampled_from(WORDS), max_size=3),
        "kind": st.sampled_from(KINDS),
        "hours": st.integers(-50, 50),
    }
)
# one reload's change to the folder; the index at each step must not care how it came about
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), fields),
        st.tuples(st.just("delete"), st.integers(0, 99)),
        st.tuples(st.just("rename"), st.integers(0, 99)),  # same story in another file: a new object, new source
        st.tuples(st.just("retopic"), st.integers(0, 99), st.lists(st.sampled_from(TOPICS), max_size=2)),
        st.tuples(st.just("edit"), st.integers(0, 99), st.lists(st.sampled_from(WORDS), max_size=3)),
        st.tuples(st.just("requality"), st.integers(0, 99), st.one_of(st.none(), st.integers(-5, 105))),
        st.tuples(st.just("duplicate"), st.integers(0, 99)),  # an equal copy: another object, equal fields
        st.tuples(st.just("twice"), st.integers(0, 99)),  # the very same object twice in the sequence
        st.tuples(st.just("reorder"), st.integers(0, 99)),  # a date change moves it: a new object, new place
        st.just(("nothing",)),
    ),
    max_size=12,
)
QUERIES = [
    *[[("topic", t)] for t in [*TOPICS, "artificial-intelligence", "unknown"]],
    *[[("provider", p)] for p in ["IGN", "gamerant-on-msn", "polygon", "nobody"]],
    *[[("kind", k)] for k in ["article", "Video", "nope"]],
    *[[("min_quality", str(q))] for q in (-10, 0, 50, 105)],
    *[[("q", w)] for w in [*WORDS, "robot chip", "absent"]],
    [("topic", "AI"), ("provider", "IGN"), ("q", "robot")],
    [("topic", "Data"), ("min_quality", "20"), ("kind", "article")],
    [],
]


def _made(serial: int, values: dict) -> Article:
    values = dict(values)
    title = values.pop("title")
    made = article(serial, hours=values.pop("hours"), **values)
    return dataclasses.replace(made, title=" ".join(["Story", *title]), summary="fold data")


def _apply(step: tuple, articles: list[Article], serial: int) -> int:
    """Change ``articles`` in place as one reload would see it; the next free serial number."""
    kind, *arguments = step
    if kind == "add":
        articles.append(_made(serial, arguments[0]))
        return serial + 1
    if not articles or kind == "nothing":
        return serial
    at = arguments[0] % len(articles)
    chosen = articles[at]
    if kind == "delete":
        del articles[at]
    elif kind == "rename":
        articles[at] = dataclasses.replace(chosen, source=f"renamed-{serial}.md")
    elif kind == "retopic":
        articles[at] = dataclasses.replace(chosen, topics=tuple(arguments[1]))
    elif kind == "edit":
        articles[at] = dataclasses.replace(chosen, title=" ".join(["Edited", *arguments[1]]))
    elif kind == "requality":
        articles[at] = dataclasses.replace(chosen, quality=arguments[1])
    elif kind == "duplicate":
        articles.insert(at, dataclasses.replace(chosen))
    elif kind == "twice":
        articles.insert(at, chosen)
    elif kind == "reorder":
        articles[at] = dataclasses.replace(chosen, published_at=chosen.published_at.replace(year=2001))
        articles.sort(key=lambda a: a.published_at)
    return serial + 1


def _same(derived: FilterIndex, fresh: FilterIndex, articles: list[Article]) -> None:
    catalog = build_catalog(articles, SETTINGS)
    assert derived.postings() == fresh.postings()
    assert derived.count == fresh.count == len(articles)
    for pairs in QUERIES:
        keys = wanted_keys(parse_filter(pairs, catalog, SETTINGS), catalog)
        assert derived.positions(keys) == fresh.positions(keys), pairs


def _unique(articles: list[Article]) -> bool:
    return len({id(a) for a in articles}) == len(articles)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(fields, max_size=30), steps, st.booleans(), st.sampled_from([0.25, 1e9]), st.sampled_from([0, 64]))
def test_an_index_derived_reload_after_reload_equals_one_built_afresh(start, changes, reverse, share, spare) -> None:
    articles = [_made(serial, values) for serial, values in enumerate(start)]
    serial = len(articles)
    before = list(articles)
    index = FilterIndex(before, build_catalog(before, SETTINGS), SETTINGS)
    # how many changes are worth deriving, and how many serials of gone articles may pile up: both ways
    with (
        mock.patch.object(filter_index, "REBUILD_SHARE", share),
        mock.patch.object(filter_index, "SPARE_SERIALS", spare),
    ):
        for step in changes:
            serial = _apply(step, articles, serial)
            # the live app indexes the all feed's articles newest first; any order must do
            ordered = articles[::-1] if reverse else list(articles)
            catalog = build_catalog(ordered, SETTINGS)
            said_before = index.postings()
            derived = FilterIndex(ordered, catalog, SETTINGS, previous=index)
            _same(derived, FilterIndex(ordered, catalog, SETTINGS), ordered)
            assert index.postings() == said_before  # the previous snapshot's index is still serving: untouched
            if share > 1 and spare == 64 and _unique(ordered) and _unique(before):
                assert derived.derived  # the path under test was taken
            index, before = derived, ordered
