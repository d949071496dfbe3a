"""Filtered feeds (``/filter.rss?topic=ai&q=robot``): query → normalized filter → matching articles.

:func:`parse_filter` turns query parameters into a :class:`FeedFilter` (or a
one-line :class:`FilterError`); :class:`FilterIndex`, built once per snapshot,
finds its articles without scanning them all; :func:`filter_feed` makes the
feed. :func:`matches` is the definition the index is held to.
"""

from __future__ import annotations

import bisect
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from feeds.catalog import Catalog, Feed, FeedKind, provider_key, topic_aliases, topic_key
from feeds.config import Settings
from feeds.model import Article

FILTER_KEYS = ("topic", "provider", "min_quality", "q")
MAX_FILTER_PARAMS = 20
MAX_FILTER_CHARS = 100
_WORD = re.compile(r"\w+")
_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")
# control characters (XML 1.0 forbids most; none belongs in a filter value)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class FilterError(ValueError):
    """A filter query the app refuses (400); the message is one line."""


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """A normalized filter: OR within a kind, AND across kinds; values deduplicated and sorted.

    Topics and providers are the feed slug when the catalog knows them,
    otherwise their identity key; words are casefolded. So equal queries
    written in any order, case or spelling give one filter and one set of bytes.
    """

    topics: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    min_quality: int | None = None
    words: tuple[str, ...] = ()

    def query(self) -> str:
        """The canonical query string (fixed key order, sorted values), without '?'."""
        pairs = [("topic", t) for t in self.topics] + [("provider", p) for p in self.providers]
        if self.min_quality is not None:
            pairs.append(("min_quality", str(self.min_quality)))
        pairs += [("q", w) for w in self.words]
        return urlencode(pairs)


def parse_filter(
    pairs: Iterable[tuple[str, str]], catalog: Catalog, settings: Settings
) -> FeedFilter:
    """Query parameters → a normalized FeedFilter, or FilterError naming what is wrong."""
    pairs = list(pairs)
    if len(pairs) > MAX_FILTER_PARAMS:
        raise FilterError(f"at most {MAX_FILTER_PARAMS} filter parameters, got {len(pairs)}")
    aliases = topic_aliases(settings)
    topic_slugs = {f.key: f.slug for f in catalog.of_kind(FeedKind.TOPIC)}
    values: dict[str, list[str]] = {key: [] for key in FILTER_KEYS}
    for key, value in pairs:
        if key not in values:
            raise FilterError(f"unknown parameter {key[:40]!r}; use {', '.join(FILTER_KEYS)}")
        if len(value) > MAX_FILTER_CHARS:
            raise FilterError(f"{key} must be at most {MAX_FILTER_CHARS} characters")
        if not value.strip():
            raise FilterError(f"{key} must not be empty")
        if _CONTROL.search(value):
            raise FilterError(f"{key} must not contain control characters")
        values[key].append(value.strip())
    topics = {_topic_id(v, catalog, aliases, topic_slugs) for v in values["topic"]}
    providers = {_provider_id(v, catalog) for v in values["provider"]}
    words = set()
    for value in values["q"]:
        found = _WORD.findall(value.casefold())
        if not found:
            raise FilterError("q must contain a word (letters or digits)")
        words.add(" ".join(found))
    qualities = set(values["min_quality"])
    if len(qualities) > 1:
        raise FilterError("min_quality may be given once")
    quality = None
    if qualities:
        text = qualities.pop()
        if not _INTEGER.fullmatch(text):
            raise FilterError("min_quality must be a whole number")
        quality = int(text)
    return FeedFilter(
        tuple(sorted(topics)), tuple(sorted(providers)), quality, tuple(sorted(words))
    )


def _topic_id(value: str, catalog: Catalog, aliases: dict[str, str], slugs: dict[str, str]) -> str:
    key = topic_key(value, aliases)
    if key in slugs:
        return slugs[key]
    feed = catalog.get(f"{FeedKind.TOPIC.value}/{value.lower()}")
    path = catalog.redirects.get(f"{FeedKind.TOPIC.value}/{value.lower()}")
    feed = feed or (catalog.get(path) if path else None)
    return feed.slug if feed is not None else key


def _provider_id(value: str, catalog: Catalog) -> str:
    key = provider_key(value, None)
    if key in catalog.provider_slugs:
        return catalog.provider_slugs[key]
    feed = catalog.get(f"{FeedKind.PROVIDER.value}/{value.lower()}")
    return feed.slug if feed is not None else key


def _words(article: Article) -> set[str]:
    return set(_WORD.findall(f"{article.title}\n{article.summary}".casefold()))


@dataclass(frozen=True, slots=True)
class WantedKeys:
    """A filter in the terms articles are indexed by: topic keys, provider keys, word phrases."""

    topics: frozenset[str]
    providers: frozenset[str]
    min_quality: int | None
    phrases: tuple[tuple[str, ...], ...]


