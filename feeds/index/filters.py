"""Selections of articles: the live app's ``/filter`` query and the config's ``feeds:``, one meaning.

A :class:`FeedFilter` is normalized (values deduplicated and sorted, names
resolved to feed slugs), so equal queries written in any order, case or
spelling are one filter. Its semantics: values of one key match any of them;
different keys must all match. Names are resolved through every family with a
filter parameter (:attr:`feeds.index.families.Family.filter_param`), never by naming one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from feeds.config import Settings
from feeds.index.families import Family, Feed, Lookup
from feeds.model import Article

KIND_PARAM, QUALITY_PARAM, WORDS_PARAM = "kind", "min_quality", "q"
MAX_FILTER_PARAMS = 20
MAX_FILTER_CHARS = 100
_WORD = re.compile(r"\w+")
_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")
# control characters (XML 1.0 forbids most; none belongs in a filter value)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class FilterError(ValueError):
    """A filter the app refuses (400); the message is one line."""


def filter_params(lookup: Lookup) -> tuple[str, ...]:
    """Every parameter a filter takes: one per filterable family, then kind, min_quality and q."""
    families = tuple(f.filter_param for f in lookup.families if f.filter_param)
    return (*families, KIND_PARAM, QUALITY_PARAM, WORDS_PARAM)


@dataclass(frozen=True, slots=True)
class FeedFilter:
    """A normalized filter: OR within a key, AND across keys.

    ``names`` holds, per filterable family (its parameter, in family order), the
    wanted feeds: their slug when the catalog knows them, otherwise their identity
    key. ``kinds`` and ``words`` are casefolded.
    """

    names: tuple[tuple[str, tuple[str, ...]], ...] = ()
    kinds: tuple[str, ...] = ()
    min_quality: int | None = None
    words: tuple[str, ...] = ()

    def query(self) -> str:
        """The canonical query string (fixed key order, sorted values), without '?'."""
        pairs = [(param, value) for param, values in self.names for value in values]
        pairs += [(KIND_PARAM, kind) for kind in self.kinds]
        if self.min_quality is not None:
            pairs.append((QUALITY_PARAM, str(self.min_quality)))
        pairs += [(WORDS_PARAM, word) for word in self.words]
        return urlencode(pairs)

    def describe(self) -> str:
        """In words, for a feed's title: ``topic ai or robotics; quality at least 50``."""
        parts = [f"{param} " + " or ".join(values) for param, values in self.names]
        if self.kinds:
            parts.append("kind " + " or ".join(self.kinds))
        if self.min_quality is not None:
            parts.append(f"quality at least {self.min_quality}")
        if self.words:
            parts.append("words " + " or ".join(f"“{w}”" for w in self.words))
        return "; ".join(parts) or "everything"


def parse_filter(
    pairs: Iterable[tuple[str, str]], lookup: Lookup, settings: Settings, *, limited: bool = True
) -> FeedFilter:
    """(parameter, value) pairs → a normalized FeedFilter, or FilterError naming what is wrong.

    ``limited``: a request's limits apply (at most MAX_FILTER_PARAMS values of
    MAX_FILTER_CHARS characters); the config's feeds are checked by the config.
    """
    pairs = list(pairs)
    if limited and len(pairs) > MAX_FILTER_PARAMS:
        raise FilterError(f"at most {MAX_FILTER_PARAMS} filter parameters, got {len(pairs)}")
    params = filter_params(lookup)
    values: dict[str, list[str]] = {param: [] for param in params}
    for key, value in pairs:
        if key not in values:
            raise FilterError(f"unknown parameter {key[:40]!r}; use {', '.join(params)}")
        if limited and len(value) > MAX_FILTER_CHARS:
            raise FilterError(f"{key} must be at most {MAX_FILTER_CHARS} characters")
        if not value.strip():
            raise FilterError(f"{key} must not be empty")
        if _CONTROL.search(value):
            raise FilterError(f"{key} must not contain control characters")
        values[key].append(value.strip())
    names = []
    for family in lookup.families:
        if family.filter_param and values[family.filter_param]:
            ids = {_feed_id(family, value, lookup, settings) for value in values[family.filter_param]}
            names.append((family.filter_param, tuple(sorted(ids))))
    words = set()
    for value in values[WORDS_PARAM]:
        found = _WORD.findall(value.casefold())
        if not found:
            raise FilterError(f"{WORDS_PARAM} must contain a word (letters or digits)")
        words.add(" ".join(found))
    qualities = set(values[QUALITY_PARAM])
    if len(qualities) > 1:
        raise FilterError(f"{QUALITY_PARAM} may be given once")
    quality = None
    if qualities:
        text = qualities.pop()
        if not _INTEGER.fullmatch(text):
            raise FilterError(f"{QUALITY_PARAM} must be a whole number")
        quality = int(text)
    kinds = tuple(sorted({value.casefold() for value in values[KIND_PARAM]}))
    return FeedFilter(tuple(names), kinds, quality, tuple(sorted(words)))


