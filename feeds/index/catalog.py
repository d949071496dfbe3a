"""Articles → the Catalog: every feed of every family, its slug, its path and its newest items.

Built in one pass over the articles (sorted once, newest first) per group of
families, never one scan per feed. The families are data (:data:`FAMILIES`,
specs from :mod:`feeds.index.families` and :mod:`feeds.index.configured`); this module loops
over them and names none. Everything here is decided by the articles and the
settings alone, so the same input gives the same catalog whatever the file order.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from feeds.config import Settings
from feeds.index.configured import CONFIGURED
from feeds.index.families import ALL, PROVIDERS, TOPICS, Family, Feed
from feeds.model import Article, Provider

# Every family, in the order of the catalog, the index and the OPML: adding a family is one spec and one entry here.
FAMILIES: tuple[Family, ...] = (ALL, TOPICS, PROVIDERS, CONFIGURED)


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every feed, family by family in ``families`` order (each by slug), plus redirects.

    ``redirects`` maps a non-canonical path (a topic alias's) to the canonical feed
    path, for the web app's 301s (other spellings of a path, e.g. its case, are the
    web app's business). ``family_slugs`` maps, per family, each identity key to its
    feed slug; ``source_paths`` maps each distinct value (a :class:`Provider`) of the
    family whose feed is an RSS item's ``<source>`` to that feed's path, so the
    renderer never recomputes a key per item; ``value_paths`` maps, per family, each
    distinct value the articles have (a topic as spelled, a provider) to its feed's
    path (a feed's page links an item's provider and topics).
    """

    feeds: tuple[Feed, ...]
    by_path: dict[str, Feed]
    redirects: dict[str, str]
    family_slugs: dict[Family, dict[str, str]]
    article_count: int
    unpublished_count: int
    source_paths: dict[Provider, str] = field(default_factory=dict)
    families: tuple[Family, ...] = FAMILIES
    value_paths: dict[Family, dict[Hashable, str]] = field(default_factory=dict)
    # per family, each feed key's spellings (how its articles wrote it): what names a feed, kept so that an added
    # article can be placed without grouping every article again (see feeds.index.catalog_update); derived, so
    # not compared
    spellings: dict[Family, dict[str, Counter]] = field(default_factory=dict, compare=False, repr=False)

    def get(self, path: str) -> Feed | None:
        return self.by_path.get(path)

    @property
    def updated(self) -> datetime | None:
        """The site's newest date: its first feed's (every selected article's); None without a feed."""
        return self.feeds[0].updated if self.feeds else None

    @property
    def everything(self) -> Feed | None:
        """The feed of every selected article: the one feed of a family without keys (the first)."""
        return next((feed for feed in self.feeds if feed.family.values is None), None)

    def of_family(self, family: Family) -> tuple[Feed, ...]:
        return tuple(feed for feed in self.feeds if feed.family is family)


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


# the order of a feed's items (Article.newest_first: dates, then uid, then source); catalog_update bisects by it too
newest_first_key = operator.attrgetter("newest_first")


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
    chosen.sort(key=newest_first_key)
    return chosen


