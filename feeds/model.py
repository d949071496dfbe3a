"""The values every stage passes along: immutable, validated once by the reader.

An ``Article`` is only ever built by :mod:`feeds.reader`, after every check has
run, so later stages (catalog, render, web, export) never re-validate it; the
parse cache restores one with :meth:`Article.deferred`, its renderer-only fields
still encoded until first read. Datetimes are always timezone-aware and in UTC.
The record functions at the end turn an Article into builtins and back (the
cache's format) and give its digest.
"""

from __future__ import annotations

import enum
import hashlib
import marshal
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


class Severity(enum.StrEnum):
    """How bad a problem is: an error loses the file, a warning loses a field."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one input file, said as ``PATH[:LINE]: severity: MESSAGE``."""

    path: str
    severity: Severity
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.severity.value}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


@dataclass(frozen=True, slots=True)
class Provider:
    """Who published an article; ``domain`` is a bare lowercase host or None."""

    name: str
    domain: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    """An absolute http(s) image URL with its pixel size when the file gave one."""

    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Related:
    """Another article the source file links to; never a feed item of its own."""

    title: str
    link: str
    summary: str = ""
    published_at: datetime | None = None
    provider: Provider | None = None
    image: Image | None = None


# The fields of an Article, in constructor order. The catalog needs only the first
# group ("head": which feeds an article is in, and where); the rest ("details") is
# what the renderer shows, and an Article restored from the parse cache decodes it
# only when something reads it, so a big catalog costs little until it is rendered.
HEAD_FIELDS = ("source", "uid", "published_at", "published", "provider", "topics", "quality", "kind")
DETAIL_FIELDS = (
    "title", "link", "summary", "original_url", "web_url", "amp_url", "cdn_amp_url", "category", "heat",
    "images", "related", "featured_embed_url", "body",
)  # fmt: skip
ARTICLE_FIELDS = (
    "source", "uid", "title", "link", "published_at", "summary", "original_url", "web_url", "amp_url",
    "cdn_amp_url", "category", "kind", "quality", "heat", "published", "provider", "topics", "images", "related",
    "featured_embed_url", "body",
)  # fmt: skip
_DETAIL_INDEX = {name: index for index, name in enumerate(DETAIL_FIELDS)}


def _detail(name: str) -> property:
    index = _DETAIL_INDEX[name]

    def read(self: Article) -> Any:
        details = self._details
        return (details if details is not None else self._restore_details())[index]

    return property(read, doc=f"``{name}`` (a detail: decoded on first use when restored from the cache)")


class Article:
    """One clean article: every text is XML-safe, every URL absolute http(s).

    ``uid`` is a stable identifier derived from the canonical form of the link,
    so the same story keeps its identity across runs and across http/https and
    AMP variants of its URL. ``source`` is the file's path relative to the
    articles folder (POSIX separators), used in messages and as a tie-breaker.
    ``featured_embed_url`` is the http(s) ``src`` of the file's ``featuredContent``
    iframe (a video player); the raw HTML itself is never kept.

    A frozen value like a dataclass (equality, hash and repr over every field),
    hand-written so that :meth:`deferred` can leave the details encoded: restoring
    100,000 cached articles then builds only what the catalog reads.
    """

    __slots__ = (*HEAD_FIELDS, "_details", "_packed", "_digest", "_newest_first")

    source: str
    uid: str
    published_at: datetime
    published: bool
    provider: Provider | None
    topics: tuple[str, ...]
    quality: int | None
    kind: str | None

    def __init__(
        self,
        source: str,
        uid: str,
        title: str,
        link: str,
        published_at: datetime,
        summary: str = "",
        original_url: str | None = None,
        web_url: str | None = None,
        amp_url: str | None = None,
        cdn_amp_url: str | None = None,
        category: str | None = None,
        kind: str | None = None,
        quality: int | None = None,
        heat: int | None = None,
        published: bool = True,
        provider: Provider | None = None,
        topics: tuple[str, ...] = (),
        images: tuple[Image, ...] = (),
        related: tuple[Related, ...] = (),
        featured_embed_url: str | None = None,
        body: str = "",
    ) -> None:
        details = (
            title, link, summary, original_url, web_url, amp_url, cdn_amp_url, category, heat, images, related,
            featured_embed_url, body,
        )  # fmt: skip
        _init(self, (source, uid, published_at, published, provider, topics, quality, kind), details, None, None)

    @classmethod
    def deferred(cls, head: tuple, packed: Any, unpack: Callable[[Any], tuple], digest: bytes | None = None) -> Article:
        """An Article whose details are ``unpack(packed)``, called once, when first read.

        ``head`` holds the :data:`HEAD_FIELDS` values in order; ``unpack`` must
        return the :data:`DETAIL_FIELDS` values in order. ``digest``, when given,
        is what :attr:`digest` would compute (the parse cache stores it).
        """
        article = cls.__new__(cls)
        _init(article, head, None, (unpack, packed), digest)
        return article

    def _restore_details(self) -> tuple:
        # two threads may both decode: equal values, the last assignment wins, nothing breaks
        unpack, packed = self._packed  # type: ignore[misc]
        details = unpack(packed)
        _set(self, "_details", details)
        return details

    def relocate_details(self, unpack: Callable[[Any], tuple], packed: Any) -> None:
        """Read the details from another copy of the same packed bytes from now on (the parse
        cache's file), so the copy in memory can be freed. Only for a deferred article."""
        if self._packed is not None:
            _set(self, "_packed", (unpack, packed))

    def release_details(self) -> None:
        """Forget the decoded details when they can be decoded again (a deferred article).

        A render worker calls it after each batch of documents, so its memory
        holds the articles it is rendering, not every article it ever rendered.
        """
        if self._packed is not None:
            _set(self, "_details", None)

    title = _detail("title")
    link = _detail("link")
    summary = _detail("summary")
    original_url = _detail("original_url")
    web_url = _detail("web_url")
    amp_url = _detail("amp_url")
    cdn_amp_url = _detail("cdn_amp_url")
    category = _detail("category")
    heat = _detail("heat")
    images = _detail("images")
    related = _detail("related")
    featured_embed_url = _detail("featured_embed_url")
    body = _detail("body")

    @property
    def lead_image(self) -> Image | None:
        images = self.images
        return images[0] if images else None

    @property
    def digest(self) -> bytes:
        """SHA-256 of every field's value: equal digests mean equal articles (signatures use it)."""
        digest = self._digest
        if digest is None:
            digest = record_digest(head_record(self), pack_details(details_record(self)))
            _set(self, "_digest", digest)
        return digest

    @property
    def newest_first(self) -> tuple[float, str, str]:
        """The catalog's sort key: newest first, ties by uid, then by source (:func:`feeds.catalog.select_articles`).

        Computed once: a reload keeps unchanged Article objects and sorts them all again.
        """
        key = self._newest_first
        if key is None:
            key = (-self.published_at.timestamp(), self.uid, self.source)
            _set(self, "_newest_first", key)
        return key

    def values(self) -> tuple:
        """Every field's value, in :data:`ARTICLE_FIELDS` (constructor) order."""
        return tuple(getattr(self, name) for name in ARTICLE_FIELDS)

    def replace(self, **changes: Any) -> Article:
        """A copy with some fields changed (what ``dataclasses.replace`` does for the other values)."""
        return Article(**{**dict(zip(ARTICLE_FIELDS, self.values(), strict=True)), **changes})

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Article:
            return NotImplemented
        if self is other:
            return True
        return self.digest == other.digest and self.values() == other.values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        # the digest is computed once (or comes from the cache): the renderer's memos hash
        # the same article for every feed and format that holds it
        return hash(self.digest)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(ARTICLE_FIELDS, self.values(), strict=True))
        return f"Article({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple:
        return (Article, self.values())


