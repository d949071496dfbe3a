"""RSS and Atom through feedgen: a document is feedgen's frame with its items' bytes spliced in.

What the two XML writers (:mod:`feeds.render.rss`, :mod:`feeds.render.atom`) share: the
generator with the site's fields, the RFC 5005 links, the entry's common fields,
and the splice. feedgen's known bugs are worked around in these
three modules and nowhere else; feedgen never leaves them.
"""

from __future__ import annotations

import functools
import threading
from datetime import datetime, timedelta
from typing import ClassVar

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.ext.media import MediaEntryExtension, MediaExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds import __version__
from feeds.config import Settings
from feeds.index.catalog import Catalog, Feed
from feeds.model import Article, Image
from feeds.read.dates import Rfc3339Datetime
from feeds.render.item_template import Splicer
from feeds.render.writer import (
    EMPTY_FEED_DATE,
    ArchiveLinks,
    FeedWriter,
    Fragments,
    content_html,
    home_url,
    image_type,
)

GENERATOR = "feeds"
GENERATOR_URI = "https://github.com/feeds-publisher/feeds"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005 fh:archive
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
_FRAGMENT_MEMO = 4_096  # items remembered (see xml_item)


class ArchiveFeedExtension(BaseExtension):
    """Writes the RFC 5005 links and ``<fh:archive/>`` of a feed document ourselves.

    feedgen 1.0.0 drops every RSS channel link but rel="self" (RSS needs
    ``atom:link`` elements), and its Atom ``link()`` refuses rel values it does
    not list, such as prev-archive. The links go right after the self link.
    """

    def __init__(self) -> None:
        self.links: ArchiveLinks = ArchiveLinks()

    def extend_ns(self):
        return {"fh": HISTORY_NS} if self.links.current else {}

    def _extend(self, parent, link_tag: str):
        anchor = next((e for e in parent.iter(link_tag) if e.get("rel") == "self"), None)
        elements = []
        for rel, href in (("current", self.links.current), ("prev-archive", self.links.prev),
                          ("next-archive", self.links.next)):  # fmt: skip
            if href is not None:
                elements.append(parent.makeelement(link_tag, {"href": href, "rel": rel}))
        if self.links.current is not None:
            elements.append(parent.makeelement(f"{{{HISTORY_NS}}}archive", {}))
        for element in reversed(elements):
            if anchor is not None:
                anchor.addnext(element)
            else:  # pragma: no cover - new_generator always sets a self link
                parent.append(element)

    def extend_rss(self, rss_feed):
        self._extend(rss_feed[0], f"{{{ATOM_NS}}}link")
        return rss_feed

    def extend_atom(self, atom_feed):
        self._extend(atom_feed, "link")  # feedgen's Atom elements are unqualified, under a default xmlns
        return atom_feed


class NoEntryExtension(BaseEntryExtension):
    """feedgen wants an entry half for every extension; feed-level ones have none."""


