"""The catalog: topic and provider identity, slugs, and the newest items of every feed."""

from __future__ import annotations

import dataclasses
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feeds.config import Settings
from feeds.index.catalog import build_catalog
from feeds.index.families import PROVIDERS, TOPICS
from feeds.index.identity import assign_slugs, make_slug, provider_key, topic_aliases, topic_key
from feeds.model import Article, Provider

from .conftest import BASE_URL

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def article(n: int, *, topics=(), provider: str | None = None, hours: float = 0, **fields) -> Article:
    """A small valid Article, as the reader would build one."""
    return Article(
        source=f"a{n:04d}.md",
        uid=f"urn:uuid:00000000-0000-0000-0000-{n:012d}",
        title=f"Article {n}",
        link=f"https://example.com/{n}",
        published_at=T0 + timedelta(hours=hours),
        topics=tuple(topics),
        provider=Provider(provider, None) if provider else None,
        **fields,
    )


def make_settings(**changes) -> Settings:
    return dataclasses.replace(Settings(base_url=BASE_URL), **changes)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("AI", "ai"),
        ("Machine  Learning", "machine learning"),
        (" Diablo 4 ", "DIABLO 4"),
        ("Straße", "STRASSE"),  # casefold, not lower
    ],
)
def test_topic_identity_folds_case_and_space(a: str, b: str) -> None:
    assert topic_key(a, {}) == topic_key(b, {})


def test_topic_aliases_from_settings_merge_feeds_and_redirect() -> None:
    settings = make_settings(topic_aliases=(("Artificial Intelligence", "AI"),))
    aliases = topic_aliases(settings)
    assert topic_key("artificial  intelligence", aliases) == topic_key("ai", aliases) == "ai"
    catalog = build_catalog(
        [article(1, topics=["Artificial Intelligence"]), article(2, topics=["ai"], hours=1)], settings
    )
    topics = catalog.of_family(TOPICS)
    assert [(f.path, f.name, f.total) for f in topics] == [("topics/ai", "AI", 2)]
    assert catalog.redirects == {"topics/artificial-intelligence": "topics/ai"}


def test_topic_display_name_is_the_most_used_spelling_then_the_first_sorted() -> None:
    settings = make_settings()
    most = build_catalog(
        [article(1, topics=["Power apps"]), article(2, topics=["Power Apps"]),
         article(3, topics=["Power Apps"])], settings)  # fmt: skip
    assert most.get("topics/power-apps").name == "Power Apps"
    tie = build_catalog([article(1, topics=["power apps"]), article(2, topics=["Power Apps"])], settings)
    assert tie.get("topics/power-apps").name == "Power Apps"  # "P" < "p"


@pytest.mark.parametrize(
    ("names", "one_provider"),
    [
        (["GameRant on MSN", "Game Rant on MSN", "GameRant on MSN.com"], True),
        (["Rock, Paper, Shotgun", "Rock Paper Shotgun"], True),
        (["YAHOO!News", "Yahoo News"], True),
        (["GamesRadar on MSN.com", "GamesRadar+ on MSN"], True),
        (["GameRant on MSN", "Polygon on MSN"], False),  # one host, two brands
        (["Tech.co", "tech"], False),  # a one-word name keeps its suffix
        (["CNET", "CNET on MSN"], False),
    ],
)
def test_provider_identity_groups_spellings_of_one_brand(names: list[str], one_provider: bool) -> None:
    keys = {provider_key(name, "msn.com") for name in names}
    assert (len(keys) == 1) is one_provider


def test_provider_identity_falls_back_to_the_domain_and_never_is_empty() -> None:
    assert provider_key("", "ign.com") == provider_key("!!!", "ign.com") == "igncom"
    assert provider_key("🙂", None) == "unknown"


def test_provider_feed_groups_syndicated_copies_and_knows_each_provider_value() -> None:
    names = ["GameRant on MSN", "Game Rant on MSN", "GameRant on MSN.com", "GameRant on MSN"]
    catalog = build_catalog(
        [article(i, provider=name, hours=i) for i, name in enumerate(names)], make_settings()
    )
    (feed,) = catalog.of_family(PROVIDERS)
    assert (feed.path, feed.name, feed.total) == ("providers/gamerant-on-msn", "GameRant on MSN", 4)
    assert set(catalog.source_paths.values()) == {feed.path}
    assert len(catalog.source_paths) == 3


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("C++", "c-plus-plus"),
        ("C#", "c-sharp"),
        ("C", "c"),
        ("Data & Analytics", "data-and-analytics"),
        ("AR/VR", "ar-vr"),
        ("Node.js", "node-js"),
        ("Ünïcödé", "unicode"),
        ("Данные", "dannye"),
        ("日本語", "ri-ben-yu"),
        ("..", "x-5ec1f7e7"),
        ("/", "x-8a5edab2"),
        ("🙂", "x-d06f1525"),
    ],
)
def test_slug_is_lowercase_ascii_transliterated(name: str, slug: str) -> None:
    assert make_slug(name) == slug


