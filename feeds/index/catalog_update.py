"""A catalog brought up to date after a reload's change, without grouping every article again.

Contract (:func:`update_catalog`): the result equals ``build_catalog(new, settings)`` whenever
``previous`` is ``build_catalog(old, settings)``; tests/test_catalog.py holds it to that on
generated edits. It only takes shortcuts the equation allows: an edit that moves no article
swaps the changed objects into the feeds that hold them, one new file is placed into the feeds
it joins; anything else is left to :func:`~feeds.index.catalog.build_catalog`.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import operator
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

from feeds.config import Settings
from feeds.index.catalog import Catalog, build_catalog, newest_first_key, select_articles
from feeds.index.families import Family, Feed
from feeds.model import HEAD_FIELDS, Article


def update_catalog(previous: Catalog, old: Sequence[Article], new: Sequence[Article], settings: Settings) -> Catalog:
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
        at = bisect.bisect_left(items, key, key=newest_first_key)
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
    as :func:`~feeds.index.catalog.build_catalog` counts them."""
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
    at = bisect.bisect_left(items, key, key=newest_first_key)
    if at < len(items) and len(items) == limit:  # among the full current items (a new article, mostly): the last
        if items[at].newest_first == key:  # one moves to the older ones, kept oldest first (one copy of each)
            return None
        return dataclasses.replace(
            feed, items=(*items[:at], article, *items[at:-1]), total=feed.total + 1, older=feed.older + (items[-1],)
        )
    merged = items + feed.older[::-1]  # every article of the feed, newest first
    at = bisect.bisect_left(merged, key, key=newest_first_key)
    if at < len(merged) and merged[at].newest_first == key:
        return None
    merged = (*merged[:at], article, *merged[at:])
    return dataclasses.replace(feed, items=merged[:limit], total=feed.total + 1, older=merged[limit:][::-1])