def _feed_id(family: Family, value: str, lookup: Lookup, settings: Settings) -> str:
    """A name, slug or alias of one of ``family``'s feeds → the feed's slug; an unknown name → its key."""
    assert family.key_of_name is not None  # a family with a filter parameter resolves names
    key = family.key_of_name(value, settings)
    slugs = lookup.family_slugs.get(family, {})
    if key in slugs:
        return slugs[key]
    path = family.path(value.lower())
    feed = lookup.get(path)
    if feed is None and path in lookup.redirects:
        feed = lookup.get(lookup.redirects[path])
    return feed.slug if feed is not None and feed.family is family else key


def article_words(article: Article) -> set[str]:
    """The words of the title and summary, casefolded: what ``q`` looks for."""
    return set(_WORD.findall(f"{article.title}\n{article.summary}".casefold()))


@dataclass(frozen=True, slots=True)
class WantedKeys:
    """A filter in the terms articles are matched and indexed by: per family parameter the wanted
    identity keys (any), kinds (any), the least quality, word phrases (any; all words of one)."""

    names: tuple[tuple[str, frozenset[str]], ...]
    kinds: frozenset[str]
    min_quality: int | None
    phrases: tuple[tuple[str, ...], ...]


def wanted_keys(wanted: FeedFilter, lookup: Lookup) -> WantedKeys:
    """The identity keys a filter's slugs stand for in ``lookup`` (an unknown name stands for its key)."""
    by_param = {f.filter_param: f for f in lookup.families if f.filter_param}
    names = []
    for param, ids in wanted.names:
        slug_keys = {slug: key for key, slug in lookup.family_slugs.get(by_param[param], {}).items()}
        names.append((param, frozenset(slug_keys.get(i, i) for i in ids)))
    phrases = tuple(tuple(w.split()) for w in wanted.words)
    return WantedKeys(tuple(names), frozenset(wanted.kinds), wanted.min_quality, phrases)


def matcher(wanted: FeedFilter, lookup: Lookup, settings: Settings) -> Callable[[Article], bool]:
    """The filter's definition, one article at a time: configured feeds use it, and
    :class:`feeds.index.filter_index.FilterIndex` is held to it.

    Feeds are matched by identity key (a slug is mapped back to its key) through each
    family's own keys of the article (:meth:`feeds.index.families.Family.article_keys`).
    """
    keys = wanted_keys(wanted, lookup)
    by_param = {f.filter_param: f for f in lookup.families if f.filter_param}
    checks: list[Callable[[Article], bool]] = []
    for param, wanted_ids in keys.names:
        keys_of = by_param[param].article_keys(settings, lookup)
        checks.append(lambda article, keys_of=keys_of, ids=wanted_ids: not ids.isdisjoint(keys_of(article)))
    if keys.kinds:
        kinds = keys.kinds
        checks.append(lambda article: article.kind is not None and article.kind.casefold() in kinds)
    if keys.min_quality is not None:
        low = keys.min_quality
        checks.append(lambda article: article.quality is not None and article.quality >= low)
    if keys.phrases:
        phrases = keys.phrases

        def has_words(article: Article) -> bool:
            words = article_words(article)
            return any(all(w in words for w in phrase) for phrase in phrases)

        checks.append(has_words)  # last: it reads the article's text (the details, for a cached article)

    def test(article: Article) -> bool:
        for check in checks:
            if not check(article):
                return False
        return True

    return test


# --- the live app's /filter feeds ---------------------------------------------------------------------

# the family of a /filter feed: made per request from a query, never in the catalog
FILTERED = Family(
    name="filter",
    folder="",
    heading="Filtered",
    fixed_key="filter",
    feed_name=lambda key, spellings, settings: key,
    title=lambda key, name, settings: name,
    description=lambda key, name, settings: name,
)


def filter_feed(
    articles: Sequence[Article], positions: Sequence[int], wanted: FeedFilter, settings: Settings
) -> Feed:
    """The filtered feed of ``wanted``: ``positions`` are its matching articles among ``articles`` (newest
    first), as :class:`feeds.index.filter_index.FilterIndex` finds them; the newest N are its items."""
    title = f"Filtered: {wanted.describe()} — {settings.site_title}"
    return Feed(
        family=FILTERED,
        key="filter",
        slug="filter",
        name=title,
        title=title,
        description=f"The newest articles matching {wanted.describe()}.",
        items=tuple(articles[p] for p in positions[: settings.items_per_feed]),
        total=len(positions),
    )
