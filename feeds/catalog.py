"""Articles → the Catalog: every feed that exists, its slug, its path and its newest items.

Built in one pass over the articles (sorted once, newest first), never one scan
per feed. Everything here is decided by the articles and the settings alone, so
the same input gives the same catalog whatever the file order.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from slugify import slugify

from feeds.config import Settings
from feeds.model import Article

MAX_SLUG_CHARS = 80
# "C++" and "C#" must not both become "c" (python-slugify would drop the signs)
_SLUG_REPLACEMENTS = [["++", " plus plus "], ["+", " plus "], ["#", " sharp "], ["&", " and "], ["@", " at "]]
_DOMAIN_SUFFIX = re.compile(r"\.(?:com|net|org|co\.uk|co|io|uk|de|fr|eu|info|news|tv)$", re.IGNORECASE)


class FeedKind(enum.Enum):
    """The three families of feeds; the value is the URL folder ('' for the all feed)."""

    ALL = ""
    TOPIC = "topics"
    PROVIDER = "providers"


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed, format-independent: what it is, where it lives and its newest items.

    ``path`` is the URL path without extension and without a leading slash
    (``all``, ``topics/ai``); ``total`` counts every article it has, not only
    the newest ``items``.
    """

    kind: FeedKind
    key: str
    slug: str
    name: str
    title: str
    description: str
    items: tuple[Article, ...]
    total: int

    @property
    def path(self) -> str:
        return self.slug if self.kind is FeedKind.ALL else f"{self.kind.value}/{self.slug}"

    @property
    def updated(self) -> datetime | None:
        """The newest item's date: the feed's ``updated`` and Last-Modified."""
        return self.items[0].published_at if self.items else None


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every feed, in a fixed order (all, topics by slug, providers by slug), plus redirects.

    ``redirects`` maps a non-canonical path (another case, a topic alias) to the
    canonical feed path, for the web app's 301s.
    """

    feeds: tuple[Feed, ...]
    by_path: dict[str, Feed]
    redirects: dict[str, str]
    provider_slugs: dict[str, str]
    article_count: int
    unpublished_count: int

    def get(self, path: str) -> Feed | None:
        return self.by_path.get(path)

    def of_kind(self, kind: FeedKind) -> tuple[Feed, ...]:
        return tuple(feed for feed in self.feeds if feed.kind is kind)


def topic_key(name: str, aliases: dict[str, str]) -> str:
    """Topic identity: case and surrounding space folded, aliases applied."""
    folded = " ".join(name.split()).casefold()
    return " ".join(aliases.get(folded, folded).split()).casefold()


def provider_key(name: str, domain: str | None) -> str:
    """Provider identity: the name folded to letters and digits, a trailing TLD dropped.

    So "GameRant on MSN", "Game Rant on MSN" and "GameRant on MSN.com" are one
    provider, and "Comicbook.com" is "Comicbook". Brands syndicated on one host
    (msn.com, youtube.com) stay apart because the name, not the domain, decides.
    """
    key = slugify(_DOMAIN_SUFFIX.sub("", name.strip()), separator="")
    return key or slugify(domain or "", separator="") or "unknown"


def make_slug(name: str) -> str:
    """A URL-safe slug: lowercase ASCII letters, digits and single hyphens, never empty."""
    slug = slugify(name, max_length=MAX_SLUG_CHARS, word_boundary=True, replacements=_SLUG_REPLACEMENTS)
    return slug or "x-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def assign_slugs(names: dict[str, str]) -> dict[str, str]:
    """identity key → unique slug, stable across runs.

    When several keys fold to one slug, the key that sorts first keeps the plain
    slug and every other gets ``-`` and 6 hex digits of its key's SHA-256, so a
    key's slug never depends on file order.
    """
    by_slug: dict[str, list[str]] = defaultdict(list)
    for key, name in names.items():
        by_slug[make_slug(name)].append(key)
    slugs: dict[str, str] = {}
    taken = set(by_slug)
    for slug, keys in sorted(by_slug.items()):
        keys.sort()
        slugs[keys[0]] = slug
        for key in keys[1:]:
            digest = hashlib.sha256(key.encode()).hexdigest()
            length = 6
            candidate = f"{slug[: MAX_SLUG_CHARS - 7]}-{digest[:length]}"
            while candidate in taken:
                length += 2
                candidate = f"{slug[: MAX_SLUG_CHARS - length - 1]}-{digest[:length]}"
            taken.add(candidate)
            slugs[key] = candidate
    return slugs


def _display_name(spellings: Counter) -> str:
    """The most used spelling; ties go to the one that sorts first."""
    return min(spellings.items(), key=lambda item: (-item[1], item[0]))[0]


def select_articles(articles: Iterable[Article], settings: Settings) -> list[Article]:
    """The articles the feeds publish: config filters applied, newest first, ties by uid."""
    kinds = {k.lower() for k in settings.kinds}
    chosen = [
        a
        for a in articles
        if (a.published or settings.include_unpublished)
        and (settings.min_quality is None or (a.quality is not None and a.quality >= settings.min_quality))
        and (not kinds or (a.kind or "") in kinds)
    ]
    chosen.sort(key=lambda a: (-a.published_at.timestamp(), a.uid))
    return chosen


def build_catalog(articles: Iterable[Article], settings: Settings) -> Catalog:
    """Group the selected articles into the all feed, topic feeds and provider feeds."""
    all_articles = list(articles)
    ordered = select_articles(all_articles, settings)
    aliases = {" ".join(a.split()).casefold(): t for a, t in settings.topic_aliases}
    limit = settings.items_per_feed

    groups: dict[tuple[FeedKind, str], list[Article]] = defaultdict(list)
    totals: Counter = Counter()
    spellings: dict[tuple[FeedKind, str], Counter] = defaultdict(Counter)
    for article in ordered:
        memberships = [(FeedKind.TOPIC, topic_key(t, aliases), aliases.get(t.casefold(), t)) for t in article.topics]
        if article.provider is not None:
            key = provider_key(article.provider.name, article.provider.domain)
            memberships.append((FeedKind.PROVIDER, key, article.provider.name))
        seen = set()
        for kind, key, spelling in memberships:
            if (kind, key) in seen:
                continue
            seen.add((kind, key))
            spellings[(kind, key)][spelling] += 1
            totals[(kind, key)] += 1
            bucket = groups[(kind, key)]
            if len(bucket) < limit:
                bucket.append(article)

    feeds = [
        Feed(
            kind=FeedKind.ALL,
            key="all",
            slug="all",
            name=settings.site_title,
            title=settings.site_title,
            description=settings.site_description,
            items=tuple(ordered[:limit]),
            total=len(ordered),
        )
    ]
    redirects: dict[str, str] = {}
    provider_slugs: dict[str, str] = {}
    for kind in (FeedKind.TOPIC, FeedKind.PROVIDER):
        names = {key: _display_name(spellings[(k, key)]) for (k, key) in groups if k is kind}
        slugs = assign_slugs(names)
        if kind is FeedKind.PROVIDER:
            provider_slugs = slugs
        family = []
        for key, name in names.items():
            feed = Feed(
                kind=kind,
                key=key,
                slug=slugs[key],
                name=name,
                title=f"{name} — {settings.site_title}",
                description=f"The newest articles {'about' if kind is FeedKind.TOPIC else 'from'} {name}.",
                items=tuple(groups[(kind, key)]),
                total=totals[(kind, key)],
            )
            family.append(feed)
        family.sort(key=lambda f: f.slug)
        feeds.extend(family)
        redirects.update(_redirects(kind, family, aliases if kind is FeedKind.TOPIC else {}))
    unpublished = sum(1 for a in all_articles if not a.published)
    by_path = {feed.path: feed for feed in feeds}
    return Catalog(tuple(feeds), by_path, redirects, provider_slugs, len(ordered), unpublished)


def _redirects(kind: FeedKind, family: list[Feed], aliases: dict[str, str]) -> dict[str, str]:
    """Non-canonical paths that should 301 to a feed: an alias's slug, a name's plain slug."""
    canonical = {f.path for f in family}
    by_key = {f.key: f for f in family}
    redirects: dict[str, str] = {}
    for alias, target in sorted(aliases.items()):
        feed = by_key.get(" ".join(target.split()).casefold())
        path = f"{kind.value}/{make_slug(alias)}"
        if feed is not None and path not in canonical:
            redirects.setdefault(path, feed.path)
    return redirects
