"""What one generation of the live app has rendered: pages kept within a byte budget.

Each :class:`~feeds.server.snapshot.Snapshot` gets a :class:`PageMemo` (in its ``memo``),
so a new generation can never serve old bytes. The hottest pages (index, OPML,
the all feeds: :func:`hot_paths`) are rendered before a generation goes live
and kept for its whole life; every other page (topic, provider and archive
pages, filtered feeds) lives in a :class:`ByteBudgetCache` of
``settings.page_cache_bytes``, least recently used out first (issue 16: a
crawler of every archive page grew each worker by 1.5 GB). Filtered feeds are
made at most :data:`FILTER_SLOTS` at a time per process; a request finding
none free raises :class:`FilterBusy` at once (the app answers 503), so a flood
of distinct queries queues no thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable

from feeds.config import Settings
from feeds.index.catalog import document_items
from feeds.index.filter_index import FilterIndex
from feeds.index.filters import FeedFilter, filter_feed, wanted_keys
from feeds.model import Article
from feeds.render.feed import PAGE_EXTENSION, Format, over_budget, render_feed
from feeds.render.page_layout import PAGE_TYPE
from feeds.render.site import INDEX_PATH, OPML_PATH, enabled_formats, feed_document, render_path, split_page_path
from feeds.server.responses import Page
from feeds.server.snapshot import Snapshot

FILTER_PATH = "filter"
FILTER_SLOTS = 2  # filtered feeds made at once per process; more at once are shed (503), never queued
FILTER_RETRY_AFTER = "1"  # seconds, in the 503 of a shed filter request (RFC 9110 §10.2.3)


class FilterBusy(Exception):
    """Every filter slot of this process is taken: answer 503 at once instead of holding a thread."""


class ByteBudgetCache:
    """Pages by key, the least recently used dropped first once they hold more than ``budget`` bytes.

    A page's size is :attr:`feeds.server.responses.Page.nbytes`, read again on every hit
    (its gzip variant is made on first demand, after it was stored). The page
    just stored is never dropped, so one page over the budget is still served.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.total = 0
        self._pages: OrderedDict[Hashable, Page] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable) -> Page | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                self._charge(key, page)
            return page

    def put(self, key: Hashable, page: Page) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            self._charge(key, page)

    def _charge(self, key: Hashable, page: Page) -> None:
        size = page.nbytes
        self.total += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        while self.total > self.budget and len(self._pages) > 1:
            old, _ = self._pages.popitem(last=False)
            self.total -= self._sizes.pop(old)


class PageMemo:
    """The pages of one snapshot: hot ones kept, others within the byte budget; the filter index and slots."""

    def __init__(self, settings: Settings) -> None:
        self.render_lock = threading.Lock()  # one render of a site path at a time, however many requests wait
        self.hot: dict[str, Page] = {}
        self.cache = ByteBudgetCache(settings.page_cache_bytes)
        self.over_budget: set[str] = set()  # site paths rendered so far whose feed hit max_feed_bytes
        self.filter_slots = threading.BoundedSemaphore(FILTER_SLOTS)
        self.index_lock = threading.Lock()
        self.index: FilterIndex | None = None


def page_memo(snapshot: Snapshot, settings: Settings) -> PageMemo:
    """The snapshot's PageMemo, made on first use."""
    memo = snapshot.memo.get("web")
    if memo is None:
        memo = snapshot.memo.setdefault("web", PageMemo(settings))  # setdefault: one winner across threads
    return memo


def hot_paths(settings: Settings) -> tuple[str, ...]:
    """The pages every generation renders before it goes live and keeps for its whole life."""
    return (
        INDEX_PATH, OPML_PATH, *(f"all.{fmt.extension}" for fmt in enabled_formats(settings)), f"all.{PAGE_EXTENSION}",
    )  # fmt: skip


def site_page(snapshot: Snapshot, path: str, settings: Settings) -> Page | None:
    """The page for a site path of this snapshot, rendered on first use (again once dropped); None when unknown."""
    memo = page_memo(snapshot, settings)
    page = memo.hot.get(path) or memo.cache.get(path)
    if page is not None:
        return page
    with memo.render_lock:
        page = memo.hot.get(path) or memo.cache.get(path)  # made while this request waited
        if page is None:
            rendered = render_path(path, snapshot.catalog, settings)
            if rendered is None:
                return None
            document = feed_document(path, snapshot.catalog, settings)
            current_feed = document is not None and document[1] == 0  # not an archive page
            page = Page(rendered, settings, cross_origin=rendered.media_type != PAGE_TYPE, negotiated=current_feed)
            release_details(_shown_articles(path, document, snapshot, settings))
            if rendered.media_type != PAGE_TYPE and over_budget(rendered, settings):
                memo.over_budget.add(path)
            if path in hot_paths(settings):
                memo.hot[path] = page
            else:
                memo.cache.put(path, page)
    return page


