"""Articles → the Catalog: every feed of every family, its slug, its path and its newest items.

Built in one pass over the articles (sorted once, newest first) per group of
families, never one scan per feed. The families are data (:data:`FAMILIES`,
specs from :mod:`feeds.index.families` and :mod:`feeds.index.configured`); this module loops
over them and names none. Everything here is decided by the articles and the
settings alone, so the same input gives the same catalog whatever the file order.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import operator
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from feeds.config import Settings
from feeds.index.configured import CONFIGURED
from feeds.index.families import ALL, PROVIDERS, TOPICS, Family, Feed
from feeds.model import HEAD_FIELDS, Article, Provider

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
    # article can be placed without grouping every article again (see update_catalog); derived, so not compared
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


def update_catalog(
    previous: Catalog, old: Sequence[Article], new: Sequence[Article], settings: Settings
) -> Catalog:
    """``build_catalog(new, settings)``, given that ``previous`` is ``build_catalog(old, settings)``.

    When ``new`` is ``old`` with one article added (the usual new file), the article is
    placed into the feeds it joins when they all exist and none is renamed by it
    (:func:`_with_one_added`): a reload after a new file at a million articles no
    longer sorts and groups them all. When every article of ``new`` is the one at its place in ``old``, or a copy
    whose :data:`~feeds.model.HEAD_FIELDS` (all the catalog reads: dates, flags,
    topics, provider, uid, path) are equal — the usual edit: a title, a summary,
    an image — the feeds, their order and their slugs are what they were, and
    only the changed objects are swapped into ``previous``'s feeds: a reload
    after such an edit skips sorting and grouping 100,000 articles. Anything
    else is built anew.
    """
    if len(new) == len(old) + 1:  # a new file: placed into its feeds when that is all it changes
        placed = _with_one_added(previous, old, new, settings)
        return placed if placed is not None else build_catalog(new, settings, previous.families)
    if len(old) != len(new):
        return build_catalog(new, settings, previous.families)
    # the fields the families read besides the head ones (a configured feed's words: title, summary)
    fields = (*HEAD_FIELDS, *sorted(set().union(*(f.reads(settings) for f in previous.families)) - set(HEAD_FIELDS)))
    swaps: list[tuple[Article, Article]] = []
    for at in itertools.compress(itertools.count(), map(operator.is_not, old, new)):  # in C: the changed places
        before, after = old[at], new[at]
        if any(getattr(before, name) != getattr(after, name) for name in fields):
            return build_catalog(new, settings, previous.families)
        swaps.append((before, after))
    if not swaps:
        return previous
    # each feed's articles are sorted by their sort key, which an edit keeps: each is found by bisection
    # (issue 20: scanning every feed's items for the edited objects was 4 million checks at a million articles)
    feeds = tuple(_swapped(feed, swaps) for feed in previous.feeds)
    if all(map(operator.is_, feeds, previous.feeds)):  # the edited articles are in no feed (unpublished)
        return previous
    return dataclasses.replace(previous, feeds=feeds, by_path={feed.path: feed for feed in feeds})


def _swapped(feed: Feed, swaps: Iterable[tuple[Article, Article]]) -> Feed:
    """``feed`` with each (before, after) pair's ``after`` in the place of ``before`` (where it holds it)."""
    items, older = feed.items, feed.older
    for before, after in swaps:
        key = before.newest_first  # items ascend by it (newest first), older descends (oldest first)
        at = bisect.bisect_left(items, key, key=_newest_first)
        if at < len(items) and items[at] is before:
            items = (*items[:at], after, *items[at + 1 :])
            continue
        low, high = 0, len(older)
        while low < high:
            middle = (low + high) // 2
            if older[middle].newest_first > key:
                low = middle + 1
            else:
                high = middle
        if low < len(older) and older[low] is before:
            older = (*older[:low], after, *older[low + 1 :])
    return feed if items is feed.items and older is feed.older else dataclasses.replace(feed, items=items, older=older)