def test_names_folding_to_one_slug_get_distinct_stable_slugs() -> None:
    names = {".net": ".NET", "net": "NET", "c++": "C++", "c plus plus": "C Plus Plus"}
    slugs = assign_slugs(names)
    assert slugs == assign_slugs(dict(reversed(names.items())))
    assert len(set(slugs.values())) == len(names)
    # the key that sorts first keeps the plain slug; the other gets 6 hex digits of its key
    assert slugs[".net"] == "net" and re.fullmatch(r"net-[0-9a-f]{6}", slugs["net"])
    assert slugs["c plus plus"] == "c-plus-plus" and slugs["c++"].startswith("c-plus-plus-")


names_strategy = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40
)


@given(names_strategy)
def test_slug_is_never_empty_and_never_leaves_its_folder(name: str) -> None:
    slug = make_slug(name)
    assert SLUG.fullmatch(slug), slug
    assert slug not in (".", "..") and "/" not in slug and "\\" not in slug
    assert len(slug) <= 80


@given(st.lists(names_strategy, min_size=1, max_size=30))
def test_slugs_are_unique_per_name(names: list[str]) -> None:
    keys = {name.casefold(): name for name in names}
    slugs = assign_slugs(keys)
    assert set(slugs) == set(keys)
    assert len(set(slugs.values())) == len(keys)
    assert all(SLUG.fullmatch(s) for s in slugs.values())


topic_names = st.sampled_from(["AI", "ai", "C", "C++", "C#", "c plus plus", "Data", ".NET", "NET"])
provider_names = st.sampled_from(["IGN", "GameRant on MSN", "Game Rant on MSN", "Polygon", None])
# (topics, provider, hours) of up to 25 articles
catalog_rows = st.lists(
    st.tuples(st.lists(topic_names, max_size=3, unique=True), provider_names, st.integers(0, 5)),
    min_size=1,
    max_size=25,
)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    catalog_rows,
    st.randoms(use_true_random=False),
)
def test_catalog_does_not_depend_on_article_order(rows, rnd: random.Random) -> None:
    articles = [article(i, topics=t, provider=p, hours=h) for i, (t, p, h) in enumerate(rows)]
    shuffled = list(articles)
    rnd.shuffle(shuffled)
    settings = make_settings(items_per_feed=3)
    first, second = build_catalog(articles, settings), build_catalog(shuffled, settings)
    assert first == second
    paths = [feed.path for feed in first.feeds]
    assert len(paths) == len(set(paths))


def test_feed_holds_the_newest_n_newest_first_with_ties_by_uid() -> None:
    articles = [article(n, topics=["AI"], hours=hours) for n, hours in enumerate([5, 9, 9, 1, 7, 9])]
    catalog = build_catalog(articles, make_settings(items_per_feed=4))
    feed = catalog.get("topics/ai")
    assert [a.source for a in feed.items] == ["a0001.md", "a0002.md", "a0005.md", "a0004.md"]
    assert feed.total == 6 and feed.updated == T0 + timedelta(hours=9)
    assert catalog.get("all").items == feed.items


def test_unpublished_articles_are_left_out_unless_the_settings_include_them() -> None:
    articles = [article(1, topics=["AI"]), article(2, topics=["Space"], published=False)]
    default = build_catalog(articles, make_settings())
    assert [f.path for f in default.feeds] == ["all", "topics/ai"]
    assert (default.article_count, default.unpublished_count) == (1, 1)
    included = build_catalog(articles, make_settings(include_unpublished=True))
    assert [f.path for f in included.feeds] == ["all", "topics/ai", "topics/space"]


def test_catalog_of_nothing_has_one_empty_all_feed() -> None:
    catalog = build_catalog([], make_settings())
    assert [(f.path, f.items, f.updated) for f in catalog.feeds] == [("all", (), None)]
