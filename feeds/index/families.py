"""Feed families as data: one :class:`Family` spec per kind of feed.

A family says where its feeds live (URL folder), how an article maps to its
feeds' keys, how a feed is named and titled, how its names are resolved from
what a user writes (the live filter's parameter), and which redirects it has.
The catalog, the site's paths, the index and OPML sections, the web app and the
live filters loop over the specs (:data:`feeds.index.catalog.FAMILIES`) and name none.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from feeds.config import Settings
from feeds.index.identity import assign_slugs, make_slug, provider_key, topic_aliases, topic_key
from feeds.model import Article


class Lookup(Protocol):
    """What a family may resolve names against: the catalog (or the part of it built so far)."""

    families: tuple[Family, ...]
    redirects: dict[str, str]
    family_slugs: dict[Family, dict[str, str]]

    def get(self, path: str) -> Feed | None: ...


@dataclass(frozen=True, eq=False)
class Family:
    """One family of feeds. Every callable is pure; the catalog calls the factories once per build.

    - ``folder``: the URL folder of its feeds (``topics`` → ``topics/<slug>``); '' puts a
      feed at the top (``all``).
    - ``values(settings, lookup)`` → a function from an article to what decides its feeds in
      this family: a sequence (its topics), or with ``single`` one value or None (its
      provider). ``key_of(settings)`` → a function from one value to its (identity key,
      spelling), worked out once per distinct value in a build; an article counts once per
      key. ``values`` None: the family is one feed, ``fixed_key``, of every article.
    - ``needs_lookup``: its keys resolve names against the families before it (built first).
    - ``feed_name(key, spellings, settings)``: the display name (``spellings`` counts how
      articles wrote the key); ``title`` and ``description`` of ``(key, name, settings)``.
    - ``slugs(names, settings)``: key → unique slug (default :func:`feeds.index.identity.assign_slugs`).
    - ``filter_param``/``key_of_name``: the live filter's parameter naming its feeds, and a
      name as a person writes it → its identity key.
    - ``reads(settings)``: the Article fields its keys depend on (beyond the catalog's head fields).
    - ``source_feed``: an RSS item's ``<source url>`` is the article's feed in this family.
    - ``declared(settings)``: keys that have a feed even when no article has them (configured feeds).
    """

    name: str  # what it is called in identifiers (the index page's section id: family-<name>)
    folder: str
    heading: str
    feed_name: Callable[[str, Counter, Settings], str]
    title: Callable[[str, str, Settings], str]
    description: Callable[[str, str, Settings], str]
    values: Callable[[Settings, Lookup], Callable[[Article], Any] | None] | None = None
    key_of: Callable[[Settings], Callable[[Hashable], tuple[str, str]]] = lambda settings: lambda value: (value, value)
    single: bool = False
    fixed_key: str = ""
    needs_lookup: bool = False
    slugs: Callable[[dict[str, str], Settings], dict[str, str]] = lambda names, settings: assign_slugs(names)
    redirects: Callable[[Family, list[Feed], Settings], dict[str, str]] = lambda family, feeds, settings: {}
    filter_param: str | None = None
    key_of_name: Callable[[str, Settings], str] | None = None
    reads: Callable[[Settings], frozenset[str]] = lambda settings: frozenset()
    source_feed: bool = False
    declared: Callable[[Settings], tuple[str, ...]] = lambda settings: ()

    def article_keys(self, settings: Settings, lookup: Lookup) -> Callable[[Article], tuple[str, ...]]:
        """A function from an article to its keys in this family, each once; each value's key worked out once.

        For the live filters (one pass each); the catalog's own pass inlines the same steps.
        """
        values_of = self.values(settings, lookup) if self.values is not None else None
        key_of, single, fixed = self.key_of(settings), self.single, (self.fixed_key,)
        memo: dict[Hashable, str] = {}

        def keys(article: Article) -> tuple[str, ...]:
            if self.values is None:
                return fixed
            values = values_of(article) if values_of is not None else ()
            if single:
                values = () if values is None else (values,)
            found = []
            for value in values:
                key = memo.get(value)
                if key is None:
                    key = memo[value] = key_of(value)[0]
                if key not in found:
                    found.append(key)
            return tuple(found)

        return keys

    def path(self, slug: str) -> str:
        """A feed's site path without extension: ``topics/ai``, or the slug alone at the top."""
        return f"{self.folder}/{slug}" if self.folder else slug

    def __repr__(self) -> str:
        return f"Family({self.name!r})"


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed, format-independent: what it is, where it lives and its newest items.

    ``path`` is the URL path without extension and without a leading slash
    (``all``, ``topics/ai``); ``total`` counts every article it has, not only
    the newest ``items``. ``older`` holds the rest, oldest first (so appending a
    newer article only ever extends its end): the RFC 5005 archive pages'
    items, see :func:`archive_pages`. ``items + reversed(older)`` is every article.
    """

    family: Family
    key: str
    slug: str
    name: str
    title: str
    description: str
    items: tuple[Article, ...]
    total: int
    older: tuple[Article, ...] = ()

    @property
    def path(self) -> str:
        return self.family.path(self.slug)

    @property
    def updated(self) -> datetime | None:
        """The newest item's date: the feed's ``updated`` and Last-Modified."""
        return self.items[0].published_at if self.items else None


def most_used(spellings: Counter) -> str:
    """The most used spelling; ties: the first sorted."""
    return min(spellings.items(), key=lambda item: (-item[1], item[0]))[0]


# --- all: one feed of every article -------------------------------------------------------------

ALL = Family(
    name="all",
    folder="",
    heading="All articles",
    fixed_key="all",
    feed_name=lambda key, spellings, settings: settings.site_title,
    title=lambda key, name, settings: name,
    description=lambda key, name, settings: settings.site_description,
    slugs=lambda names, settings: {key: key for key in names},
)


# --- topics: a feed per topic (aliases applied) ---------------------------------------------------


def _topic_key_of(settings: Settings) -> Callable[[Hashable], tuple[str, str]]:
    aliases = topic_aliases(settings)
    return lambda topic: (topic_key(topic, aliases), topic)


def _topic_name(key: str, spellings: Counter, settings: Settings) -> str:
    """The configured spelling when the key is an alias target, else the most used."""
    configured = {" ".join(t.split()).casefold(): " ".join(t.split()) for t in topic_aliases(settings).values()}
    preferred = configured.get(key)
    return preferred if preferred is not None else most_used(spellings)


def _alias_redirects(family: Family, feeds: list[Feed], settings: Settings) -> dict[str, str]:
    """Non-canonical paths that should 301 to a feed: an alias's slug."""
    canonical = {f.path for f in feeds}
    by_key = {f.key: f for f in feeds}
    redirects: dict[str, str] = {}
    for alias, target in sorted(topic_aliases(settings).items()):
        feed = by_key.get(" ".join(target.split()).casefold())
        path = family.path(make_slug(alias))
        if feed is not None and path not in canonical:
            redirects.setdefault(path, feed.path)
    return redirects


TOPICS = Family(
    name="topic",
    folder="topics",
    heading="Topics",
    values=lambda settings, lookup: operator.attrgetter("topics"),
    key_of=_topic_key_of,
    feed_name=_topic_name,
    title=lambda key, name, settings: f"{name} — {settings.site_title}",
    description=lambda key, name, settings: f"The newest articles about {name}.",
    redirects=_alias_redirects,
    filter_param="topic",
    key_of_name=lambda name, settings: topic_key(name, topic_aliases(settings)),
)


# --- providers: a feed per provider ----------------------------------------------------------------


PROVIDERS = Family(
    name="provider",
    folder="providers",
    heading="Providers",
    values=lambda settings, lookup: operator.attrgetter("provider"),
    single=True,
    key_of=lambda settings: lambda provider: (provider_key(provider.name, provider.domain), provider.name),
    feed_name=lambda key, spellings, settings: most_used(spellings),
    title=lambda key, name, settings: f"{name} — {settings.site_title}",
    description=lambda key, name, settings: f"The newest articles from {name}.",
    filter_param="provider",
    key_of_name=lambda name, settings: provider_key(name, None),
    source_feed=True,
)