class XmlWriter(FeedWriter):
    """A feedgen-made format; a subclass fills in what differs between RSS and Atom.

    ``item_tags``: an item's start tag, end tag and indent in a pretty-printed document;
    ``closing``: the frame's last element line, before which items go.
    ``fill_entry`` is also called with a recorder (:mod:`feeds.render.item_template`) instead of an
    entry: it only calls methods of the entry and of its attributes, and reads nothing back.
    """

    item_tags: ClassVar[tuple[bytes, bytes, bytes]]
    closing: ClassVar[bytes]

    @staticmethod
    def date_text(moment: datetime) -> str:
        """An entry's date as feedgen writes it in this format (its own function, for spliced items)."""
        raise NotImplementedError

    def __init__(self) -> None:
        self._placement = threading.local()
        self.splicer = Splicer(self)  # its items from templates (feeds.render.item_template)

    def forget_items(self) -> None:
        xml_item.cache_clear()  # one memo for both formats

    # --- what a subclass says -------------------------------------------------------------------

    def empty_parent(self) -> etree._Element:
        """A new empty element that holds this format's items, in a root built as feedgen builds its own."""
        raise NotImplementedError

    def add_hub(self, generator: FeedGenerator, hub: str) -> None:
        raise NotImplementedError

    def serialise(self, generator: FeedGenerator) -> bytes:
        raise NotImplementedError

    def entry_element(self, entry: FeedEntry) -> etree._Element:
        raise NotImplementedError

    def add_summary(self, entry: FeedEntry, article: Article) -> None:
        raise NotImplementedError

    def add_provider(self, entry: FeedEntry, article: Article, source_url: str | None) -> None:
        raise NotImplementedError

    def add_enclosure(self, entry: FeedEntry, url: str, media_type: str) -> None:
        raise NotImplementedError

    # --- the shared work ------------------------------------------------------------------------

    def new_generator(
        self,
        feed: Feed,
        settings: Settings,
        self_url: str,
        updated: datetime,
        links: ArchiveLinks | None = None,
        *,
        home: str,
    ) -> FeedGenerator:
        """feedgen's generator for ``feed`` without entries: the document's frame; ``home``: its link for people."""
        generator = FeedGenerator()
        # the classes load_extension("media") registers, without its import of a module
        # feedgen.ext.media_entry that does not exist: a file system search per document
        generator.register_extension("media", MediaExtension, MediaEntryExtension, atom=True, rss=True)
        generator.id(self_url)
        generator.title(feed.title)
        generator.subtitle(feed.description)
        generator.language(settings.language)
        generator.generator(GENERATOR, version=__version__, uri=GENERATOR_URI)
        generator.author({"name": settings.author, "uri": settings.site_url})
        # feedgen RSS takes the channel <link> from the last link() call, whatever
        # its rel: hub and self first, the feed's page (alternate) last.
        if settings.websub_hub is not None:  # W3C WebSub §4: rel="hub" beside rel="self"
            self.add_hub(generator, settings.websub_hub)
        generator.link(href=self_url, rel="self", type=self.format.media_type.split(";")[0])
        generator.link(href=home, rel="alternate", type="text/html")
        if links is not None:
            generator.register_extension("archive", ArchiveFeedExtension, NoEntryExtension, atom=True, rss=True)
            generator.archive.links = links
        # feedgen stamps lastBuildDate/updated with the clock unless set.
        generator.updated(Rfc3339Datetime.of(updated))  # three fraction digits at most (issue 15)
        return generator

    def new_entry(self) -> FeedEntry:
        """A feedgen entry with the extensions ``FeedGenerator.add_entry`` would give it, in the same order."""
        entry = FeedEntry()
        # the class itself, as add_entry does: FeedEntry.load_extension("media") first tries to
        # import a module feedgen.ext.media_entry, which does not exist (a file system search per entry)
        entry.register_extension("media", MediaEntryExtension, atom=True, rss=True)
        return entry

    def fill_entry(self, entry: FeedEntry, article: Article, source_url: str | None, updated: datetime) -> None:
        """Every field of ``article``'s entry; ``source_url``: the RSS ``<source url>`` (None for Atom)."""
        entry.title(article.title)
        entry.link(href=article.link, rel="alternate")
        entry.guid(article.uid, permalink=False)
        published = Rfc3339Datetime.of(article.published_at)  # see Rfc3339Datetime
        entry.published(published)
        # the same object when it is the same date (an item pass's every entry): a spliced item then
        # writes its text once (feeds.render.item_template)
        entry.updated(published if updated is article.published_at else Rfc3339Datetime.of(updated))
        if article.summary:
            self.add_summary(entry, article)
        entry.content(content_html(article), type="html")
        for topic in article.topics:
            entry.category(term=topic)
        lead = article.lead_image
        lead_type = image_type(lead) if lead else None
        if article.provider is not None:
            self.add_provider(entry, article, source_url)
        if lead is not None and lead_type is not None:
            # no enclosure when the URL tells no type, in Atom too, though RFC 4287 §4.2.7.3 makes its type
            # optional: feedparser then calls it text/html, and a wrong type is worse than none (issue 15)
            self.add_enclosure(entry, lead.url, lead_type)
        for image in article.images:
            extra = _pixel_size(image)
            kind = image_type(image)
            if kind:
                extra["type"] = kind
            entry.media.content(url=image.url, medium="image", group=None, **extra)
        if lead is not None:
            entry.media.thumbnail(url=lead.url, group=None, **_pixel_size(lead))

    def placed(self, entry: FeedEntry) -> bytes:
        """The entry's bytes as lxml's pretty-printer writes them inside a real document.

        It is serialised inside an empty root of its format, at the depth it has in
        a document, so it is indented exactly as feedgen's ``rss_str``/``atom_str``
        would; the root is per thread, since the entry is attached while it is serialised.
        """
        parent = getattr(self._placement, "parent", None)
        if parent is None:
            parent = self._placement.parent = self.empty_parent()
        element = self.entry_element(entry)
        parent.append(element)
        try:
            document = etree.tostring(parent.getroottree(), pretty_print=True, encoding="UTF-8")
        finally:
            parent.remove(element)
        start, end, indent = self.item_tags
        # the entry is the parent's only child and the root has no text, so the first start
        # tag of its name and the last end tag are the entry's own (nested ones lie between)
        return indent + document[document.index(start) : document.rindex(end) + len(end)] + b"\n"

    def document(
        self,
        feed: Feed,
        catalog: Catalog,
        settings: Settings,
        self_url: str,
        fragments: Fragments,
        links: ArchiveLinks | None,
        updated: datetime | None,
    ) -> bytes:
        site_newest = catalog.updated
        item_stamps = distinct_updated(feed.items)
        # the feed's updated is never older than an entry's (ties may move entries by a few ms)
        newest_entry = max(item_stamps) if item_stamps else None
        stamp = max(filter(None, (updated, newest_entry))) if (updated or newest_entry) else None
        stamp = stamp or site_newest or EMPTY_FEED_DATE
        home = home_url(feed, catalog, settings)
        frame = self.serialise(self.new_generator(feed, settings, self_url, stamp, links, home=home))
        items = fragments(feed.items, self.format, item_stamps)
        # feedgen puts entries last: before the frame's last element line, which only the root's follows
        at = frame.rindex(self.closing)
        return b"".join((frame[:at], *items, frame[at:]))


