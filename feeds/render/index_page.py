"""The index page (``/``, ``index.html``): every feed's page, with its counts and newest date, found as you type.

One list per family of feeds; each row links the feed's page (:mod:`feeds.render.feed_page`)
and its documents. The finder is :data:`feeds.render.page_layout.SCRIPT` over this very
list: hidden without script, when the whole list stays usable as it is. Sans-IO.
"""

from __future__ import annotations

from feeds.config import Settings
from feeds.index.catalog import Catalog, Feed
from feeds.render.feed import Format, Rendered, feed_url, make_rendered, page_url
from feeds.render.feed_page import discovery_links, format_label
from feeds.render.page_layout import PAGE_TYPE, display_date, esc, page_document, time_element


def _row(feed: Feed, settings: Settings, formats: tuple[Format, ...]) -> str:
    name = esc(feed.name)
    links = "".join(
        f'<li><a href="{esc(feed_url(settings, feed.path, fmt))}">{format_label(fmt)}</a></li>' for fmt in formats
    )
    newest = f" · newest {time_element(feed.updated)}" if feed.updated is not None else ""
    plural = "" if feed.total == 1 else "s"
    return (
        f'<li id="{esc(feed.path)}" data-name="{esc(feed.name.lower())}">'
        f'<a class="name" href="{esc(page_url(settings, feed.path))}">{name}</a>'
        f'<span class="facts">{feed.total} article{plural}{newest}</span>'
        f'<ul class="formats" aria-label="{name}: feed documents">{links}</ul></li>'
    )


def render_index(catalog: Catalog, settings: Settings, formats: tuple[Format, ...], opml_url: str) -> Rendered:
    """The index page for ``formats``; ``opml_url`` is the site's OPML list. Dated by the newest article."""
    sections = []
    for family in catalog.families:
        feeds = catalog.of_family(family)
        if not feeds:
            continue
        section_id = f"family-{family.name}"
        heading = esc(family.heading)
        rows = "\n".join(_row(feed, settings, formats) for feed in feeds)
        count = f" ({len(feeds)})" if len(feeds) > 1 else ""
        sections.append(
            f'<section class="family" aria-labelledby="{section_id}">\n<h2 id="{section_id}">{heading}{count}</h2>\n'
            f'<ul class="feeds">\n{rows}\n</ul>\n</section>'
        )
    all_feed = catalog.everything
    site = esc(settings.site_url)
    newest = catalog.updated
    body = (
        f'<header class="site">\n<h1>{esc(settings.site_title)}</h1>\n'
        f'<p class="lede">{esc(settings.site_description)}</p>\n'
        f"<p>{catalog.article_count} articles in {len(catalog.feeds)} feeds, newest {display_date(newest)}. "
        "Open a feed's page to read it and subscribe, or import "
        f'<a href="{esc(opml_url)}">every feed as OPML</a> into your reader.</p>\n</header>\n'
        '<main id="main">\n<div class="finder" hidden><label for="find">Find a feed</label>'
        '<input id="find" type="search" autocomplete="off" spellcheck="false">'
        '<p id="find-status" role="status" aria-live="polite"></p></div>\n'
        + "\n".join(sections)
        + "\n</main>\n"
        '<footer class="site">\n<p>Live server only: combine feeds with '
        f"<code>{site}filter.rss?topic=ai&amp;topic=robotics&amp;provider=wired&amp;min_quality=50&amp;q=chips</code> "
        "(also <code>.atom</code> and <code>.json</code>). Several values of one parameter match any of them; "
        "different parameters must all match. <code>topic</code> and <code>provider</code> take a name or a slug, "
        "<code>q</code> a word in the title or summary; at most 20 parameters of 100 characters each.</p>\n</footer>\n"
    )
    document = page_document(
        language=settings.language,
        title=settings.site_title,
        head=discovery_links(all_feed, settings, formats) if all_feed is not None else "",
        body=body,
        script=True,
    )
    return make_rendered(document, PAGE_TYPE, newest)
