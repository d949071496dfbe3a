"""The RSS 2.0 writer: everything particular to RSS (RSS 2.0 spec; RSS Best Practices Profile)."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import formatRFC2822, xml_elem
from lxml import etree

from feeds.config import Settings
from feeds.formats import Format
from feeds.index.catalog import Catalog
from feeds.model import Article
from feeds.render.writer import feed_url
from feeds.render.xmlfeed import ATOM_NS, CONTENT_NS, MEDIA_NS, NoEntryExtension, XmlWriter, xml_item


class HubFeedExtension(BaseExtension):
    """Writes the WebSub ``<atom:link rel="hub">`` into an RSS channel ourselves.

    feedgen 1.0.0 keeps only the rel="self" link of ``link()`` for RSS and
    silently drops rel="hub", so a WebSub subscriber (W3C WebSub §4,
    discovery) would find no hub in the RSS feed. Atom keeps it (feed-level
    ``link()``). The hub link goes right before the channel's self link.
    """

    def __init__(self) -> None:
        self.hub: str | None = None

    def extend_rss(self, rss_feed):
        if self.hub is None:
            return rss_feed
        channel = rss_feed[0]
        atom_link = f"{{{ATOM_NS}}}link"
        hub = channel.makeelement(atom_link, {"href": self.hub, "rel": "hub"})
        self_link = next((e for e in channel.iter(atom_link) if e.get("rel") == "self"), None)
        if self_link is not None:
            self_link.addprevious(hub)
        else:  # pragma: no cover - new_generator always sets a self link
            channel.append(hub)
        return rss_feed


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pub_date_text(moment: datetime) -> str:
    """A date as feedgen writes an RSS ``pubDate`` (its ``formatRFC2822``: ``strftime`` in the C locale).

    feedgen switches the whole process's locale to C and back for each date (three
    ``setlocale`` calls, most of its ~4.6 µs); a UTC date from or after year 1000, as every
    entry's is (``Rfc3339Datetime.of``), is written here from the same English names in ~1 µs,
    every other through feedgen. ``tests/test_rss.py`` holds the two equal.
    """
    if moment.tzinfo is not UTC or moment.year < 1000:  # strftime's %Y has no zero padding below 1000
        return formatRFC2822(moment)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000"
    )


def provider_feed_url(catalog: Catalog, settings: Settings, article: Article) -> str | None:
    """The provider's own RSS feed here: an RSS item's ``<source url>``."""
    provider = article.provider
    if provider is None:
        return None
    path = catalog.source_paths.get(provider)
    return feed_url(settings, path, Format.RSS) if path else None


class RssWriter(XmlWriter):
    format = Format.RSS
    label = "RSS"
    item_tags = (b"<item>", b"</item>", b"    ")
    closing = b"  </channel>"
    date_text = staticmethod(pub_date_text)  # what FeedEntry.rss_entry writes a pubDate with

    def item(self, article: Article, catalog: Catalog, settings: Settings, updated: datetime) -> bytes:
        # RSS shows no per-feed date: the item depends on the article and its provider's feed alone
        return xml_item(self, article, None, provider_feed_url(catalog, settings, article))

    def empty_parent(self) -> etree._Element:
        rss = xml_elem("rss", version="2.0", nsmap={"media": MEDIA_NS, "atom": ATOM_NS, "content": CONTENT_NS})
        return xml_elem("channel", rss)

    def add_hub(self, generator: FeedGenerator, hub: str) -> None:
        generator.register_extension("websub_hub", HubFeedExtension, NoEntryExtension, atom=False, rss=True)
        generator.websub_hub.hub = hub

    def serialise(self, generator: FeedGenerator) -> bytes:
        return generator.rss_str(pretty=True)

    def entry_element(self, entry: FeedEntry) -> etree._Element:
        return entry.rss_entry()

    def add_summary(self, entry: FeedEntry, article: Article) -> None:
        # an RSS <description> is HTML (RSS 2.0 spec, item): escape the plain
        # text, or "Q&A" reads as a broken entity (W3C validator: NotHtml)
        entry.description(html.escape(article.summary, quote=False))

    def add_provider(self, entry: FeedEntry, article: Article, source_url: str | None) -> None:
        if source_url and article.provider is not None:
            entry.source(url=source_url, title=article.provider.name)

    def add_enclosure(self, entry: FeedEntry, url: str, media_type: str) -> None:
        # length 0 means "unknown" (RSS Best Practices Profile, enclosure)
        entry.enclosure(url=url, length=0, type=media_type)


RSS_WRITER = RssWriter()
