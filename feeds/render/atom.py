"""The Atom 1.0 writer: everything particular to Atom (RFC 4287)."""

from __future__ import annotations

from datetime import datetime

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree

from feeds.config import Settings
from feeds.formats import Format
from feeds.index.catalog import Catalog
from feeds.model import Article
from feeds.render.writer import provider_home
from feeds.render.xmlfeed import ATOM_NS, MEDIA_NS, XmlWriter, xml_item


class AtomEnclosureExtension(BaseEntryExtension):
    """Writes ``<link rel="enclosure" type length>`` for an Atom entry ourselves.

    Works around feedgen 1.0.0 upstream issue #135: ``FeedEntry.atom_entry``
    rebinds its loop variable, so every entry ``<link>`` loses rel, type and
    length, and an enclosure turns into a second plain (alternate) link: the W3C
    validator's DuplicateAtomLink error, and readers take the image as the
    article's link. This extension adds the enclosure after feedgen's own links.
    """

    def __init__(self) -> None:
        self.links: list[dict[str, str]] = []

    def extend_atom(self, entry):
        for attributes in self.links:
            xml_elem("link", entry, **attributes)
        return entry


class AtomWriter(XmlWriter):
    format = Format.ATOM
    label = "Atom"
    dated_items = True  # <updated> of a tied entry moves by milliseconds within one feed
    item_tags = (b"<entry>", b"</entry>", b"  ")
    closing = b"</feed>"

    @staticmethod
    def date_text(moment: datetime) -> str:
        return moment.isoformat()  # what FeedEntry.atom_entry writes a date with (Rfc3339Datetime's own)

    def item(self, article: Article, catalog: Catalog, settings: Settings, updated: datetime) -> bytes:
        return xml_item(self, article, updated, None)

    def empty_parent(self) -> etree._Element:
        return xml_elem("feed", xmlns=ATOM_NS, nsmap={"media": MEDIA_NS})

    def add_hub(self, generator: FeedGenerator, hub: str) -> None:
        generator.link(href=hub, rel="hub")  # feedgen keeps a feed-level Atom link of any rel

    def serialise(self, generator: FeedGenerator) -> bytes:
        return generator.atom_str(pretty=True)

    def entry_element(self, entry: FeedEntry) -> etree._Element:
        return entry.atom_entry()

    def new_entry(self) -> FeedEntry:
        entry = super().new_entry()
        entry.register_extension("enclosure_fix", AtomEnclosureExtension, atom=True, rss=False)
        return entry

    def add_summary(self, entry: FeedEntry, article: Article) -> None:
        entry.summary(article.summary)  # Atom type="text" (RFC 4287 §3.1.1)

    def add_provider(self, entry: FeedEntry, article: Article, source_url: str | None) -> None:
        if article.provider is None:  # pragma: no cover - fill_entry asks only with a provider
            return
        author = {"name": article.provider.name}
        home = provider_home(article)
        if home:
            author["uri"] = home
        entry.author(author)  # RFC 4287 §4.2.1: the provider is the entry's author

    def add_enclosure(self, entry: FeedEntry, url: str, media_type: str) -> None:
        entry.enclosure_fix.links.append({"rel": "enclosure", "href": url, "type": media_type, "length": "0"})


ATOM_WRITER = AtomWriter()
