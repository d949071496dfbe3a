"""What a rendered file depends on, as one digest: equal digests mean equal bytes.

Incremental rebuilds use it to skip rendering: a feed whose signature matches
the previous export's is not rendered again, its old file is kept. The
signature covers the feed's identity and items (every field of every item),
the catalog facts the renderer reads (provider feed slugs), the settings, and
the source code of the rendering stages, so any change that could alter a
byte changes the signature. Sans-IO, like the renderer.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import sys
from pathlib import Path

import feedgen

from feeds import catalog as catalog_module
from feeds import render, site
from feeds.catalog import Catalog, Feed
from feeds.config import Settings
from feeds.load import article_record
from feeds.model import Article


@functools.cache
def _code_version() -> bytes:
    digest = hashlib.sha256(f"feedgen {getattr(feedgen, '__version__', '?')}".encode())
    for module in (catalog_module, render, site, sys.modules[__name__]):
        digest.update(Path(module.__file__).read_bytes())
    return digest.digest()


def _settings_digest(settings: Settings) -> bytes:
    return hashlib.sha256(repr(dataclasses.astuple(settings)).encode()).digest()


class Signer:
    """Signs the feeds of one catalog; each article is digested once however many feeds hold it."""

    def __init__(self, catalog: Catalog, settings: Settings) -> None:
        self.catalog = catalog
        self.base = _code_version() + _settings_digest(settings)
        self._articles: dict[str, bytes] = {}

    def _article(self, article: Article) -> bytes:
        digest = self._articles.get(article.uid)
        if digest is None:
            provider_slug = None
            if article.provider is not None:
                key = catalog_module.provider_key(article.provider.name, article.provider.domain)
                provider_slug = self.catalog.provider_slugs.get(key)
            digest = hashlib.sha256(repr((article_record(article), provider_slug)).encode()).digest()
            self._articles[article.uid] = digest
        return digest

    def feed(self, feed: Feed, extension: str) -> str:
        """The signature of one feed in one format (by file extension)."""
        digest = hashlib.sha256(self.base)
        # not feed.total: the feed document does not show it (the index page does)
        digest.update(repr((extension, feed.kind.value, feed.key, feed.slug, feed.name, feed.title,
                            feed.description)).encode())  # fmt: skip
        for article in feed.items:
            digest.update(self._article(article))
        return digest.hexdigest()