def _with_one_added(
    previous: Catalog, old: Sequence[Article], new: Sequence[Article], settings: Settings
) -> Catalog | None:
    """``build_catalog(new, settings)`` when ``new`` is ``old`` (``previous``'s articles) with one article inserted.

    The added article goes into each of its feeds at its place (the order is total:
    dates, uid, source), the rest of the catalog is kept. None, for a full build,
    when anything else differs or the article would add a feed or rename one (a
    spelling it brings may become the most used): names, slugs and the index
    would change. Every family is asked for the article's keys exactly as the
    build asks them, against the same lookup.
    """
    # in C, no list of a million: the first object that differs is the one added, the rest must follow it
    at = next(itertools.compress(itertools.count(), map(operator.is_not, old, new)), len(old))
    rest = map(operator.is_, itertools.islice(old, at, None), itertools.islice(new, at + 1, None))
    if not all(rest) or previous.spellings.keys() != set(previous.families):
        return None
    added = new[at]
    unpublished = previous.unpublished_count + (not added.published)
    if not select_articles([added], settings):  # in no feed: only the count of unpublished articles moves
        return dataclasses.replace(previous, unpublished_count=unpublished)
    families = previous.families
    of_family = {family: [feed for feed in previous.feeds if feed.family is family] for family in families}
    spellings, value_paths, source_paths = dict(previous.spellings), dict(previous.value_paths), previous.source_paths
    replaced: dict[int, Feed] = {}
    redirects: dict[str, str] = {}
    done: list[Family] = []
    for group in ([f for f in families if not f.needs_lookup], [f for f in families if f.needs_lookup]):
        so_far_feeds = tuple(replaced.get(id(feed), feed) for family in done for feed in of_family[family])
        slugs_so_far = {family: previous.family_slugs[family] for family in done}
        so_far = Catalog(so_far_feeds, {feed.path: feed for feed in so_far_feeds}, dict(redirects), slugs_so_far,
                         0, 0, families=tuple(done))  # fmt: skip
        for family in group:  # as build_catalog's groups see the families built before them
            keyed = _keys_of(family, added, settings, so_far)
            by_key = {feed.key: feed for feed in of_family[family]}
            paths = value_paths.get(family, {})
            for key, spelling in keyed[0]:
                feed = by_key.get(key)
                if feed is None:
                    return None  # a new feed
                if family.values is not None:  # the one feed of every article counts no spellings
                    grown = Counter(spellings[family].get(key, ()))
                    grown[spelling] += 1
                    if family.feed_name(key, grown, settings) != feed.name:
                        return None  # the article renames the feed
                    spellings[family] = {**spellings[family], key: grown}
                placed = _placed(feed, added, settings.items_per_feed)
                if placed is None:
                    return None
                replaced[id(feed)] = placed
            slugs = previous.family_slugs[family]
            fresh = {value: family.path(slugs[key]) for value, key in keyed[1] if value not in paths}
            if fresh:
                value_paths[family] = {**paths, **fresh}
                source_paths = {**source_paths, **fresh} if family.source_feed else source_paths
            redirects.update(family.redirects(family, [replaced.get(id(f), f) for f in of_family[family]], settings))
            done.append(family)
    feeds = tuple(replaced.get(id(feed), feed) for feed in previous.feeds)
    return dataclasses.replace(
        previous, feeds=feeds, by_path={feed.path: feed for feed in feeds}, article_count=previous.article_count + 1,
        unpublished_count=unpublished, source_paths=source_paths, value_paths=value_paths, spellings=spellings,
    )  # fmt: skip


def _keys_of(
    family: Family, article: Article, settings: Settings, lookup: Catalog
) -> tuple[list[tuple[str, str]], list[tuple[Hashable, str]]]:
    """(the article's (key, spelling) in ``family``, each key once with its first spelling; every (value, key)),
    as :func:`_group` counts them."""
    if family.values is None:
        return [(family.fixed_key, "")], []
    values_of = family.values(settings, lookup)
    if values_of is None:  # no article has a key in this family in this build
        return [], []
    values = values_of(article)
    if family.single:
        values = () if values is None else (values,)
    key_of = family.key_of(settings)
    pairs, valued, seen = [], [], set()
    for value in values:
        key, spelling = key_of(value)
        valued.append((value, key))
        if key not in seen:
            seen.add(key)
            pairs.append((key, spelling))
    return pairs, valued


def _placed(feed: Feed, article: Article, limit: int) -> Feed | None:
    """``feed`` with ``article`` at its place among its items and older ones; None on a tie of sort keys."""
    items, key = feed.items, article.newest_first
    at = bisect.bisect_left(items, key, key=_newest_first)
    if at < len(items) and len(items) == limit:  # among the full current items (a new article, mostly): the last
        if items[at].newest_first == key:  # one moves to the older ones, kept oldest first (one copy of each)
            return None
        return dataclasses.replace(
            feed, items=(*items[:at], article, *items[at:-1]), total=feed.total + 1, older=feed.older + (items[-1],)
        )
    merged = items + feed.older[::-1]  # every article of the feed, newest first
    at = bisect.bisect_left(merged, key, key=_newest_first)
    if at < len(merged) and merged[at].newest_first == key:
        return None
    merged = (*merged[:at], article, *merged[at:])
    return dataclasses.replace(feed, items=merged[:limit], total=feed.total + 1, older=merged[limit:][::-1])
