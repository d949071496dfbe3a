"""What a rendered file depends on, as one digest: equal digests mean equal bytes.

Incremental rebuilds use it to skip rendering: a feed whose signature matches
the previous export's is not rendered again, its old file is kept. The
signature covers the feed's identity and items (every field of every item),
the catalog facts the renderer reads (provider feed paths), the settings, and
the package's code and library versions (:func:`feeds.code_fingerprint`), so
any change that could alter a byte changes the signature. Sans-IO, like the renderer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator

from feeds import code_fingerprint
from feeds.config import Settings
from feeds.index.catalog import Catalog, Feed, archive_pages, document_items
from feeds.index.families import PROVIDERS, TOPICS
from feeds.model import Article, Provider


def _code_version() -> bytes:
    """Every module and library version: a renderer change anywhere re-renders every feed."""
    return code_fingerprint().encode()


def _settings_digest(settings: Settings) -> bytes:
    return hashlib.sha256(repr(dataclasses.astuple(settings)).encode()).digest()


class SignatureMemo:
    """Digests kept across Signers, for as long as its owner lives (an exporter under ``--watch``, a server).

    It holds (provider paths, articles, documents), used while the provider paths stay equal:

    - articles: id(article) → (article, its digest). A reload keeps every unchanged Article object,
      so `export --watch` digests only what changed. The entry holds the object, so its id cannot
      be reused while the entry exists, and a frozen object's digest never goes stale.
    - documents: (feed path, page) → (the items shown, (item count, digest of the items)). A
      document whose items are the very same objects keeps its digest (compared by identity, in C).
    - feeds: id(feed) → (feed, the signer's base, {(page, extension): signature}). A reload keeps
      the Feed objects an edit or a new file did not touch (:func:`feeds.index.catalog_update.update_catalog`),
      so a kept feed's documents are signed without looking at their items (issue 20: at a million
      articles every change signed ~130,000 documents). The entry holds the feed, so its id stays its own.

    Replaced whole (one assignment) when the paths change, and each Signer keeps the memos it
    started with, so Signers of other paths (in other threads too) never share one.
    """

    def __init__(self) -> None:
        self._current: tuple[dict, dict[int, tuple[Article, bytes]], dict, dict] = ({}, {}, {}, {})

    def for_catalog(self, catalog: Catalog) -> tuple[dict[int, tuple[Article, bytes]], dict, dict]:
        """(article digests, document digests, feeds' signatures) a Signer of ``catalog`` may read and add to."""
        paths, memo, pages, feeds = self._current
        linked = (catalog.source_paths, catalog.value_paths)  # what items link: feeds' <source>, pages' links
        if paths != linked or len(memo) > 2 * catalog.article_count + 1000:
            memo, pages, feeds = {}, {}, {}  # other paths, or mostly articles gone since
            self._current = (linked, memo, pages, feeds)
        elif len(feeds) > 2 * len(catalog.feeds) + 100:  # mostly feeds of catalogs gone since
            feeds = {}
            self._current = (linked, memo, pages, feeds)
        return memo, pages, feeds


class Signer:
    """Signs the feeds of one catalog; each article is digested once however many feeds hold it.

    ``memo`` carries digests over from earlier Signers (see :class:`SignatureMemo`); without
    one, this Signer computes everything afresh, as a new process would.
    """

    def __init__(self, catalog: Catalog, settings: Settings, memo: SignatureMemo | None = None) -> None:
        self.catalog = catalog
        self.base = _code_version() + _settings_digest(settings)
        # a feed with no items is dated by the site's newest article (the writers' stamp when no item gives one)
        self._empty_base = self.base + repr(catalog.updated).encode()
        self.page_size = settings.archive_page_size
        self._pages: dict[tuple[str, int], tuple[int, bytes]] = {}
        self._memo, self._earlier_pages, self._feeds = (memo or SignatureMemo()).for_catalog(catalog)
        # (provider, topics) → what an item with them links to, as signed: many articles share one
        self._links: dict[tuple, bytes] = {}

    def _article(self, article: Article) -> bytes:
        entry = self._memo.get(id(article))
        if entry is None:
            key = (article.provider, article.topics)
            links = self._links.get(key)
            if links is None:
                links = self._links[key] = self._links_of(*key)
            digest = hashlib.sha256(article.digest + links).digest()
            entry = self._memo[id(article)] = (article, digest)
        return entry[1]

    def _links_of(self, provider: Provider | None, topics: tuple[str, ...]) -> bytes:
        # the provider feed path is what the renderer reads from the catalog (RSS <source url>)
        provider_path = self.catalog.source_paths.get(provider) if provider else None
        # a feed's page links the item's topics and provider to their pages
        values = self.catalog.value_paths
        topic_pages, provider_pages = values.get(TOPICS, {}), values.get(PROVIDERS, {})
        page_links = (provider_pages.get(provider), *map(topic_pages.get, topics))
        return repr((provider_path, page_links)).encode()

    def _items(self, items: tuple[Article, ...]) -> bytes:
        """The items' digests, joined: one C-level pass over a warm memo (an export signs every document)."""
        memo = self._memo
        try:
            return b"".join([memo[id(article)][1] for article in items])
        except KeyError:
            return b"".join([self._article(article) for article in items])

    def feed(self, feed: Feed, extension: str) -> str:
        """The signature of one feed's current document in one format (by file extension)."""
        return self.document(feed, 0, extension)

    def document(self, feed: Feed, page: int, extension: str) -> str:
        """The signature of a feed's current document (page 0) or of its archive page ``page`` (see :meth:`_document`).

        Remembered per Feed object: a feed kept from the catalog before (the same object) is not signed again.
        """
        base = self.base if feed.items else self._empty_base
        known = self._feeds.get(id(feed))
        if known is None or known[0] is not feed or known[1] != base:
            known = self._feeds[id(feed)] = (feed, base, {})
        signature = known[2].get((page, extension))
        if signature is None:
            signature = known[2][(page, extension)] = self._document(feed, page, extension, base)
        return signature

    def _document(self, feed: Feed, page: int, extension: str, base: bytes) -> str:
        """The signature of a feed's current document (page 0) or of its archive page ``page``.

        The current document links the newest archive page, so the page count counts;
        an archive page shows its own items, and links its neighbours (the next one
        only when it is not the newest page); an empty newest page takes its date
        from the newest older item.
        """
        pages = archive_pages(feed, self.page_size)
        count, items_digest = self._page(feed, page)
        digest = hashlib.sha256(base)
        # not feed.total: the feed document does not show it (the index page does)
        links = pages if page == 0 else page < pages
        digest.update(repr((extension, feed.path, feed.key, feed.name, feed.title,
                            feed.description, page, links, count)).encode())  # fmt: skip
        digest.update(items_digest)
        return digest.hexdigest()

    def _page(self, feed: Feed, page: int) -> tuple[int, bytes]:
        """(item count, digest of the items) of one document: computed once for all its formats."""
        key = (feed.path, page)
        known = self._pages.get(key)
        if known is None:
            items = document_items(feed, page, self.page_size)
            shown = items or (feed.older[-1:] if page else ())
            earlier = self._earlier_pages.get(key)
            # identity only (in C): equal-valued new objects would make == decode their details
            if (
                earlier is not None
                and earlier[1][0] == len(items)
                and len(earlier[0]) == len(shown)
                and all(map(operator.is_, earlier[0], shown))
            ):
                known = earlier[1]
            else:
                known = (len(items), hashlib.sha256(self._items(shown)).digest())
                self._earlier_pages[key] = (shown, known)
            self._pages[key] = known
        return known
