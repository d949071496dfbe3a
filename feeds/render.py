"""A feed and a format → bytes, plus what HTTP needs (ETag, Last-Modified, media type).

Sans-IO: no file system, no clock, no request. The web app and the exporter
both call :func:`render_feed`, which is why their bytes are identical. RSS and
Atom go through feedgen; its known bugs are worked around here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import html
import json
import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.ext.media import MediaEntryExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree

from feeds import __version__
from feeds.catalog import Catalog, Feed, archive_items, archive_pages
from feeds.config import Settings
from feeds.model import Article, Image

GENERATOR = "feeds"
GENERATOR_URI = "https://github.com/feeds-publisher/feeds"
# An empty feed still needs a date (Atom requires <updated>); never the clock. The
# newest article of the whole site is used (plausible, and fixed by the input);
# this only when the site has no article at all.
EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)
# the XSLT that shows an RSS or Atom document to a person in a browser (feeds/static/feed.xsl)
STYLESHEET_PATH = "feed.xsl"
ARCHIVE_FOLDER = "archive"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005 fh:archive
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
}


class Format(enum.Enum):
    """A feed format: its file extension and its media type (with charset)."""

    RSS = ("rss", "application/rss+xml; charset=utf-8")
    ATOM = ("atom", "application/atom+xml; charset=utf-8")
    JSON = ("json", "application/feed+json; charset=utf-8")

    def __init__(self, extension: str, media_type: str) -> None:
        # plain attributes, not properties: Python 3.11's enum property descriptor costs
        # ~2 µs a read, and every path of a site (15,000 at 100k articles) reads them
        self.extension = extension
        self.media_type = media_type

    @classmethod
    def from_extension(cls, extension: str) -> Format | None:
        return next((f for f in cls if f.extension == extension), None)


@dataclass(frozen=True, slots=True)
class Rendered:
    """Bytes ready to serve or write, with their HTTP metadata.

    ``sha256`` is the hex digest of the bytes (the export's manifest has it whole);
    ``etag`` is a strong validator made from it (unquoted); ``last_modified`` is
    whole seconds in UTC, or None when nothing is dated.
    """

    body: bytes
    sha256: str
    media_type: str
    last_modified: datetime | None
    dropped: int = 0  # oldest items left out to keep the feed within settings.max_feed_bytes
    archive_page: bool = False  # an RFC 5005 archive page (compressed for speed: see feeds.site.gzip_rendered)

    @property
    def etag(self) -> str:
        return self.sha256[:32]


def make_rendered(
    body: bytes, media_type: str, last_modified: datetime | None, dropped: int = 0, archive_page: bool = False
) -> Rendered:
    """Wrap bytes: the ETag comes from the bytes, Last-Modified loses its fraction.

    HTTP dates have whole seconds (RFC 9110 §5.6.7); a fraction would make every
    If-Modified-Since comparison miss.
    """
    stamp = last_modified.replace(microsecond=0) if last_modified else None
    return Rendered(body, hashlib.sha256(body).hexdigest(), media_type, stamp, dropped, archive_page)


def over_budget(rendered: Rendered, settings: Settings) -> bool:
    """True when the feed hit ``max_feed_bytes``: items were dropped, or its one item alone is over it."""
    budget = settings.max_feed_bytes
    return rendered.dropped > 0 or bool(budget and len(rendered.body) > budget)


def feed_url(settings: Settings, path: str, fmt: Format) -> str:
    return f"{settings.site_url}{path}.{fmt.extension}"


def archive_path(feed_path: str, page: int, fmt: Format) -> str:
    """``archive/topics/ai/3.rss``: feed paths never start with ``archive/`` (slugs have no '/')."""
    return f"{ARCHIVE_FOLDER}/{feed_path}/{page}.{fmt.extension}"


@dataclass(frozen=True, slots=True)
class ArchiveLinks:
    """The RFC 5005 §4 links of one feed document (absolute URLs; None: no such link).

    An archive page has ``current`` (the feed's own URL) and carries ``<fh:archive/>``;
    the current document has only ``prev``. JSON Feed has no such relations: its
    ``next_url`` (JSON Feed 1.1, "the next n items", i.e. older ones) follows ``prev``.
    """

    current: str | None = None
    prev: str | None = None
    next: str | None = None


def _archive_links(feed: Feed, fmt: Format, settings: Settings, page: int) -> ArchiveLinks | None:
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


def image_type(image: Image) -> str | None:
    """MIME type from the URL's extension; None when unknown (no enclosure beats a wrong one)."""
    return _url_image_type(image.url)


@functools.lru_cache(maxsize=65_536)
def _url_image_type(url: str) -> str | None:
    # memoised: one image is typed once per feed and format that holds it
    extension = posixpath.splitext(urlsplit(url).path)[1].lower()
    return _IMAGE_TYPES.get(extension)


def _provider_feed_url(catalog: Catalog, settings: Settings, article: Article) -> str | None:
    """The provider's own RSS feed here: an RSS item's ``<source url>``."""
    provider = article.provider
    if provider is None:
        return None
    path = catalog.provider_paths.get(provider)
    return feed_url(settings, path, Format.RSS) if path else None


def _provider_home(article: Article) -> str | None:
    domain = article.provider.domain if article.provider else None
    return f"https://{domain}/" if domain else None


@functools.lru_cache(maxsize=2_048)
def content_html(article: Article) -> str:
    """The item's HTML body: lead image, excerpt, video, source and related links.

    Every text and URL is escaped; URLs are http(s) only (the reader saw to it),
    and there is no script, style, iframe or event attribute, so nothing runs.
    Memoised (a pure function of a frozen value): an article sits in several
    feeds, each rendered in three formats.
    """
    esc = html.escape
    parts = []
    image = article.lead_image
    if image is not None:
        size = "".join(
            f' {name}="{value}"' for name, value in (("width", image.width), ("height", image.height)) if value
        )
        parts.append(f'<p><a href="{esc(article.link)}"><img src="{esc(image.url)}" alt=""{size}></a></p>')
    if article.summary:
        parts.append(f"<p>{esc(article.summary)}</p>")
    if article.featured_embed_url:
        parts.append(f'<p><a href="{esc(article.featured_embed_url)}">Watch the video</a></p>')
    if article.provider is not None:
        home = _provider_home(article)
        name = esc(article.provider.name)
        source = f'<a href="{esc(home)}">{name}</a>' if home else name
        parts.append(f'<p>Source: {source} — <a href="{esc(article.link)}">read the article</a></p>')
    if article.related:
        items = []
        for related in article.related:
            by = f" ({esc(related.provider.name)})" if related.provider else ""
            items.append(f'<li><a href="{esc(related.link)}">{esc(related.title)}</a>{by}</li>')
        parts.append("<p>Related:</p><ul>" + "".join(items) + "</ul>")
    return "\n".join(parts)


class _AtomEnclosureExtension(BaseEntryExtension):
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


class _HubFeedExtension(BaseExtension):
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
        atom_link = "{http://www.w3.org/2005/Atom}link"
        hub = channel.makeelement(atom_link, {"href": self.hub, "rel": "hub"})
        self_link = next((e for e in channel.iter(atom_link) if e.get("rel") == "self"), None)
        if self_link is not None:
            self_link.addprevious(hub)
        else:  # pragma: no cover - _new_generator always sets a self link
            channel.append(hub)
        return rss_feed


class _ArchiveFeedExtension(BaseExtension):
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
            else:  # pragma: no cover - _new_generator always sets a self link
                parent.append(element)

    def extend_rss(self, rss_feed):
        self._extend(rss_feed[0], f"{{{ATOM_NS}}}link")
        return rss_feed

    def extend_atom(self, atom_feed):
        self._extend(atom_feed, "link")  # feedgen's Atom elements are unqualified, under a default xmlns
        return atom_feed


class _NoEntryExtension(BaseEntryExtension):
    """feedgen wants an entry half for every extension; the hub link has none."""


def _new_generator(
    feed: Feed, fmt: Format, settings: Settings, self_url: str, updated: datetime, links: ArchiveLinks | None = None
) -> FeedGenerator:
    generator = FeedGenerator()
    generator.load_extension("media", atom=True, rss=True)
    generator.id(self_url)
    generator.title(feed.title)
    generator.subtitle(feed.description)
    generator.language(settings.language)
    generator.generator(GENERATOR, version=__version__, uri=GENERATOR_URI)
    generator.author({"name": settings.author, "uri": settings.site_url})
    # feedgen RSS takes the channel <link> from the last link() call, whatever
    # its rel: hub and self first, the site (alternate) last.
    if settings.websub_hub is not None:  # W3C WebSub §4: rel="hub" beside rel="self"
        if fmt is Format.RSS:
            generator.register_extension("websub_hub", _HubFeedExtension, _NoEntryExtension, atom=False, rss=True)
            generator.websub_hub.hub = settings.websub_hub
        else:
            generator.link(href=settings.websub_hub, rel="hub")
    generator.link(href=self_url, rel="self", type=fmt.media_type.split(";")[0])
    generator.link(href=settings.site_url, rel="alternate", type="text/html")
    if links is not None:
        generator.register_extension("archive", _ArchiveFeedExtension, _NoEntryExtension, atom=True, rss=True)
        generator.archive.links = links
    # feedgen stamps lastBuildDate/updated with the clock unless set.
    generator.updated(updated)
    return generator


def _new_entry(fmt: Format) -> FeedEntry:
    """A feedgen entry with the extensions ``FeedGenerator.add_entry`` would give it, in the same order."""
    entry = FeedEntry()
    # the class itself, as add_entry does: FeedEntry.load_extension("media") first tries to
    # import a module feedgen.ext.media_entry, which does not exist (a file system search per entry)
    entry.register_extension("media", MediaEntryExtension, atom=True, rss=True)
    if fmt is Format.ATOM:
        entry.register_extension("enclosure_fix", _AtomEnclosureExtension, atom=True, rss=False)
    return entry


def _fill_entry(entry: FeedEntry, article: Article, fmt: Format, source_url: str | None, updated: datetime) -> None:
    entry.title(article.title)
    entry.link(href=article.link, rel="alternate")
    entry.guid(article.uid, permalink=False)
    entry.published(article.published_at)
    entry.updated(updated)
    if article.summary:
        if fmt is Format.RSS:
            # an RSS <description> is HTML (RSS 2.0 spec, item): escape the plain
            # text, or "Q&A" reads as a broken entity (W3C validator: NotHtml)
            entry.description(html.escape(article.summary, quote=False))
        else:
            entry.summary(article.summary)  # Atom type="text" (RFC 4287 §3.1.1)
    entry.content(content_html(article), type="html")
    for topic in article.topics:
        entry.category(term=topic)
    lead = article.lead_image
    lead_type = image_type(lead) if lead else None
    if article.provider is not None:
        if fmt is Format.RSS:
            if source_url:
                entry.source(url=source_url, title=article.provider.name)
        else:
            author = {"name": article.provider.name}
            if _provider_home(article):
                author["uri"] = _provider_home(article)
            entry.author(author)
    if lead is not None and lead_type is not None:
        if fmt is Format.RSS:
            # length 0 means "unknown" (RSS Best Practices Profile, enclosure)
            entry.enclosure(url=lead.url, length=0, type=lead_type)
        else:
            entry.enclosure_fix.links.append({"rel": "enclosure", "href": lead.url, "type": lead_type, "length": "0"})
    for image in article.images:
        extra = {k: str(v) for k, v in (("width", image.width), ("height", image.height)) if v}
        kind = image_type(image)
        if kind:
            extra["type"] = kind
        entry.media.content(url=image.url, medium="image", group=None, **extra)
    if lead is not None:
        size = {k: str(v) for k, v in (("width", lead.width), ("height", lead.height)) if v}
        entry.media.thumbnail(url=lead.url, group=None, **size)


_FRAGMENT_MEMO = 4_096  # items remembered per memo (see item_fragment)


class _Placement(threading.local):
    """An empty document root of each format, built the way feedgen builds its own.

    An entry is serialised inside it, at the depth it has in a real document, so
    lxml's pretty-printer indents it exactly as feedgen's ``rss_str``/``atom_str``
    would; per thread, since the entry is attached while it is serialised.
    """

    def __init__(self) -> None:
        rss = xml_elem("rss", version="2.0", nsmap={"media": MEDIA_NS, "atom": ATOM_NS, "content": CONTENT_NS})
        self.parents = {
            Format.RSS: xml_elem("channel", rss),
            Format.ATOM: xml_elem("feed", xmlns=ATOM_NS, nsmap={"media": MEDIA_NS}),
        }


_placement = _Placement()
_ITEM_TAGS = {Format.RSS: (b"<item>", b"</item>", b"    "), Format.ATOM: (b"<entry>", b"</entry>", b"  ")}


@functools.lru_cache(maxsize=_FRAGMENT_MEMO)
def _xml_fragment(article: Article, fmt: Format, updated: datetime | None, source_url: str | None) -> bytes:
    """An RSS or Atom item's bytes: what they depend on besides the article is the key.

    ``updated``: the Atom ``<updated>`` (None for RSS, which shows no such date);
    ``source_url``: the RSS ``<source url>`` (None for Atom). Hashing an Article is
    cheap (its digest is computed once).
    """
    entry = _new_entry(fmt)
    _fill_entry(entry, article, fmt, source_url, updated or article.published_at)
    element = entry.rss_entry() if fmt is Format.RSS else entry.atom_entry()
    parent = _placement.parents[fmt]
    parent.append(element)
    try:
        document = etree.tostring(parent.getroottree(), pretty_print=True, encoding="UTF-8")
    finally:
        parent.remove(element)
    start, end, indent = _ITEM_TAGS[fmt]
    # the entry is the parent's only child and the root has no text, so the first start
    # tag of its name and the last end tag are the entry's own (nested ones lie between)
    return indent + document[document.index(start) : document.rindex(end) + len(end)] + b"\n"


@functools.lru_cache(maxsize=_FRAGMENT_MEMO)
def _json_fragment(article: Article) -> bytes:
    return b"    " + _json_text(_json_item(article)).encode("utf-8")


def item_fragment(article: Article, fmt: Format, catalog: Catalog, settings: Settings, updated: datetime) -> bytes:
    """One item's bytes exactly as a document of ``fmt`` holds them: indented, ending its line.

    ``updated`` is the entry's Atom ``<updated>`` (see :func:`_distinct_updated`).
    feedgen builds the entry (its element for RSS and Atom); an article sits in
    several feeds, so a document is its feedgen-made frame with these fragments
    spliced in (:func:`_xml_feed`), not feedgen run again over every item of
    every feed. Memoised; a big export hands out fragments it rendered once per
    article instead (``feeds.bulk``, through :func:`feeds.site.render_path`'s ``fragments``).
    """
    if fmt is Format.JSON:
        return _json_fragment(article)
    if fmt is Format.RSS:
        return _xml_fragment(article, fmt, None, _provider_feed_url(catalog, settings, article))
    return _xml_fragment(article, fmt, updated, None)


# (article, format, Atom updated) → the item's bytes; see item_fragment
Fragments = Callable[[Article, Format, datetime], bytes]


def _memo_fragments(catalog: Catalog, settings: Settings) -> Fragments:
    """The default :data:`Fragments`: :func:`item_fragment` (memoised) for this catalog and settings."""
    return lambda article, fmt, updated: item_fragment(article, fmt, catalog, settings, updated)


def _spliced(frame: bytes, fmt: Format, fragments: list[bytes]) -> bytes:
    """feedgen's document without entries (``frame``) with the entries where feedgen puts them: last."""
    closing = b"  </channel>" if fmt is Format.RSS else b"</feed>"
    at = frame.rindex(closing)  # the last line of the frame: nothing follows the closing tag but the root's
    return b"".join((frame[:at], *fragments, frame[at:]))


def _distinct_updated(items: tuple[Article, ...]) -> list[datetime]:
    """Each entry's Atom ``updated``: its publication time, made distinct within the feed.

    Two stories published in the same second are common in news; the W3C
    validator flags equal ``updated`` values in one feed (DuplicateUpdated),
    and some readers use the pair (id, updated) to detect edits. The second,
    third... entry of a tie gets 1, 2... milliseconds added; ``published`` keeps
    the true time. Items are in a fixed order, so this is deterministic.
    """
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


def _with_stylesheet(document: bytes, settings: Settings) -> bytes:
    """The document with ``<?xml-stylesheet?>`` right after its XML declaration.

    The one place the processing instruction is added: feedgen has no API for
    it. Browsers that apply it show a readable page (feeds/static/feed.xsl);
    feed readers ignore it. The href is absolute (from the base URL), so it
    works wherever the document is fetched from on the site.
    """
    declaration, newline, rest = document.partition(b"\n")
    if not declaration.startswith(b"<?xml "):  # pragma: no cover - feedgen always writes one
        raise AssertionError("feedgen wrote no XML declaration")
    href = html.escape(settings.site_url + STYLESHEET_PATH, quote=True)
    return declaration + newline + f'<?xml-stylesheet type="text/xsl" href="{href}"?>\n'.encode() + rest


def _xml_feed(
    feed: Feed,
    fmt: Format,
    catalog: Catalog,
    settings: Settings,
    self_url: str,
    fragments: Fragments,
    links: ArchiveLinks | None = None,
    updated: datetime | None = None,
) -> bytes:
    site_newest = catalog.feeds[0].updated if catalog.feeds else None
    item_stamps = _distinct_updated(feed.items)
    # the feed's updated is never older than an entry's (ties may move entries by a few ms)
    newest_entry = max(item_stamps) if item_stamps else None
    stamp = max(filter(None, (updated, newest_entry))) if (updated or newest_entry) else None
    stamp = stamp or site_newest or EMPTY_FEED_DATE
    generator = _new_generator(feed, fmt, settings, self_url, stamp, links)
    frame = generator.rss_str(pretty=True) if fmt is Format.RSS else generator.atom_str(pretty=True)
    items = [fragments(article, fmt, moment) for article, moment in zip(feed.items, item_stamps, strict=True)]
    return _with_stylesheet(_spliced(frame, fmt, items), settings)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_item(article: Article) -> dict:
    item: dict = {"id": article.uid, "url": article.link, "title": article.title}
    if article.summary:
        item["summary"] = article.summary
    item["content_html"] = content_html(article)
    if article.lead_image is not None:
        item["image"] = article.lead_image.url
    item["date_published"] = _iso(article.published_at)
    if article.provider is not None:
        author = {"name": article.provider.name}
        if _provider_home(article):
            author["url"] = _provider_home(article)
        item["authors"] = [author]
    if article.topics:
        item["tags"] = list(article.topics)
    attachments = [{"url": image.url, "mime_type": image_type(image)} for image in article.images if image_type(image)]
    if attachments:
        item["attachments"] = attachments
    return item


def _json_text(value: object) -> str:
    """Compact JSON with "<", ">" and "&" as \\u escapes.

    They only occur inside JSON strings, where the escapes decode the same, so
    no text in a .json file can be taken for markup by a sniffing client. No
    indent: json's C encoder only runs without one (several times faster).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _json_feed(
    feed: Feed, settings: Settings, self_url: str, fragments: Fragments, next_url: str | None = None
) -> bytes:
    """JSON Feed 1.1: the feed's fields one per line, then one line per item.

    ``next_url`` (JSON Feed 1.1 pagination: older items) links the archive chain.
    """
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": settings.site_url,
        "feed_url": self_url,
        "description": feed.description,
        "language": settings.language,
        "authors": [{"name": settings.author, "url": settings.site_url}],
    }
    if settings.websub_hub is not None:  # JSON Feed 1.1, "hubs"
        document["hubs"] = [{"type": "WebSub", "url": settings.websub_hub}]
    if next_url is not None:
        document["next_url"] = next_url
    lines = [f"  {_json_text(key)}: {_json_text(value)}," for key, value in document.items()]
    head = ("{\n" + "\n".join(lines) + "\n").encode("utf-8")
    if not feed.items:
        return head + b'  "items": []\n}\n'
    items = b",\n".join([fragments(article, Format.JSON, article.published_at) for article in feed.items])
    return b"".join((head, b'  "items": [\n', items, b"\n  ]\n}\n"))


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
    url = self_url or feed_url(settings, feed.path, fmt)
    links = _archive_links(feed, fmt, settings, 0) if self_url is None else None
    fragments = fragments or _memo_fragments(catalog, settings)

    def body_of(items: tuple[Article, ...]) -> bytes:
        shown = feed if items is feed.items else dataclasses.replace(feed, items=items)
        if fmt is Format.JSON:
            return _json_feed(shown, settings, url, fragments, links.prev if links else None)
        return _xml_feed(shown, fmt, catalog, settings, url, fragments, links)

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
    links = _archive_links(feed, fmt, settings, page)
    if links is None or not 1 <= page <= archive_pages(feed, settings.archive_page_size):
        return None
    items = archive_items(feed, page, settings.archive_page_size)
    shown = dataclasses.replace(feed, items=items, older=())
    url = settings.site_url + archive_path(feed.path, page, fmt)
    updated = items[0].published_at if items else feed.older[-1].published_at
    fragments = fragments or _memo_fragments(catalog, settings)
    if fmt is Format.JSON:
        body = _json_feed(shown, settings, url, fragments, links.prev)
    else:
        body = _xml_feed(shown, fmt, catalog, settings, url, fragments, links, updated)
    return make_rendered(body, fmt.media_type, updated, archive_page=True)
