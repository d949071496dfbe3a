"""The JSON Feed 1.1 writer: everything particular to JSON Feed (https://jsonfeed.org/version/1.1)."""

from __future__ import annotations

import functools
import json
from datetime import datetime

from feeds.config import Settings
from feeds.formats import Format
from feeds.index.catalog import Catalog, Feed
from feeds.model import Article
from feeds.read.dates import format_rfc3339
from feeds.render.writer import ArchiveLinks, FeedWriter, Fragments, content_html, home_url, image_type, provider_home

_FRAGMENT_MEMO = 4_096  # items remembered
# what json.dumps(value, ensure_ascii=False, separators=(", ", ": ")) builds on every call, built once (it
# holds only those settings): ~1 µs of a JSON item's ~25
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def _iso(moment: datetime) -> str:
    return format_rfc3339(moment).replace("+00:00", "Z")


def json_text(value: object) -> str:
    """Compact JSON with "<", ">" and "&" as \\u escapes: :func:`json_utf8` as text."""
    return json_utf8(value).decode()


def json_utf8(value: object) -> bytes:
    """Compact JSON in UTF-8 with "<", ">" and "&" as \\u escapes.

    They only occur inside JSON strings, where the escapes decode the same, so
    no text in a .json file can be taken for markup by a sniffing client. No
    indent: json's C encoder only runs without one (several times faster). The
    escapes are replaced in the UTF-8 bytes (ASCII there, as in the text): about
    twice as fast as in a str holding any character beyond Latin-1.
    """
    data = _ENCODER.encode(value).encode("utf-8")
    return data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


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
        home = provider_home(article)
        if home:
            author["url"] = home
        item["authors"] = [author]
    if article.topics:
        item["tags"] = list(article.topics)
    attachments = [{"url": image.url, "mime_type": kind} for image in article.images if (kind := image_type(image))]
    if attachments:
        item["attachments"] = attachments
    return item


@functools.lru_cache(maxsize=_FRAGMENT_MEMO)
def _json_fragment(article: Article) -> bytes:
    return b"    " + json_utf8(_json_item(article))


class JsonWriter(FeedWriter):
    format = Format.JSON
    label = "JSON Feed"

    def item(self, article: Article, catalog: Catalog, settings: Settings, updated: datetime) -> bytes:
        return _json_fragment(article)  # a JSON item depends on the article alone

    def forget_items(self) -> None:
        _json_fragment.cache_clear()

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
        """The feed's fields one per line, then one line per item.

        ``next_url`` (JSON Feed 1.1 pagination: older items) links the archive chain
        (RFC 5005's prev-archive); the document shows no date of its own.
        """
        document = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": feed.title,
            "home_page_url": home_url(feed, catalog, settings),  # the feed's page
            "feed_url": self_url,
            "description": feed.description,
            "language": settings.language,
            "authors": [{"name": settings.author, "url": settings.site_url}],
        }
        if settings.websub_hub is not None:  # JSON Feed 1.1, "hubs"
            document["hubs"] = [{"type": "WebSub", "url": settings.websub_hub}]
        if links is not None and links.prev is not None:
            document["next_url"] = links.prev
        lines = [f"  {json_text(key)}: {json_text(value)}," for key, value in document.items()]
        head = ("{\n" + "\n".join(lines) + "\n").encode("utf-8")
        if not feed.items:
            return head + b'  "items": []\n}\n'
        items = b",\n".join(fragments(feed.items, self.format, [article.published_at for article in feed.items]))
        return b"".join((head, b'  "items": [\n', items, b"\n  ]\n}\n"))


JSON_WRITER = JsonWriter()