@functools.lru_cache(maxsize=_FRAGMENT_MEMO)
def xml_item(writer: XmlWriter, article: Article, updated: datetime | None, source_url: str | None) -> bytes:
    """An RSS or Atom item's bytes: what they depend on besides the article is the key.

    ``updated``: the Atom ``<updated>`` (None for RSS, which shows no such date);
    ``source_url``: the RSS ``<source url>`` (None for Atom). Hashing an Article is
    cheap (its digest is computed once). One memo for both formats. The bytes are
    :func:`reference_item`'s, spliced from its template when :mod:`feeds.render.item_template` can.
    """
    moment = updated or article.published_at
    spliced = writer.splicer.item(article, source_url, moment)
    return spliced if spliced is not None else reference_item(writer, article, source_url, moment)


def reference_item(writer: XmlWriter, article: Article, source_url: str | None, updated: datetime) -> bytes:
    """An item's bytes built by feedgen and lxml themselves: what a spliced item must equal."""
    entry = writer.new_entry()
    writer.fill_entry(entry, article, source_url, updated)
    return writer.placed(entry)


def _pixel_size(image: Image) -> dict[str, str]:
    """An image's ``width`` and ``height`` as media attributes, each when known (and not 0)."""
    # two ifs, not a comprehension over (name, value) pairs: ~0.5 µs less an image, ~3 an article's items
    size = {}
    if image.width:
        size["width"] = str(image.width)
    if image.height:
        size["height"] = str(image.height)
    return size


def distinct_updated(items: tuple[Article, ...]) -> list[datetime]:
    """Each entry's Atom ``updated``: its publication time, made distinct within the feed.

    Two stories published in the same second are common in news; the W3C
    validator flags equal ``updated`` values in one feed (DuplicateUpdated),
    and some readers use the pair (id, updated) to detect edits. The second,
    third... entry of a tie gets 1, 2... milliseconds added; ``published`` keeps
    the true time. Items are in a fixed order, so this is deterministic.
    """
    published = [article.published_at for article in items]
    if len(set(published)) == len(published):
        # no tie (all but a few of a feed's documents: 4 of 677 at 10,000 generated articles): every
        # entry keeps its own date, the very object, as _spread_ties would give; once for the RSS
        # and once for the Atom document of each feed, 0.04 -> 0.01 CPU-s at 10,000 articles
        return published
    return _spread_ties(items)


def _spread_ties(items: tuple[Article, ...]) -> list[datetime]:
    """:func:`distinct_updated` without its no-tie shortcut: the reference tests/test_render.py holds it to."""
    used: set[datetime] = set()
    next_free: dict[datetime, datetime] = {}  # per tie group: where to look next, so ties cost O(n)
    stamps = []
    for article in items:
        stamp = next_free.get(article.published_at, article.published_at)
        while stamp in used:
            stamp += timedelta(milliseconds=1)
        used.add(stamp)
        next_free[article.published_at] = stamp + timedelta(milliseconds=1)
        stamps.append(stamp)
    return stamps
