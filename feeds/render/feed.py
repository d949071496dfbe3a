"""A feed and a format → bytes, plus what HTTP needs (ETag, Last-Modified, media type).

Sans-IO: no file system, no clock, no request. The web app and the exporter
both call :func:`render_feed`, which is why their bytes are identical. Each
format's writer (:data:`WRITERS`) holds everything particular to it; this
module only picks the writer, the items, the RFC 5005 links and the byte budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from feeds.config import Settings
from feeds.formats import Format
from feeds.index.catalog import Catalog, Feed, archive_items, archive_pages
from feeds.model import Article
from feeds.render.atom import ATOM_WRITER
from feeds.render.jsonfeed import JSON_WRITER
from feeds.render.rss import RSS_WRITER
from feeds.render.writer import (
    ARCHIVE_FOLDER,
    EMPTY_FEED_DATE,
    PAGE_EXTENSION,
    ArchiveLinks,
    FeedWriter,
    Fragments,
    Rendered,
    archive_path,
    content_html,
    feed_url,
    home_url,
    image_type,
    make_rendered,
    page_url,
)

__all__ = [  # the renderer's vocabulary, for the stages after it
    "ARCHIVE_FOLDER", "EMPTY_FEED_DATE", "PAGE_EXTENSION", "WRITERS", "ArchiveLinks", "FeedWriter",
    "Format", "Fragments", "Rendered", "archive_links", "archive_path", "content_html", "feed_url", "home_url",
    "image_type",
    "forget_item_memos", "item_fragment", "make_rendered", "over_budget", "page_url", "render_archive", "render_feed",
]  # fmt: skip

# Every format's writer, the one place a format is registered (tests/test_render.py checks each Format has one).
WRITERS: Mapping[Format, FeedWriter] = MappingProxyType({w.format: w for w in (RSS_WRITER, ATOM_WRITER, JSON_WRITER)})


def over_budget(rendered: Rendered, settings: Settings) -> bool:
    """True when the feed hit ``max_feed_bytes``: items were dropped, or its one item alone is over it."""
    budget = settings.max_feed_bytes
    return rendered.dropped > 0 or bool(budget and len(rendered.body) > budget)


def archive_links(feed: Feed, fmt: Format, settings: Settings, page: int) -> ArchiveLinks | None:
    """Links of the current document (page 0) or of archive page ``page`` of ``feed``."""
    count = archive_pages(feed, settings.archive_page_size)
    if count == 0:
        return None

    def url(number: int) -> str:
        return settings.site_url + archive_path(feed.path, number, fmt)

    if page == 0:
        return ArchiveLinks(prev=url(count))
    return ArchiveLinks(
        current=feed_url(settings, feed.path, fmt),
        prev=url(page - 1) if page > 1 else None,
        next=url(page + 1) if page < count else None,
    )


def item_fragment(article: Article, fmt: Format, catalog: Catalog, settings: Settings, updated: datetime) -> bytes:
    """One item's bytes exactly as a document of ``fmt`` holds them: indented, ending its line.

    ``updated`` is the entry's date in the document (Atom's ``<updated>``, see
    :func:`feeds.render.xmlfeed.distinct_updated`). An article sits in several feeds, so
    a document is its writer's frame with these fragments spliced in, not the
    whole document written again over every item of every feed. Memoised by the
    writers; a big export hands out fragments it rendered once per article
    instead (``feeds.folder.bulk``, through :func:`feeds.render.site.render_path`'s ``fragments``).
    """
    return WRITERS[fmt].item(article, catalog, settings, updated)


def forget_item_memos() -> None:
    """Empty the writers' item memos and the items' HTML bodies (:func:`content_html`'s memo). For a
    caller that renders each article's items once, its formats one after another (the item pass of
    :mod:`feeds.folder.bulk`): their entries would never be read again, yet hold thousands of items
    in every process (~40 MiB of summed PSS in a cold export of 10,000 articles; the bodies, 2,048
    of ~2.2 KB, another ~10 MiB at its peak, and in the render workers forked after it)."""
    for writer in WRITERS.values():
        writer.forget_items()
    content_html.cache_clear()


def _memo_fragments(writer: FeedWriter, catalog: Catalog, settings: Settings) -> Fragments:
    """The default :data:`Fragments` of one document: its writer's items (memoised), as :func:`item_fragment`."""
    item = writer.item
    return lambda articles, fmt, stamps: [
        item(article, catalog, settings, updated) for article, updated in zip(articles, stamps, strict=True)
    ]


def render_feed(
    feed: Feed,
    fmt: Format,
    catalog: Catalog,
    settings: Settings,
    *,
    self_url: str | None = None,
    fragments: Fragments | None = None,
) -> Rendered:
    """One feed in one format. Depends only on its arguments: same input, same bytes.

    ``self_url`` (the feed's id and rel=self link) defaults to the feed's path
    under the base URL; the live app's filtered feeds pass their canonical
    query URL, which no path can spell. ``fragments`` gives each item's bytes
    (default: :func:`item_fragment`); whatever gives them, they must be its bytes.
    """
    writer = WRITERS[fmt]
    url = self_url or feed_url(settings, feed.path, fmt)
    links = archive_links(feed, fmt, settings, 0) if self_url is None else None
    fragments = fragments or _memo_fragments(writer, catalog, settings)

    def body_of(items: tuple[Article, ...]) -> bytes:
        shown = feed if items is feed.items else dataclasses.replace(feed, items=items)
        return writer.document(shown, catalog, settings, url, fragments, links, None)

    body = body_of(feed.items)
    budget = settings.max_feed_bytes
    count = len(feed.items)
    if budget and len(body) > budget and count > 1:
        # The largest count of newest items that fits: size grows with the count, so a
        # binary search finds it in log2(N) renders. Never fewer than one item: an empty
        # feed is valid but useless, so a single item over the budget is kept (and counted).
        low, high, fitting = 1, count - 1, None
        while low <= high:
            middle = (low + high) // 2
            candidate = body_of(feed.items[:middle])
            if len(candidate) <= budget:
                low, fitting = middle + 1, (middle, candidate)
            else:
                high = middle - 1
        kept, body = fitting if fitting is not None else (1, body_of(feed.items[:1]))
        return make_rendered(body, fmt.media_type, feed.updated, dropped=count - kept)
    return make_rendered(body, fmt.media_type, feed.updated)


def render_archive(
    feed: Feed, page: int, fmt: Format, catalog: Catalog, settings: Settings, fragments: Fragments | None = None
) -> Rendered | None:
    """Archive page ``page`` of ``feed`` (RFC 5005 §4), or None when there is no such page.

    Its items are ``older`` items only, never the current document's, and no byte
    budget applies (dropping items would lose them from the archive). Dated by its
    newest item; the newest page right after the previous one filled is empty and
    takes that page's date, so its bytes too depend only on the feed's items.
    """
    links = archive_links(feed, fmt, settings, page)
    if links is None or not 1 <= page <= archive_pages(feed, settings.archive_page_size):
        return None
    items = archive_items(feed, page, settings.archive_page_size)
    shown = dataclasses.replace(feed, items=items, older=())
    url = settings.site_url + archive_path(feed.path, page, fmt)
    updated = items[0].published_at if items else feed.older[-1].published_at
    writer = WRITERS[fmt]
    fragments = fragments or _memo_fragments(writer, catalog, settings)
    body = writer.document(shown, catalog, settings, url, fragments, links, updated)
    return make_rendered(body, fmt.media_type, updated, archive_page=True)
