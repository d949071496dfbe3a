"""Articles → the Catalog: every feed that exists, its slug, its path and its newest items.

Built in one pass over the articles (sorted once, newest first), never one scan
per feed. Everything here is decided by the articles and the settings alone, so
the same input gives the same catalog whatever the file order.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from slugify import slugify

from feeds.config import Settings
from feeds.model import HEAD_FIELDS, Article, Provider

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
    the newest ``items``. ``older`` holds the rest, oldest first (so appending a
    newer article only ever extends its end): the RFC 5005 archive pages'
    items, see :func:`archive_pages`. ``items + reversed(older)`` is every article.
    """

    kind: FeedKind
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
        return self.slug if self.kind is FeedKind.ALL else f"{self.kind.value}/{self.slug}"

    @property
    def updated(self) -> datetime | None:
        """The newest item's date: the feed's ``updated`` and Last-Modified."""
        return self.items[0].published_at if self.items else None


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every feed, in a fixed order (all, topics by slug, providers by slug), plus redirects.

    ``redirects`` maps a topic alias's path to the canonical feed path, for the
    web app's 301s (other spellings of a path, e.g. its case, are the web app's
    business). ``provider_slugs`` maps a :func:`provider_key` to its feed slug;
    ``provider_paths`` maps each published :class:`Provider` value to its feed
    path, so the renderer never recomputes a key per item; ``topic_paths`` maps
    each spelling of a topic the articles use to its feed path (a feed's page
    links an item's topics).
    """

    feeds: tuple[Feed, ...]
    by_path: dict[str, Feed]
    redirects: dict[str, str]
    provider_slugs: dict[str, str]
    article_count: int
    unpublished_count: int
    provider_paths: dict[Provider, str] = field(default_factory=dict)
    topic_paths: dict[str, str] = field(default_factory=dict)

    def get(self, path: str) -> Feed | None:
        return self.by_path.get(path)

    def of_kind(self, kind: FeedKind) -> tuple[Feed, ...]:
        return tuple(feed for feed in self.feeds if feed.kind is kind)


def archive_pages(feed: Feed, page_size: int) -> int:
    """How many RFC 5005 archive pages ``feed`` has: 0 without older items or with archives off.

    Pages are numbered from the oldest: page n holds ``older[(n-1)*size : n*size]``.
    The newest page is never full (it may be empty right after the one before it
    filled), so a full page never gains a next-archive link later: its bytes never
    change while newer articles arrive.
    """
    if page_size <= 0 or not feed.older:
        return 0
    return len(feed.older) // page_size + 1


def archive_items(feed: Feed, page: int, page_size: int) -> tuple[Article, ...]:
    """The items of archive page ``page`` (1-based), newest first like every feed document."""
    return tuple(reversed(feed.older[(page - 1) * page_size : page * page_size]))


def document_items(feed: Feed, page: int, page_size: int) -> tuple[Article, ...]:
    """The items of a feed document: the current one (page 0) or archive page ``page``."""
    return feed.items if page == 0 else archive_items(feed, page, page_size)


def topic_aliases(settings: Settings) -> dict[str, str]:
    """The configured aliases as folded alias → canonical topic name (as configured)."""
    return {" ".join(alias.split()).casefold(): target for alias, target in settings.topic_aliases}


def topic_key(name: str, aliases: dict[str, str]) -> str:
    """Topic identity: case and runs of space folded, aliases applied.

    ``aliases`` comes from :func:`topic_aliases`, so "Artificial  intelligence"
    and "ai" are both the topic "ai" when the config maps the first to "AI".
    """
    folded = " ".join(name.split()).casefold()
    return " ".join(aliases.get(folded, folded).split()).casefold()


def provider_key(name: str, domain: str | None) -> str:
    """Provider identity: the name folded to ASCII letters and digits.

    Case, spaces and punctuation do not count, and a trailing ".com"-like suffix
    is dropped from a name of two or more words, so "GameRant on MSN", "Game
    Rant on MSN" and "GameRant on MSN.com" are one provider, and so are "Rock,
    Paper, Shotgun" and "Rock Paper Shotgun". A one-word name keeps its suffix:
    "Tech.co" is not the provider called "tech". The name decides, not the
    domain: brands syndicated on one host (msn.com, youtube.com) stay apart,
    and "IGN" on ign.com and on youtube.com is one provider. The domain is the
    identity only when there is no usable name.
    """
    text = " ".join(name.split())
    if " " in text:
        text = _DOMAIN_SUFFIX.sub("", text)
    key = slugify(text, separator="")
    return key or slugify(domain or "", separator="") or "unknown"


def make_slug(name: str) -> str:
    """A URL-safe slug: lowercase ASCII letters, digits and single hyphens, never empty.

    Non-Latin scripts are transliterated ("Данные" → "dannye"); signs that
    would vanish are spelled out so "C++", "C#" and "C" stay apart; a name with
    nothing left (".", "🙂") gets "x-" and 8 hex digits of its SHA-256.
    """
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


def _display_name(spellings: Counter, preferred: str | None = None) -> str:
    """The configured spelling when there is one, else the most used; ties: the first sorted."""
    if preferred is not None:
        return preferred
    return min(spellings.items(), key=lambda item: (-item[1], item[0]))[0]


_newest_first = operator.attrgetter("newest_first")  # Article.newest_first: dates, then uid, then source


def select_articles(articles: Iterable[Article], settings: Settings) -> list[Article]:
    """The articles the feeds publish: config filters applied, newest first, ties by uid."""
    kinds = {k.lower() for k in settings.kinds}
    chosen = [
        a
        for a in articles
        if (a.published or settings.include_unpublished)
        and (
            settings.min_quality is None
            or (a.quality is not None and a.quality >= settings.min_quality)
        )
        and (not kinds or (a.kind or "") in kinds)
    ]
    chosen.sort(key=_newest_first)
    return chosen


def build_catalog(articles: Iterable[Article], settings: Settings) -> Catalog:
    """Group the selected articles into the all feed, topic feeds and provider feeds.

    One pass over the articles, newest first; provider identity is computed once
    per distinct :class:`Provider` value, not once per article.
    """
    all_articles = list(articles)
    ordered = select_articles(all_articles, settings)
    aliases = topic_aliases(settings)
    configured = {" ".join(t.split()).casefold(): " ".join(t.split()) for t in aliases.values()}
    limit = settings.items_per_feed

    # per family (topics, providers): identity key → newest-first items, the rest, count, spellings
    groups: dict[FeedKind, dict[str, list[Article]]] = {FeedKind.TOPIC: {}, FeedKind.PROVIDER: {}}
    overflow: dict[FeedKind, dict[str, list[Article]]] = {FeedKind.TOPIC: {}, FeedKind.PROVIDER: {}}
    spellings: dict[FeedKind, dict[str, Counter]] = {FeedKind.TOPIC: {}, FeedKind.PROVIDER: {}}
    topic_keys: dict[str, str] = {}  # each distinct spelling folded once, not once per article
    provider_keys: dict[Provider, str] = {}

    def add(family: int, key: str, spelling: str, article: Article) -> None:
        # one dict lookup per structure; FeedKind hashing is slow, so it is looked up by the caller
        bucket = family_groups[family].get(key)
        if bucket is None:
            bucket = family_groups[family][key] = []
            family_spellings[family][key] = Counter()
        family_spellings[family][key][spelling] += 1
        if len(bucket) < limit:
            bucket.append(article)
        else:
            family_overflow[family].setdefault(key, []).append(article)

    # the same dicts, indexed by a plain int (0 topics, 1 providers) in the hot loop
    family_groups = [groups[FeedKind.TOPIC], groups[FeedKind.PROVIDER]]
    family_overflow = [overflow[FeedKind.TOPIC], overflow[FeedKind.PROVIDER]]
    family_spellings = [spellings[FeedKind.TOPIC], spellings[FeedKind.PROVIDER]]

    for article in ordered:
        seen_topics: set[str] = set()
        for topic in article.topics:
            key = topic_keys.get(topic)
            if key is None:
                key = topic_keys[topic] = topic_key(topic, aliases)
            if key not in seen_topics:
                seen_topics.add(key)
                add(0, key, topic, article)
        provider = article.provider
        if provider is not None:
            key = provider_keys.get(provider)
            if key is None:
                key = provider_keys[provider] = provider_key(provider.name, provider.domain)
            add(1, key, provider.name, article)

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
            older=tuple(reversed(ordered[limit:])),
        )
    ]
    redirects: dict[str, str] = {}
    provider_slugs: dict[str, str] = {}
    topic_slugs: dict[str, str] = {}
    for kind in (FeedKind.TOPIC, FeedKind.PROVIDER):
        preferred = configured if kind is FeedKind.TOPIC else {}
        names = {key: _display_name(counts, preferred.get(key)) for key, counts in spellings[kind].items()}
        slugs = assign_slugs(names)
        if kind is FeedKind.PROVIDER:
            provider_slugs = slugs
        else:
            topic_slugs = slugs
        about = "about" if kind is FeedKind.TOPIC else "from"
        family = [
            Feed(
                kind=kind,
                key=key,
                slug=slugs[key],
                name=name,
                title=f"{name} — {settings.site_title}",
                description=f"The newest articles {about} {name}.",
                items=tuple(groups[kind][key]),
                total=len(groups[kind][key]) + len(overflow[kind].get(key, ())),
                older=tuple(reversed(overflow[kind].get(key, ()))),
            )
            for key, name in names.items()
        ]
        family.sort(key=lambda f: f.slug)
        feeds.extend(family)
        redirects.update(_redirects(kind, family, aliases if kind is FeedKind.TOPIC else {}))
    unpublished = sum(1 for a in all_articles if not a.published)
    by_path = {feed.path: feed for feed in feeds}
    provider_paths = {
        provider: f"{FeedKind.PROVIDER.value}/{provider_slugs[key]}"
        for provider, key in provider_keys.items()
    }
    topic_paths = {spelling: f"{FeedKind.TOPIC.value}/{topic_slugs[key]}" for spelling, key in topic_keys.items()}
    return Catalog(
        tuple(feeds), by_path, redirects, provider_slugs, len(ordered), unpublished, provider_paths, topic_paths
    )


def update_catalog(
    previous: Catalog, old: Sequence[Article], new: Sequence[Article], settings: Settings
) -> Catalog:
    """``build_catalog(new, settings)``, given that ``previous`` is ``build_catalog(old, settings)``.

    When every article of ``new`` is the one at its place in ``old``, or a copy
    whose :data:`~feeds.model.HEAD_FIELDS` (all the catalog reads: dates, flags,
    topics, provider, uid, path) are equal — the usual edit: a title, a summary,
    an image — the feeds, their order and their slugs are what they were, and
    only the changed objects are swapped into ``previous``'s feeds: a reload
    after such an edit skips sorting and grouping 100,000 articles. Anything
    else is built anew.
    """
    if len(old) != len(new):
        return build_catalog(new, settings)
    swapped: dict[int, Article] = {}
    for before, after in zip(old, new, strict=True):
        if before is not after:
            if any(getattr(before, name) != getattr(after, name) for name in HEAD_FIELDS):
                return build_catalog(new, settings)
            swapped[id(before)] = after
    if not swapped:
        return previous

    def swap(articles: tuple[Article, ...]) -> tuple[Article, ...]:
        return tuple(swapped.get(id(article), article) for article in articles)

    ids = swapped.keys()
    feeds = tuple(
        dataclasses.replace(feed, items=swap(feed.items), older=swap(feed.older))
        if not (ids.isdisjoint(map(id, feed.items)) and ids.isdisjoint(map(id, feed.older)))
        else feed
        for feed in previous.feeds
    )
    if all(map(operator.is_, feeds, previous.feeds)):  # the edited articles are in no feed (unpublished)
        return previous
    return dataclasses.replace(previous, feeds=feeds, by_path={feed.path: feed for feed in feeds})


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
