"""Configured feeds (``feeds:`` in the config) and ``/filter``: one selection, the same items, the same bytes.

A configured feed is the catalog family :data:`feeds.index.filters.CONFIGURED`; these tests hold it
to the live app's ``/filter`` query with the same keys (a table over the samples and the real
corpus, and hypothesis over random definitions), and check that it is exported and served with
the same bytes, archived, listed in the index and the OPML, and that bad definitions exit 2.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feeds.config import SELECTION_KEYS, FeedDefinition, Settings, load_settings
from feeds.folder.export import export_site
from feeds.index.catalog import FAMILIES, Catalog, build_catalog
from feeds.index.configured import CONFIGURED
from feeds.index.families import Family, most_used
from feeds.index.filter_index import FilterIndex
from feeds.index.filters import filter_feed, parse_filter, wanted_keys
from feeds.model import Article
from feeds.read.reader import read_folder
from feeds.render.site import render_path, site_paths
from feeds.server.web import create_app
from feeds.websub import changed_feed_paths

from .conftest import BASE_URL, REAL_CORPUS, SAMPLES, require_shared
from .test_cli import run

DEFINITIONS = [  # slug, selection, min_quality: one case a line
    ("ai", (("topics", ("AI",)),), None),
    ("ai-by-slug", (("topics", ("ai", "computer-vision")),), None),
    ("ai-alias", (("topics", ("Artificial Intelligence",)),), None),
    ("diablo-news", (("topics", ("Diablo 4",)), ("providers", ("IGN", "Wudijo Games")), ("kinds", ("article",))), 10),
    ("verge-or-guardian", (("providers", ("The Verge", "the-guardian")),), None),
    ("videos", (("kinds", ("Video",)),), None),
    ("quality", (), 50),
    ("words", (("query", ("release", "first sounds")),), None),
    ("nothing-yet", (("topics", ("No Such Topic",)),), None),
    ("everything-ai-quality", (("topics", ("AI", "Space")), ("query", ("the",))), -5),
]


def definitions() -> tuple[FeedDefinition, ...]:
    return tuple(FeedDefinition(slug, None, None, selection, quality) for slug, selection, quality in DEFINITIONS)


def configured(articles_dir: Path = SAMPLES, **overrides) -> Settings:
    settings = Settings(
        base_url=BASE_URL, articles_dir=articles_dir, topic_aliases=(("Artificial Intelligence", "AI"),),
        archive_page_size=2, items_per_feed=3, feeds=definitions(),
    )  # fmt: skip
    return dataclasses.replace(settings, **overrides)


def filter_items(catalog: Catalog, settings: Settings, definition: FeedDefinition) -> tuple[Article, ...]:
    """The items of the ``/filter`` query with the definition's keys (what the live app serves)."""
    everything = catalog.everything
    articles = everything.items + everything.older[::-1]
    wanted = parse_filter(definition.filter_pairs(), catalog, settings)
    positions = FilterIndex(articles, catalog, settings).positions(wanted_keys(wanted, catalog))
    return filter_feed(articles, positions, wanted, settings).items


def assert_configured_equals_filter(catalog: Catalog, settings: Settings) -> int:
    checked = 0
    for definition in settings.feeds:
        feed = catalog.get(f"feeds/{definition.slug}")
        assert feed is not None and feed.family is CONFIGURED, definition.slug
        assert feed.items == filter_items(catalog, settings, definition), definition.slug
        everything = filter_items(catalog, dataclasses.replace(settings, items_per_feed=10**6), definition)
        assert feed.items + feed.older[::-1] == everything and feed.total == len(everything), definition.slug
        checked += bool(feed.items)
    return checked


def test_a_configured_feed_holds_exactly_the_items_of_its_filter_query_on_the_samples() -> None:
    settings = configured()
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    assert assert_configured_equals_filter(catalog, settings) >= 7
    assert catalog.get("feeds/nothing-yet").items == ()  # declared: a feed even while nothing matches


def test_a_configured_feed_holds_exactly_the_items_of_its_filter_query_on_the_real_corpus() -> None:
    corpus = require_shared(REAL_CORPUS)
    settings = configured(corpus, items_per_feed=20, archive_page_size=25, include_unpublished=True)
    articles = read_folder(corpus, settings).articles
    catalog = build_catalog(articles, settings)
    topics = sorted({t for a in articles for t in a.topics})[:40:7]
    providers = sorted({a.provider.name for a in articles if a.provider})[:40:9]
    extra = tuple(
        FeedDefinition(f"real-{n}", None, None, (("topics", (t,)), ("providers", (p,)))[: 1 + n % 2])
        for n, (t, p) in enumerate(zip(topics, providers, strict=False))
    )
    settings = dataclasses.replace(settings, feeds=settings.feeds + extra)
    catalog = build_catalog(articles, settings)
    assert assert_configured_equals_filter(catalog, settings) >= 6