def page_at_feed_url(snapshot: Snapshot, feed: Page, path: str, settings: Settings) -> Page:
    """The feed's page (``<feed path>.html``) as a browser gets it at the feed's own URL: with ``Vary: Accept``.

    Its own bytes and ETag, so a browser's revalidation compares with the copy it holds.
    Kept on the feed's Page (and counted in its bytes), so it goes when the feed's page goes.
    """
    alternate = feed.alternate
    if alternate is None:
        page = site_page(snapshot, f"{path.rpartition('.')[0]}.{PAGE_EXTENSION}", settings)
        if page is None:  # pragma: no cover - every feed of the catalog has its page
            raise AssertionError(f"{path} has no page")
        alternate = Page(page.rendered, settings, cross_origin=False, negotiated=True)
        feed.alternate = alternate  # two requests may both make it: equal values, the last one stays
    return alternate


def filter_page(snapshot: Snapshot, wanted: FeedFilter, fmt: Format, settings: Settings) -> Page:
    """The page for a filtered feed, kept in the byte budget like any page.

    Raises :class:`FilterBusy` when FILTER_SLOTS filters are being made already.
    The first filter of a generation builds its :class:`~feeds.index.filter_index.FilterIndex`.
    """
    memo = page_memo(snapshot, settings)
    query = wanted.query()
    key = (FILTER_PATH, fmt.extension, query)
    page = memo.cache.get(key)
    if page is not None:
        return page
    if not memo.filter_slots.acquire(blocking=False):
        raise FilterBusy
    try:
        index = filter_index(snapshot, settings)
        self_url = f"{settings.site_url}{FILTER_PATH}.{fmt.extension}" + (f"?{query}" if query else "")
        positions = index.positions(wanted_keys(wanted, snapshot.catalog))
        feed = filter_feed(snapshot.articles, positions, wanted, settings)
        page = Page(render_feed(feed, fmt, snapshot.catalog, settings, self_url=self_url), settings, cross_origin=True)
        release_details(feed.items)
    finally:
        memo.filter_slots.release()
    memo.cache.put(key, page)
    return page


def release_details(articles: Iterable[Article]) -> None:
    """Let the articles a page was just rendered from forget their decoded details (issue 16: memory).

    The page keeps its bytes; an article restored from the parse cache decodes its
    details again from the cache when another page needs them. Kept, they grew every
    worker by the size of the site as a crawler went through it (each worker its own
    copy, written into the master's articles, so their pages stopped being shared).
    """
    for article in articles:
        article.release_details()


def _shown_articles(path: str, document: tuple | None, snapshot: Snapshot, settings: Settings) -> tuple[Article, ...]:
    """The articles the site path's page shows: a feed document's items, or a feed page's (``<feed>.html``)."""
    if document is not None:
        return document_items(document[0], document[1], settings.archive_page_size)
    stem = split_page_path(path)
    feed = snapshot.catalog.get(stem) if stem is not None else None
    return feed.items if feed is not None else ()


def filter_index(snapshot: Snapshot, settings: Settings, previous: Snapshot | None = None) -> FilterIndex:
    """The snapshot's filter index, built on first use (once, whichever thread asks first).

    The app builds it as each snapshot goes live (before a server's worker serves for the
    first one; on the reload thread for later ones, derived from the
    ``previous`` snapshot's index when it has one), so a filter request normally
    finds it made; one arriving earlier waits for it in its slot.
    """
    memo = page_memo(snapshot, settings)
    with memo.index_lock:
        if memo.index is None:
            before = previous.memo.get("web") if previous is not None else None
            earlier = before.index if isinstance(before, PageMemo) else None
            memo.index = FilterIndex(snapshot.articles, snapshot.catalog, settings, previous=earlier)
        return memo.index


def over_budget_paths(snapshot: Snapshot, settings: Settings) -> list[str]:
    """Site paths rendered in this generation whose feed hit ``max_feed_bytes``, sorted."""
    return sorted(page_memo(snapshot, settings).over_budget)


def warm(snapshot: Snapshot, settings: Settings) -> None:
    """Render the hottest pages (:func:`hot_paths`) before a snapshot goes live."""
    for path in hot_paths(settings):
        site_page(snapshot, path, settings)