_set = object.__setattr__


def _init(article: Article, head: tuple, details: tuple | None, packed: tuple | None, digest: bytes | None) -> None:
    # unrolled: restoring a cached catalog calls this 100,000 times
    source, uid, published_at, published, provider, topics, quality, kind = head
    _set(article, "source", source)
    _set(article, "uid", uid)
    _set(article, "published_at", published_at)
    _set(article, "published", published)
    _set(article, "provider", provider)
    _set(article, "topics", topics)
    _set(article, "quality", quality)
    _set(article, "kind", kind)
    _set(article, "_details", details)
    _set(article, "_packed", packed)
    _set(article, "_digest", digest)
    _set(article, "_newest_first", None)


# ----- records: an Article as builtin values (the parse cache stores them) ---------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # records count microseconds from here


def _micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def moment_from_micros(micros: int | None) -> datetime | None:
    """The UTC datetime ``micros`` microseconds after the epoch (None stays None)."""
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


def _provider_record(provider: Provider | None) -> tuple | None:
    return None if provider is None else (provider.name, provider.domain)


def _image_record(image: Image | None) -> tuple | None:
    return None if image is None else (image.url, image.width, image.height)


def head_record(a: Article) -> tuple:
    """The :data:`HEAD_FIELDS` as builtins (datetime → microseconds, provider → tuple)."""
    return (
        a.source, a.uid, _micros(a.published_at), a.published, _provider_record(a.provider), a.topics, a.quality,
        a.kind,
    )  # fmt: skip


def details_record(a: Article) -> tuple:
    """The :data:`DETAIL_FIELDS` as builtins (the inverse of :func:`details_from_record`)."""
    return (
        a.title, a.link, a.summary, a.original_url, a.web_url, a.amp_url, a.cdn_amp_url, a.category, a.heat,
        tuple(_image_record(i) for i in a.images),
        tuple(
            (r.title, r.link, r.summary, _micros(r.published_at), _provider_record(r.provider), _image_record(r.image))
            for r in a.related
        ),
        a.featured_embed_url, a.body,
    )  # fmt: skip


def details_from_record(r: tuple) -> tuple:
    """The detail values, objects again, from :func:`details_record`'s tuple."""
    related = tuple(
        Related(x[0], x[1], x[2], moment_from_micros(x[3]), Provider(*x[4]) if x[4] else None,
                Image(*x[5]) if x[5] else None)
        for x in r[10]
    )  # fmt: skip
    return (*r[:9], tuple(Image(*i) for i in r[9]), related, r[11], r[12])


def pack_details(record: tuple) -> bytes:
    """Canonical bytes of a details record: marshal format 0 has no back-references and
    no interning flags, so equal values always give equal bytes (a digest can trust them)."""
    return marshal.dumps(record, 0)


def unpack_details(packed: bytes) -> tuple:
    """The detail values from :func:`pack_details`' bytes (for :meth:`Article.deferred`)."""
    return details_from_record(marshal.loads(packed))


def record_digest(head: tuple, packed: bytes) -> bytes:
    """The digest of an article from its head record and packed details (see :attr:`Article.digest`)."""
    return hashlib.sha256(marshal.dumps(head, 0) + packed).digest()