SAMPLE_SETTINGS = Settings(base_url=BASE_URL, articles_dir=SAMPLES)
SAMPLE_ARTICLES = read_folder(SAMPLES, SAMPLE_SETTINGS).articles
NAMES = {
    "topics": sorted({t for a in SAMPLE_ARTICLES for t in a.topics} | {"ai", "space", "Nope"}),
    "providers": sorted({a.provider.name for a in SAMPLE_ARTICLES if a.provider} | {"the-verge", "Nope"}),
    "kinds": ["article", "video", "Article", "nope"],
    "query": ["the", "first sounds", "AI", "release", "mars rover", "nope"],
}


@st.composite
def random_definition(draw) -> FeedDefinition:
    keys = draw(st.lists(st.sampled_from(sorted(SELECTION_KEYS)), unique=True, max_size=4))
    quality = draw(st.one_of(st.none(), st.integers(-10, 100)))
    if not keys and quality is None:
        keys = ["topics"]
    selection = tuple(
        (key, tuple(draw(st.lists(st.sampled_from(NAMES[key]), min_size=1, max_size=3, unique=True))))
        for key in SELECTION_KEYS
        if key in keys
    )
    return FeedDefinition("random", None, None, selection, quality)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=random_definition(), limit=st.integers(1, 6))
def test_any_definition_gives_the_items_of_the_equivalent_filter_query(definition: FeedDefinition, limit: int) -> None:
    settings = configured(feeds=(definition,), items_per_feed=limit)
    catalog = build_catalog(SAMPLE_ARTICLES, settings)
    assert_configured_equals_filter(catalog, settings)


def test_every_filterable_family_can_be_selected_in_a_configured_feed() -> None:
    params = {family.filter_param for family in FAMILIES if family.filter_param}
    assert params <= set(SELECTION_KEYS.values())


def test_configured_feeds_are_exported_and_served_with_the_same_bytes(tmp_path: Path) -> None:
    settings = configured()
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    export_site(catalog, settings, tmp_path / "out")
    paths = site_paths(catalog, settings)
    ours = [p for p in paths if "feeds/" in p]
    assert "feeds/diablo-news.rss" in ours and "feeds/nothing-yet.json" in ours
    assert any(p.startswith("archive/feeds/") for p in ours), "archived (RFC 5005)"
    client = create_app(settings).test_client()
    for path in ours:
        exported = (tmp_path / "out" / path).read_bytes()
        assert exported == render_path(path, catalog, settings).body, path
        response = client.get("/" + path)
        assert response.status_code == 200 and response.data == exported, path


def test_a_configured_feed_serves_the_items_the_filter_url_serves() -> None:
    settings = configured()
    client = create_app(settings).test_client()
    for definition in settings.feeds:
        query = "&".join(f"{k}={v}" for k, v in definition.filter_pairs())
        ours = feedparser.parse(client.get(f"/feeds/{definition.slug}.rss").data)
        theirs = feedparser.parse(client.get(f"/filter.rss?{query}").data)
        assert [e.id for e in ours.entries] == [e.id for e in theirs.entries], definition.slug
        own = json.loads(client.get(f"/feeds/{definition.slug}.json").data)
        assert own["feed_url"] == f"{BASE_URL}feeds/{definition.slug}.json"


def test_the_index_and_the_opml_list_configured_feeds_with_their_titles() -> None:
    definition = FeedDefinition("diablo-news", "Diablo news", "All about Diablo.", (("topics", ("Diablo 4",)),))
    settings = configured(feeds=(definition,))
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    feed = catalog.get("feeds/diablo-news")
    assert (feed.name, feed.title, feed.description) == ("Diablo news", "Diablo news — News feeds", "All about Diablo.")
    index = render_path("index.html", catalog, settings).body.decode()
    assert '<h2 id="family-configured">Configured feeds</h2>' in index
    assert f"{BASE_URL}feeds/diablo-news.atom" in index and f"{BASE_URL}feeds/diablo-news.html" in index
    assert render_path("feeds/diablo-news.html", catalog, settings) is not None  # its page for people
    opml = render_path("feeds.opml", catalog, settings).body.decode()
    assert 'text="Configured feeds"' in opml and f'xmlUrl="{BASE_URL}feeds/diablo-news.rss"' in opml


