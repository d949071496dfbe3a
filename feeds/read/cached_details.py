"""A restored article's details, read back from the parse cache when the article is first rendered.

A load restores an article from its cache entry with its details left in the database
(:class:`feeds.read.parsecache.Located` says where); :meth:`feeds.model.Article.restore` calls
:func:`unpack_located` the first time something reads them. Damaged or missing bytes are never used:
they must give the article's digest, or its file is read again and must give that digest itself;
otherwise :class:`CacheDamaged`, and the caller reads the folder again without the cache.
"""

from __future__ import annotations

from feeds.model import record_digest, unpack_details
from feeds.read.parsecache import Located, result_record
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
