"""The whole published site as data: every path, and the bytes for each.

Both outlets go through here: the exporter writes ``site_paths()`` with
``render_path()``, the web app answers a request path with ``render_path()``.
One table of paths, one renderer, so the two can never disagree. Sans-IO.
"""

from __future__ import annotations

import html

from feeds.config import Settings
from feeds.index.catalog import Catalog, Feed, archive_pages
from feeds.render.feed import (
    ARCHIVE_FOLDER,
    PAGE_EXTENSION,
    Format,
    Fragments,
    Rendered,
    archive_path,
    feed_url,
    make_rendered,
    render_archive,
    render_feed,
)
from feeds.render.feed_page import FEED_PAGE, FeedPageOutput, PageItems, render_feed_page
from feeds.render.index_page import render_index
from feeds.site_paths import INDEX_PATH, OPML_PATH

OPML_TYPE = "text/x-opml; charset=utf-8"


def enabled_formats(settings: Settings) -> tuple[Format, ...]:
    return tuple(f for f in Format if f.extension in settings.formats)


def site_documents(
    catalog: Catalog, settings: Settings
) -> list[tuple[str, tuple[Feed, int, Format | FeedPageOutput] | None]]:
    """Every site path in :func:`site_paths` order, with what :func:`feed_document` gives for it.

    A feed's page is (its feed, 0, :data:`~feeds.render.feed_page.FEED_PAGE`): its bytes too come from
    the feed's items, so the export signs it like a document.

    Built in one pass, so the export never parses tens of thousands of paths back.
    """
    formats = enabled_formats(settings)
    documents: list[tuple[str, tuple[Feed, int, Format | FeedPageOutput] | None]] = [
        (INDEX_PATH, None), (OPML_PATH, None)
    ]  # fmt: skip
    feed_paths = [(feed, feed.path) for feed in catalog.feeds]  # a property: computed once per feed
    for feed, path in feed_paths:
        documents.extend((f"{path}.{fmt.extension}", (feed, 0, fmt)) for fmt in formats)
        documents.append((f"{path}.{PAGE_EXTENSION}", (feed, 0, FEED_PAGE)))  # the feed's page (feeds.render.feed_page)
    for feed, path in feed_paths:
        for page in range(1, archive_pages(feed, settings.archive_page_size) + 1):
            documents.extend((archive_path(path, page, fmt), (feed, page, fmt)) for fmt in formats)
    return documents


def site_paths(catalog: Catalog, settings: Settings) -> list[str]:
    """Every file of the site, relative, in a fixed order: index, OPML, then each feed's
    documents and page, then archive pages."""
    return [path for path, _ in site_documents(catalog, settings)]


def split_feed_path(path: str, settings: Settings) -> tuple[str, Format] | None:
    """``topics/ai.rss`` → (``topics/ai``, RSS); None when it is not a feed path."""
    stem, dot, extension = path.rpartition(".")
    fmt = Format.from_extension(extension) if dot else None
    if fmt is None or fmt not in enabled_formats(settings):
        return None
    return stem, fmt


def split_page_path(path: str) -> str | None:
    """``topics/ai.html`` → ``topics/ai`` (the feed whose page it would be); None for other paths."""
    stem, dot, extension = path.rpartition(".")
    return stem if dot and extension == PAGE_EXTENSION else None


def split_archive_path(path: str, settings: Settings) -> tuple[str, int, Format] | None:
    """``archive/topics/ai/3.rss`` → (``topics/ai``, 3, RSS); None when it cannot be an archive page."""
    folder, slash, rest = path.partition("/")
    if folder != ARCHIVE_FOLDER or not slash:
        return None
    feed_path, slash, name = rest.rpartition("/")
    parts = split_feed_path(name, settings)
    if not slash or parts is None or not parts[0].isascii() or not parts[0].isdigit():
        return None
    page = int(parts[0])
    return (feed_path, page, parts[1]) if str(page) == parts[0] else None


def feed_document(path: str, catalog: Catalog, settings: Settings) -> tuple[Feed, int, Format] | None:
    """The feed, page (0: the current document) and format a site path shows; None for other paths.

    For the export's signatures: these are the documents whose bytes come from a feed's items.
    """
    archive = split_archive_path(path, settings)
    if archive is not None:
        feed = catalog.get(archive[0])
        if feed is None or not 1 <= archive[1] <= archive_pages(feed, settings.archive_page_size):
            return None
        return feed, archive[1], archive[2]
    parts = split_feed_path(path, settings)
    feed = catalog.get(parts[0]) if parts is not None else None
    return None if feed is None else (feed, 0, parts[1])


def render_path(
    path: str,
    catalog: Catalog,
    settings: Settings,
    fragments: Fragments | None = None,
    page_items: PageItems | None = None,
) -> Rendered | None:
    """The bytes for one site path, or None when the site has no such path.

    ``fragments``: where feed documents take their items' bytes (see :func:`feeds.render.feed.render_feed`);
    ``page_items``: where feed pages take theirs (see :func:`feeds.render.feed_page.render_feed_page`).
    """
    if path == INDEX_PATH:
        return render_index(catalog, settings, enabled_formats(settings), settings.site_url + OPML_PATH)
    if path == OPML_PATH:
        return render_opml(catalog, settings)
    archive = split_archive_path(path, settings)
    if archive is not None:
        feed = catalog.get(archive[0])
        return None if feed is None else render_archive(feed, archive[1], archive[2], catalog, settings, fragments)
    page = split_page_path(path)
    if page is not None:
        feed = catalog.get(page)
        formats = enabled_formats(settings)
        return None if feed is None else render_feed_page(feed, catalog, settings, formats, page_items)
    parts = split_feed_path(path, settings)
    if parts is None:
        return None
    feed = catalog.get(parts[0])
    return None if feed is None else render_feed(feed, parts[1], catalog, settings, fragments=fragments)


def quote_attribute(value: str) -> str:
    """``xml.sax.saxutils.quoteattr(value)``: escaped and quoted for an XML attribute (a test holds the two equal).

    Not imported from there: ``xml.sax.saxutils`` imports ``urllib.request`` and with it
    ``http.client`` and ``ssl``, which nothing else of an export loads (~15 ms of every run's start-up).
    """
    text = value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    text = text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace('"', "&quot;") + '"'


def render_opml(catalog: Catalog, settings: Settings) -> Rendered:
    """OPML 2.0: every feed with absolute xmlUrl and htmlUrl, grouped All / Topics / Providers."""
    formats = enabled_formats(settings)
    preferred = formats[0]  # the first enabled in the site's order (RSS, unless the config leaves it out)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{html.escape(settings.site_title, quote=False)}</title>",
        "  </head>",
        "  <body>",
    ]
    for family in catalog.families:
        feeds = catalog.of_family(family)
        if not feeds:
            continue
        heading = family.heading
        lines.append(f"    <outline text={quote_attribute(heading)} title={quote_attribute(heading)}>")
        for feed in feeds:
            attributes = " ".join(
                f"{name}={quote_attribute(value)}"
                for name, value in (
                    ("type", preferred.extension),  # OPML 2.0: "rss" by custom; the format otherwise
                    ("text", feed.name),
                    ("title", feed.title),
                    ("xmlUrl", feed_url(settings, feed.path, preferred)),
                    ("htmlUrl", f"{settings.site_url}#{feed.path}"),
                )
            )
            lines.append(f"      <outline {attributes}/>")
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return make_rendered("\n".join(lines).encode("utf-8"), OPML_TYPE, catalog.updated)