def test_a_new_matching_article_pings_the_configured_feed() -> None:
    settings = configured(feeds=(FeedDefinition("space", None, None, (("topics", ("Space",)),)),))
    articles = read_folder(SAMPLES, settings).articles
    space = [a for a in articles if "Space" in a.topics]
    before = build_catalog([a for a in articles if a is not space[0]], settings)
    after = build_catalog(articles, settings)
    changed = set(changed_feed_paths(before, after, settings))
    assert {"feeds/space.rss", "feeds/space.atom", "feeds/space.json"} <= changed


@pytest.mark.parametrize(
    ("feeds_yaml", "key", "message"),
    [
        ("  ../etc: {topics: [AI]}\n", "feeds.../etc", "slug"),
        ("  Diablo: {topics: [AI]}\n", "feeds.Diablo", "slug"),
        ("  -x-: {topics: [AI]}\n", "feeds.-x-", "slug"),
        ("  ai: {topics: [AI]}\n  ai: {topics: [ML]}\n", "ai", "given twice"),
        ("  ai: {topics: [AI], colour: blue}\n", "feeds.ai.colour", "unknown key"),
        ("  ai: {}\n", "feeds.ai", "selects nothing"),
        ("  ai: {title: AI}\n", "feeds.ai", "selects nothing"),
        ("  ai: {topics: AI}\n", "feeds.ai.topics", "list of non-empty strings"),
        ("  ai: {topics: []}\n", "feeds.ai.topics", "at least one"),
        ("  ai: {min_quality: high}\n", "feeds.ai.min_quality", "whole number"),
        ("  ai: {query: ['...']}\n", "feeds.ai.query", "word"),
        ("  ai: [AI]\n", "feeds.ai", "mapping"),
    ],
)
def test_a_bad_feed_definition_exits_2_naming_the_file_and_key(
    tmp_path: Path, feeds_yaml: str, key: str, message: str
) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(f"articles_dir: {SAMPLES}\nfeeds:\n{feeds_yaml}")
    done = run("check", "--config", str(config), cache=tmp_path / "cache")
    assert done.returncode == 2, (done.stdout, done.stderr)
    last = done.stderr.strip().splitlines()[-1]
    assert str(config) in last and f"key '{key}'" in last and message in last, last
    assert "Traceback" not in done.stderr


def test_the_shipped_config_has_a_configured_feed_that_checks() -> None:
    settings = load_settings(Path(__file__).resolve().parent.parent / "config" / "feeds.yaml")
    assert settings.feeds and all(isinstance(d, FeedDefinition) for d in settings.feeds)


# a family the project does not ship, defined here as the README's per-author example is: one spec
KINDS = Family(
    name="kinds",
    folder="kinds",
    heading="Kinds",
    values=lambda settings, lookup: lambda article: article.kind,  # one value, or None
    single=True,
    feed_name=lambda key, spellings, settings: most_used(spellings),
    title=lambda key, name, settings: f"{name} — {settings.site_title}",
    description=lambda key, name, settings: f"The newest articles of kind {name}.",
    filter_param="type",
    key_of_name=lambda name, settings: name.casefold(),
)


def test_a_new_family_is_one_spec_and_every_loop_picks_it_up() -> None:
    settings = configured(feeds=())
    articles = read_folder(SAMPLES, settings).articles
    families = (*FAMILIES[:-1], KINDS, FAMILIES[-1])
    catalog = build_catalog(articles, settings, families)
    videos = catalog.get("kinds/video")
    assert videos is not None and videos.items and all(a.kind == "video" for a in videos.items)
    assert "kinds/article.atom" in site_paths(catalog, settings)
    assert "archive/kinds/article/1.rss" in site_paths(catalog, settings)
    assert 'id="family-kinds">Kinds' in render_path("index.html", catalog, settings).body.decode()
    assert 'text="Kinds"' in render_path("feeds.opml", catalog, settings).body.decode()
    everything = catalog.everything.items + catalog.everything.older[::-1]
    wanted = parse_filter([("type", "Video"), ("topic", "space")], catalog, settings)
    assert wanted.query() == "topic=space&type=video"
    positions = FilterIndex(everything, catalog, settings).positions(wanted_keys(wanted, catalog))
    matching = filter_feed(everything, positions, wanted, settings).items
    assert matching == tuple(a for a in everything if a.kind == "video" and "Space" in a.topics)
    assert [f.family for f in catalog.feeds] == sorted((f.family for f in catalog.feeds), key=families.index)