def wanted_keys(wanted: FeedFilter, catalog: Catalog) -> WantedKeys:
    """The identity keys a filter's slugs stand for in ``catalog``."""
    slug_keys = {f.slug: f.key for f in catalog.of_kind(FeedKind.TOPIC)}
    providers = {k for k, slug in catalog.provider_slugs.items() if slug in wanted.providers}
    return WantedKeys(
        frozenset(slug_keys.get(t, t) for t in wanted.topics),
        frozenset(providers | set(wanted.providers)),
        wanted.min_quality,
        tuple(tuple(w.split()) for w in wanted.words),
    )


def matches(article: Article, keys: WantedKeys, aliases: dict[str, str]) -> bool:
    """The filter's definition, one article at a time: the reference :class:`FilterIndex` is tested against."""
    if keys.min_quality is not None and (article.quality is None or article.quality < keys.min_quality):
        return False
    if keys.topics and not any(topic_key(t, aliases) in keys.topics for t in article.topics):
        return False
    if keys.providers and (
        article.provider is None
        or provider_key(article.provider.name, article.provider.domain) not in keys.providers
    ):
        return False
    if keys.phrases:
        words = _words(article)
        return any(all(w in words for w in phrase) for phrase in keys.phrases)
    return True


class FilterIndex:
    """Where each topic, provider, word and quality occurs among a snapshot's articles (issue 16).

    Built once per snapshot, over its articles newest first: each key maps to
    the positions of the articles holding it, in an ``array`` of 4-byte
    integers (a Python set per key would cost ten times the memory). A filter
    is then a few set unions and intersections over the keys it names, not a
    scan of every article: milliseconds at 100,000 articles. :meth:`positions`
    equals the positions :func:`matches` accepts (a property test holds it to that).
    """

    def __init__(self, articles: Sequence[Article], settings: Settings) -> None:
        aliases = topic_aliases(settings)
        topics: dict[str, list[int]] = {}
        providers: dict[str, list[int]] = {}
        words: dict[str, list[int]] = {}
        qualities: list[tuple[int, int]] = []
        for position, article in enumerate(articles):
            for key in {topic_key(t, aliases) for t in article.topics}:
                topics.setdefault(key, []).append(position)
            if article.provider is not None:
                key = provider_key(article.provider.name, article.provider.domain)
                providers.setdefault(key, []).append(position)
            for word in _words(article):
                words.setdefault(word, []).append(position)
            if article.quality is not None:
                qualities.append((article.quality, position))
        qualities.sort()
        self.count = len(articles)
        self._topics = {key: array("I", found) for key, found in topics.items()}
        self._providers = {key: array("I", found) for key, found in providers.items()}
        self._words = {key: array("I", found) for key, found in words.items()}
        self._quality_values = [quality for quality, _ in qualities]
        self._quality_positions = array("I", (position for _, position in qualities))
        postings = sum(len(found) for table in (self._topics, self._providers, self._words) for found in table.values())
        # what the index holds, roughly: 4 bytes a posting, ~120 a key (the str, its array, its dict slot)
        self.nbytes = 4 * postings + 120 * (len(self._topics) + len(self._providers) + len(self._words))
        self.nbytes += 40 * len(qualities)

    def positions(self, keys: WantedKeys) -> list[int]:
        """Positions of the matching articles, ascending (newest first)."""
        found: set[int] | None = None
        for part in self._parts(keys):
            found = part if found is None else found & part
            if not found:
                return []
        return sorted(found) if found is not None else list(range(self.count))

    def _parts(self, keys: WantedKeys) -> Iterator[set[int]]:
        """One set of positions per kind the filter names (AND across them)."""
        if keys.topics:
            yield set().union(*(self._topics.get(key, ()) for key in keys.topics))
        if keys.providers:
            yield set().union(*(self._providers.get(key, ()) for key in keys.providers))
        if keys.min_quality is not None:
            yield set(self._quality_positions[bisect.bisect_left(self._quality_values, keys.min_quality) :])
        if keys.phrases:
            phrases = set()
            for phrase in keys.phrases:
                postings = sorted((self._words.get(word, array("I")) for word in phrase), key=len)
                within = set(postings[0])
                for posting in postings[1:]:
                    within.intersection_update(posting)
                phrases |= within
            yield phrases


def filter_feed(
    articles: Sequence[Article], index: FilterIndex, wanted: FeedFilter, catalog: Catalog, settings: Settings
) -> Feed:
    """The filtered feed: every matching article (``articles`` newest first, indexed by ``index``), the newest N as
    items."""
    positions = index.positions(wanted_keys(wanted, catalog))
    title = f"Filtered: {_describe(wanted)} — {settings.site_title}"
    return Feed(
        kind=FeedKind.ALL,
        key="filter",
        slug="filter",
        name=title,
        title=title,
        description=f"The newest articles matching {_describe(wanted)}.",
        items=tuple(articles[p] for p in positions[: settings.items_per_feed]),
        total=len(positions),
    )


def _describe(wanted: FeedFilter) -> str:
    parts = []
    if wanted.topics:
        parts.append("topic " + " or ".join(wanted.topics))
    if wanted.providers:
        parts.append("provider " + " or ".join(wanted.providers))
    if wanted.min_quality is not None:
        parts.append(f"quality at least {wanted.min_quality}")
    if wanted.words:
        parts.append("words " + " or ".join(f"“{w}”" for w in wanted.words))
    return "; ".join(parts) or "everything"
