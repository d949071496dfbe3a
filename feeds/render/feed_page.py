"""A feed's page for people: ``<feed path>.html``, beside the feed's documents.

Shows what the feed is, how to subscribe to it (its URL in each format, a copy
button, links that open common readers' subscribe flows) and its newest items
(title linked to the article, lead image, date, source, summary, topics linked
to their own pages), with links to the archive pages and autodiscovery links
(``<link rel="alternate">``) for each format. Sans-IO: a feed, its catalog and
the settings in, bytes out; every text and URL is escaped (:func:`feeds.render.page_layout.esc`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import quote

from feeds.config import Settings
from feeds.index.catalog import Catalog, Feed, archive_pages
from feeds.index.families import PROVIDERS, TOPICS
from feeds.model import Article
from feeds.render.feed import PAGE_EXTENSION, WRITERS, Format, Rendered, archive_path, feed_url, make_rendered, page_url
from feeds.render.page_layout import PAGE_TYPE, esc, page_document, time_element


class FeedPageOutput:
    """A feed's page as one more output of the feed beside its formats: what the site's table of
    documents and the export's signatures and content types read of an output (feeds.render.site.site_documents)."""

    extension = PAGE_EXTENSION
    media_type = PAGE_TYPE


FEED_PAGE = FeedPageOutput()

# Web readers whose subscribe flow opens from a link holding the feed's URL (percent-encoded):
# (name, the link before the URL). A reader is one line here.
READERS = (
    ("Feedly", "https://feedly.com/i/subscription/feed%2F"),
    ("Inoreader", "https://www.inoreader.com/?add_feed="),
    ("NewsBlur", "https://www.newsblur.com/?url="),
    ("The Old Reader", "https://theoldreader.com/feeds/subscribe?url="),
)


def format_label(fmt: Format) -> str:
    """The format's name as people read it ("JSON Feed", not "JSON"), from its writer."""
    return WRITERS[fmt].label


def discovery_links(feed: Feed, settings: Settings, formats: tuple[Format, ...]) -> str:
    """``<link rel="alternate">`` for each format of ``feed``: how browsers and readers find it (RSS autodiscovery)."""
    return "".join(
        f'<link rel="alternate" type="{fmt.media_type.split(";")[0]}" '
        f'title="{esc(feed.title)} ({format_label(fmt)})" href="{esc(feed_url(settings, feed.path, fmt))}">\n'
        for fmt in formats
    )


def _subscribe(feed: Feed, settings: Settings, formats: tuple[Format, ...]) -> str:
    fields = []
    for fmt in formats:
        field_id = f"url-{fmt.extension}"
        label = format_label(fmt)
        fields.append(
            f'<div class="feed-url"><label for="{field_id}">{label}</label>'
            f'<input id="{field_id}" type="text" readonly value="{esc(feed_url(settings, feed.path, fmt))}">'
            f'<button type="button" data-copy="{field_id}" hidden>Copy<span class="skip"> the {label} URL</span>'
            "</button></div>"
        )
    preferred = formats[0]  # the first enabled in the site's order (RSS, unless the config leaves it out)
    subscribe_to = quote(feed_url(settings, feed.path, preferred), safe="")
    readers = "".join(f'<li><a href="{esc(link + subscribe_to)}">{esc(name)}</a></li>' for name, link in READERS)
    pages = archive_pages(feed, settings.archive_page_size)
    archive = ""
    if pages:
        links = ", ".join(
            f'<a href="{esc(settings.site_url + archive_path(feed.path, pages, fmt))}">{format_label(fmt)}</a>'
            for fmt in formats
        )
        archive = (  # no count of the older articles: it would change this page when only the archive does
            f"<p>Older articles are in {pages} archive page{'s' if pages > 1 else ''} "
            f"(RFC 5005), newest first: {links}.</p>\n"
        )
    return (
        '<section class="subscribe" aria-labelledby="subscribe">\n<h2 id="subscribe">Subscribe</h2>\n'
        "<p>Paste one of these addresses into your feed reader:</p>\n"
        + "\n".join(fields)
        + '\n<p id="readers-note">Or subscribe in a web reader:</p>\n'
        f'<ul class="readers" aria-labelledby="readers-note">{readers}</ul>\n{archive}</section>\n'
    )