def build_catalog(
    articles: Iterable[Article], settings: Settings, families: tuple[Family, ...] = FAMILIES
) -> Catalog:
    """Group the selected articles into the feeds of every family.

    One pass over the articles, newest first, for the families whose keys come from
    the article alone, then one for those that resolve names against them (configured
    feeds). A family's keys are worked out once per distinct value (an article's
    topics, its provider), not once per article.
    """
    all_articles = list(articles)
    ordered = select_articles(all_articles, settings)
    feeds: list[Feed] = []
    redirects: dict[str, str] = {}
    family_slugs: dict[Family, dict[str, str]] = {}
    source_paths: dict[Provider, str] = {}
    value_paths: dict[Family, dict[Hashable, str]] = {}
    spellings: dict[Family, dict[str, Counter]] = {}
    done: list[Family] = []
    for group in ([f for f in families if not f.needs_lookup], [f for f in families if f.needs_lookup]):
        so_far = Catalog(tuple(feeds), {feed.path: feed for feed in feeds}, redirects, family_slugs, 0, 0,
                         families=tuple(done))  # fmt: skip
        grouped = _group(ordered, group, settings, so_far)
        for family in group:  # in the catalog: in FAMILIES order, whatever the group
            members, values = grouped[family]
            spellings[family] = {key: member[2] for key, member in members.items()}
            family_feeds = _family_feeds(family, members, settings)
            feeds.extend(family_feeds)
            family_slugs[family] = {feed.key: feed.slug for feed in family_feeds}
            redirects.update(family.redirects(family, family_feeds, settings))
            slugs = family_slugs[family]
            value_paths[family] = {value: family.path(slugs[pair[0]]) for value, pair in values.items()}
            if family.source_feed:
                source_paths.update(value_paths[family])
            done.append(family)
    feeds.sort(key=lambda feed: families.index(feed.family))  # stable: each family stays sorted by slug
    unpublished = sum(1 for a in all_articles if not a.published)
    by_path = {feed.path: feed for feed in feeds}
    return Catalog(
        tuple(feeds), by_path, redirects, family_slugs, len(ordered), unpublished, source_paths, families, value_paths,
        spellings,
    )  # fmt: skip


# per family: identity key → (newest-first items up to the limit, the rest, how articles spelled it)
_Members = dict[str, tuple[list[Article], list[Article], Counter]]


def _group(
    ordered: list[Article], group: list[Family], settings: Settings, so_far: Catalog
) -> dict[Family, tuple[_Members, dict]]:
    """Every family of ``group``'s members, in one pass; and per family, its keys of each distinct value."""
    limit = settings.items_per_feed
    result: dict[Family, tuple[_Members, dict]] = {}
    plans = []
    for family in group:
        members: _Members = {}
        memo: dict = {}
        result[family] = (members, memo)
        values_of = family.values(settings, so_far) if family.values is not None else None
        if family.values is None:  # one feed of every article
            members[family.fixed_key] = (ordered[:limit], ordered[limit:], Counter())
        elif values_of is not None:  # None: no article has a key in this build
            plans.append((values_of, family.single, memo, family.key_of(settings), members))
    if not plans:
        return result

    def add(members: _Members, pair: tuple[str, str], article: Article) -> None:
        member = members.get(pair[0])
        if member is None:
            member = members[pair[0]] = ([], [], Counter())
        member[2][pair[1]] += 1
        if len(member[0]) < limit:
            member[0].append(article)
        else:
            member[1].append(article)

    for article in ordered:
        for values_of, single, memo, key_of, members in plans:
            values = values_of(article)
            if single:
                if values is None:
                    continue
                values = (values,)
            if len(values) == 1:
                pair = memo.get(values[0])
                if pair is None:
                    pair = memo[values[0]] = key_of(values[0])
                add(members, pair, article)
            elif values:
                seen = set()  # an article counts once per key, with its first spelling
                for value in values:
                    pair = memo.get(value)
                    if pair is None:
                        pair = memo[value] = key_of(value)
                    if pair[0] not in seen:
                        seen.add(pair[0])
                        add(members, pair, article)
    return result


def _family_feeds(family: Family, members: _Members, settings: Settings) -> list[Feed]:
    """The family's feeds, by slug: its members' and its declared keys' (a declared feed may be empty)."""
    empty: tuple[list[Article], list[Article], Counter] = ([], [], Counter())
    keys = list(members) + [key for key in family.declared(settings) if key not in members]
    names = {key: family.feed_name(key, members.get(key, empty)[2], settings) for key in keys}
    slugs = family.slugs(names, settings)
    feeds = []
    for key, name in names.items():
        items, overflow, _ = members.get(key, empty)
        feeds.append(
            Feed(
                family=family,
                key=key,
                slug=slugs[key],
                name=name,
                title=family.title(key, name, settings),
                description=family.description(key, name, settings),
                items=tuple(items),
                total=len(items) + len(overflow),
                older=tuple(reversed(overflow)),
            )
        )
    feeds.sort(key=lambda f: f.slug)
    return feeds
