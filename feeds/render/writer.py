"""What every format's writer shares: the writer interface, rendered bytes, item HTML, URLs.

A :class:`FeedWriter` holds everything particular to one :class:`~feeds.formats.Format`:
how an item and a document are written, and the facts other stages ask about
(does a browser get the document as XML, do its items show a per-feed date).
No module outside a writer branches on a particular format. Sans-IO.
"""

from __future__ import annotations

import functools
import hashlib
import html
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

from feeds.config import Settings
from feeds.formats import Format
from feeds.index.catalog import Catalog, Feed
from feeds.model import Article, Image
from feeds.site_paths import ARCHIVE_FOLDER

# An empty feed still needs a date (Atom requires <updated>); never the clock. The
# newest article of the whole site is used (plausible, and fixed by the input);
# this only when the site has no article at all.
EMPTY_FEED_DATE = datetime(1970, 1, 1, tzinfo=UTC)
_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
}
# Image CDNs that resize on the fly take the format to send from a query parameter,
# and their URLs often have no extension (issue 15): MSN's ".../AA1b1ddI.img?...&f=jpg",
# imgix's "fm=", and others' "format=" and "ext=". Their spellings of a type:
_FORMAT_PARAMETERS = ("f", "fm", "format", "ext")
_FORMAT_TYPES = {
    **{extension[1:]: media_type for extension, media_type in _IMAGE_TYPES.items()},
    "pjpg": "image/jpeg",  # imgix: progressive JPEG
    "png8": "image/png",
    "png32": "image/png",
}

# (a document's articles, its format, each one's Atom updated) → each one's item bytes, in order: one call
# a document, so a store of items (feeds.folder.bulk) looks its format up once; see feeds.render.feed.item_fragment
Fragments = Callable[[Sequence[Article], Format, Sequence[datetime]], list[bytes]]


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
    # an RFC 5005 archive page (compressed for speed: see feeds.render.gzipped.gzip_rendered)
    archive_page: bool = False

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


def feed_url(settings: Settings, path: str, fmt: Format) -> str:
    return f"{settings.site_url}{path}.{fmt.extension}"


PAGE_EXTENSION = "html"  # a feed's page for people sits beside its documents: topics/ai.html


def page_url(settings: Settings, path: str) -> str:
    """The absolute URL of the HTML page of the feed at ``path`` (see :mod:`feeds.render.feed_page`)."""
    return f"{settings.site_url}{path}.{PAGE_EXTENSION}"


def home_url(feed: Feed, catalog: Catalog, settings: Settings) -> str:
    """Where a feed document sends people (RSS channel ``<link>``, Atom ``rel="alternate"``, JSON Feed
    ``home_page_url``): the feed's page, or the index for a feed without one (the live server's filters)."""
    return page_url(settings, feed.path) if catalog.get(feed.path) is not None else settings.site_url


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


class FeedWriter:
    """One format's writer: subclasses set :attr:`format` and write items and documents.

    ``dated_items``: an item's bytes depend on the ``updated`` stamp it has in one
    document (Atom moves tied entries apart by milliseconds), not on the article alone.
    ``label``: the format's name as people read it (the pages' links and fields).
    """

    format: ClassVar[Format]
    label: ClassVar[str]
    dated_items: ClassVar[bool] = False

    def item(self, article: Article, catalog: Catalog, settings: Settings, updated: datetime) -> bytes:
        """One item's bytes exactly as a document of this format holds them: indented, ending its line."""
        raise NotImplementedError

    def forget_items(self) -> None:
        """Empty the memo :meth:`item` keeps, if any (see :func:`feeds.render.feed.forget_item_memos`)."""

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
        """``feed``'s document with every one of its items (their bytes from ``fragments``).

        ``self_url`` is its id and rel=self link; ``links`` its RFC 5005 links;
        ``updated`` a date the document is at least as new as (an archive page's).
        """
        raise NotImplementedError


def image_type(image: Image) -> str | None:
    """MIME type from what the URL says: a known extension, else a format query parameter
    (``f=jpg``, ``fm=png``, ``format=webp``, ``ext=gif``); None when unknown (no type beats a wrong one)."""
    return _url_image_type(image.url)


@functools.lru_cache(maxsize=65_536)
def _url_image_type(url: str) -> str | None:
    # memoised: one image is typed once per feed and format that holds it
    parts = urlsplit(url)
    known = _IMAGE_TYPES.get(posixpath.splitext(parts.path)[1].lower())
    if known is not None or not parts.query:
        return known
    for name, value in parse_qsl(parts.query):
        if name.lower() in _FORMAT_PARAMETERS and value.lower() in _FORMAT_TYPES:
            return _FORMAT_TYPES[value.lower()]
    return None


def provider_home(article: Article) -> str | None:
    """The home page of the article's provider, from its domain; None without one."""
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
        home = provider_home(article)
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
