"""Filtered feeds: the per-snapshot index (feeds.index.filter_index) finds exactly the articles the filter's definition
(feeds.index.filters.matcher) accepts."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feeds.index.catalog import build_catalog
from feeds.index.filter_index import FilterIndex
from feeds.index.filters import FeedFilter, filter_feed, matcher, parse_filter, wanted_keys
from tests.test_catalog import article, make_settings

TOPICS = ["AI", "ai", "Artificial Intelligence", "C++", "Data", "Robotics"]
PROVIDERS = ["IGN", "Game Rant on MSN", "GameRant on MSN", "Polygon", None]
WORDS = ["robot", "Robots", "chip", "AI", "ünïcode", "data", "fold", "laundry", "1990"]

rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from(TOPICS), max_size=3, unique=True),
        st.sampled_from(PROVIDERS),
        st.one_of(st.none(), st.integers(-5, 105)),
        st.lists(st.sampled_from(WORDS), max_size=4),
        st.lists(st.sampled_from(WORDS), max_size=4),
    ),
    max_size=40,
)
queries = st.lists(
    st.one_of(
        st.tuples(st.just("topic"), st.sampled_from([*TOPICS, "artificial-intelligence", "unknown"])),
        st.tuples(st.just("provider"), st.sampled_from(["IGN", "gamerant-on-msn", "polygon", "nobody"])),
        st.tuples(st.just("min_quality"), st.integers(-10, 110).map(str)),
        st.tuples(st.just("kind"), st.sampled_from(["article", "Video", "nope"])),
        st.tuples(st.just("q"), st.lists(st.sampled_from([*WORDS, "absent"]), min_size=1, max_size=3).map(" ".join)),
    ),
    max_size=5,
)


KINDS = [None, "article", "video"]


def corpus(table: list) -> list:
    return [
        dataclasses.replace(article(n, topics=topics, provider=provider, hours=-n, quality=quality),
                            title=" ".join(["Story", *title]), summary=" ".join(summary),
                            kind=KINDS[n % len(KINDS)])  # fmt: skip
        for n, (topics, provider, quality, title, summary) in enumerate(table)
    ]


@hypothesis_settings(max_examples=300, deadline=None)
@given(rows, queries)
def test_the_index_finds_exactly_what_the_definition_accepts(table, pairs) -> None:
    settings = make_settings(topic_aliases=(("Artificial Intelligence", "AI"),), items_per_feed=5)
    catalog = build_catalog(corpus(table), settings)
    everything = catalog.get("all")
    articles = everything.items + everything.older[::-1]
    if len({v for p, v in pairs if p == "min_quality"}) > 1:
        pairs = [(p, v) for p, v in pairs if p != "min_quality"]  # given twice with two values: a 400
    wanted = parse_filter(pairs, catalog, settings)
    keys = wanted_keys(wanted, catalog)
    test = matcher(wanted, catalog, settings)
    reference = [position for position, a in enumerate(articles) if test(a)]
    positions = FilterIndex(articles, catalog, settings).positions(keys)
    assert positions == reference
    feed = filter_feed(articles, positions, wanted, settings)
    assert feed.items == tuple(articles[p] for p in reference[:5]) and feed.total == len(reference)


def test_an_empty_filter_is_every_article_newest_first() -> None:
    settings = make_settings()
    articles = corpus([([], None, None, [], [])] * 3)
    catalog = build_catalog(articles, settings)
    assert FilterIndex(articles, catalog, settings).positions(wanted_keys(FeedFilter(), catalog)) == [0, 1, 2]


def test_the_index_reports_its_size_in_bytes() -> None:
    settings = make_settings()
    one = corpus([(["AI"], "IGN", 5, ["robot"], [])])
    many = corpus([(["AI"], "IGN", 5, ["robot"], ["data", "chip"])] * 100)
    small = FilterIndex(one, build_catalog(one, settings), settings)
    large = FilterIndex(many, build_catalog(many, settings), settings)
    assert 0 < small.nbytes < large.nbytes