# article → its list item on a feed's page (what page_item gives); see render_feed_page
PageItems = Callable[[Article], str]


def page_item(article: Article, catalog: Catalog, settings: Settings) -> str:
    """One article as a list item; its lead image sized (no layout shift) and lazy-loaded.

    The same text on every page that shows the article: a big export renders it once
    (``feeds.folder.bulk``'s item pass) and hands it to :func:`render_feed_page`."""
    link = esc(article.link)
    parts = [f'<h3><a href="{link}">{esc(article.title)}</a></h3>']
    image = article.lead_image
    if image is not None:
        dimensions = (("width", image.width), ("height", image.height))
        size = "".join(f' {name}="{value}"' for name, value in dimensions if value)
        unsized = "" if image.width and image.height else ' class="unsized"'
        parts.append(f'<img src="{esc(image.url)}" alt=""{size}{unsized} loading="lazy" decoding="async">')
    meta = [time_element(article.published_at)]
    if article.provider is not None:
        path = catalog.value_paths[PROVIDERS].get(article.provider)
        name = esc(article.provider.name)
        meta.append(f'<a href="{esc(page_url(settings, path))}">{name}</a>' if path else name)
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
    if article.summary:
        parts.append(f"<p>{esc(article.summary)}</p>")
    topics = []
    for topic in dict.fromkeys(article.topics):  # one link per spelling, in the article's order
        path = catalog.value_paths[TOPICS].get(topic)
        topics.append(f'<li><a href="{esc(page_url(settings, path))}">{esc(topic)}</a></li>' if path else "")
    if any(topics):
        parts.append(f'<ul class="topics" aria-label="Topics">{"".join(topics)}</ul>')
    kind = "item with-image" if image is not None else "item"
    return f'<li class="{kind}">' + "\n".join(parts) + "</li>"


def render_feed_page(
    feed: Feed, catalog: Catalog, settings: Settings, formats: tuple[Format, ...], items: PageItems | None = None
) -> Rendered:
    """The page of ``feed`` with its newest items (``feed.items``), for the given formats; dated by its newest item.

    ``items`` gives each article's list item (default: :func:`page_item`); whatever gives them, it must be its text.
    """
    if items is None:
        items = functools.partial(page_item, catalog=catalog, settings=settings)
    listing = "\n".join(map(items, feed.items))
    listing = f'<ol class="items">\n{listing}\n</ol>' if listing else "<p>No articles yet.</p>"
    count = len(feed.items)
    body = (
        f'<header class="site">\n<nav class="crumbs" aria-label="Site"><a href="{esc(settings.site_url)}">'
        f"← Every feed of {esc(settings.site_title)}</a></nav>\n</header>\n"
        f'<main id="main">\n<h1>{esc(feed.name)}</h1>\n<p class="lede">{esc(feed.description)}</p>\n'
        f"{_subscribe(feed, settings, formats)}"
        f'<section aria-labelledby="newest">\n<h2 id="newest">Newest articles'
        f"{f' ({count})' if count else ''}</h2>\n{listing}\n</section>\n</main>\n"
        f'<footer class="site"><p>This page shows what the feed holds now; the feed itself is for your reader. '
        f'<a href="{esc(settings.site_url)}">Every feed</a>.</p></footer>\n'
    )
    document = page_document(
        language=settings.language,
        title=feed.title,
        head=discovery_links(feed, settings, formats),
        body=body,
        script=True,
    )
    return make_rendered(document, PAGE_TYPE, feed.updated)
