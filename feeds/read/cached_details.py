"""A restored article's details, read back from the parse cache when the article is first rendered.

A load restores an article from its cache entry with its details left in the database
(:class:`feeds.read.parsecache.Located` says where); :meth:`feeds.model.Article.restore` calls
:func:`unpack_located` the first time something reads them. Damaged or missing bytes are never used:
they must give the article's digest, or its file is read again and must give that digest itself;
otherwise :class:`CacheDamaged`, and the caller reads the folder again without the cache.
A caller about to read many restored articles (the item pass of :mod:`feeds.folder.bulk`) decodes
them together first (:func:`decode_located`): one query for them all, the same checks, and any one
that fails them left to :func:`unpack_located`, as if it had never been in the batch.
"""

from __future__ import annotations

from collections.abc import Iterable

from feeds.model import Article, record_digest, unpack_details
from feeds.read.parsecache import Located, ParseCache, result_record
from feeds.read.reader import read_article


class CacheDamaged(RuntimeError):
    """A cached article's details are gone or damaged and its file changed since: read without the cache."""


def located_bytes(located: Located) -> bytes:
    """The packed details, checked against the article's digest.

    Damaged or missing bytes are never used: the article's file is read again
    instead, and its details are taken when they give the very same digest;
    otherwise :class:`CacheDamaged`.
    """
    cache, digest, head, name = located
    data = cache.details(digest)
    if data is not None and record_digest(head, data) == digest:
        return data
    record = result_record(read_article(cache.root / name, cache.settings, root=cache.root))
    if record[0] is not None and record[2] == digest:
        return record[1]
    raise CacheDamaged(f"parse cache {cache.path} lost the details of {name}, which changed since")


def unpack_located(located: Located) -> tuple:
    """The detail values of a restored article (its ``unpack`` for :meth:`feeds.model.Article.restore`)."""
    return unpack_details(located_bytes(located))


def unpack_located_together(places: list[Located]) -> list[tuple | None]:
    """:func:`unpack_located` of several restored articles, their details fetched with one query
    (a cache's): None for each whose stored bytes are gone or do not give its digest, which
    :func:`unpack_located` then takes alone (its file read again, or :class:`CacheDamaged`)."""
    wanted: dict[ParseCache, list[bytes]] = {}
    for cache, digest, _, _ in places:
        wanted.setdefault(cache, []).append(digest)
    stored: dict[bytes, bytes] = {}  # a digest names the same bytes in any cache: each is checked below
    for cache, digests in wanted.items():
        stored.update(cache.details_of(digests))
    unpacked: list[tuple | None] = []
    for _, digest, head, _ in places:
        data = stored.get(digest)
        unpacked.append(unpack_details(data) if data is not None and record_digest(head, data) == digest else None)
    return unpacked


def decode_located(articles: Iterable[Article]) -> None:
    """Decode the details of those ``articles`` restored from a parse cache and not decoded yet, with
    one query (:meth:`feeds.model.Article.decode_together`); the rest are left as they are."""
    Article.decode_together(articles, unpack_located, unpack_located_together)
