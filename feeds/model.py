"""The values every stage passes along: immutable, validated once by the reader.

An ``Article`` is only ever built by :mod:`feeds.read.reader`, after every check has
run, so later stages (catalog, render, web, export) never re-validate it; the
parse cache restores one with :meth:`Article.restore`, its renderer-only fields
still encoded until first read. Datetimes are always timezone-aware and in UTC.
Article's fields are declared once, in the class; the record functions at the
end turn an Article into builtins and back (the cache's format) and give its digest.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import marshal
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


# ----- how a field is stored: the parse cache keeps builtins (marshal), the catalog a head ---------


@dataclass(frozen=True, slots=True)
class Codec:
    """How one field's value becomes builtins (what the parse cache stores) and back again."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


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


@functools.lru_cache(maxsize=4096)
def _provider(name: str, domain: str | None) -> Provider:
    # a pure constructor: equal providers of 100,000 restored articles become a few objects
    return Provider(name, domain)


def _provider_from_record(record: tuple | None) -> Provider | None:
    return None if record is None else _provider(*record)


def _image_record(image: Image | None) -> tuple | None:
    return None if image is None else (image.url, image.width, image.height)


def _related_record(r: Related) -> tuple:
    return (r.title, r.link, r.summary, _micros(r.published_at), _provider_record(r.provider), _image_record(r.image))


def _related_from_record(x: tuple) -> Related:
    image = Image(*x[5]) if x[5] else None
    return Related(x[0], x[1], x[2], moment_from_micros(x[3]), _provider_from_record(x[4]), image)


MOMENT = Codec(_micros, moment_from_micros)
PROVIDER = Codec(_provider_record, _provider_from_record)
IMAGES = Codec(lambda images: tuple(_image_record(i) for i in images), lambda r: tuple(Image(*i) for i in r))
RELATED = Codec(lambda related: tuple(map(_related_record, related)), lambda r: tuple(map(_related_from_record, r)))


def _field(*, head: bool = False, codec: Codec | None = None, **options: Any) -> Any:
    """An Article field. ``head``: the catalog reads it (which feeds an article is in, and
    where), so a restored article has it at once; the others ("details") are what the
    renderer shows, decoded on first read. ``codec``: when its value is not builtins already."""
    return field(metadata={"head": head, "codec": codec}, **options)


def _private() -> Any:
    return field(default=None, init=False, repr=False, compare=False)


# ----- the Article: its fields are declared here, once ---------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Article:
    """One clean article: every text is XML-safe, every URL absolute http(s).

    ``uid`` is a stable identifier derived from the canonical form of the link,
    so the same story keeps its identity across runs and across http/https and
    AMP variants of its URL. ``source`` is the file's path relative to the
    articles folder (POSIX separators), used in messages and as a tie-breaker.
    ``featured_embed_url`` is the http(s) ``src`` of the file's ``featuredContent``
    iframe (a video player); the raw HTML itself is never kept.

    The field list below is the only one: the constructor, :data:`HEAD_FIELDS`,
    :data:`DETAIL_FIELDS`, the cache's records (:func:`head_record`,
    :func:`details_record`) and :meth:`restore` all derive from it. Equality and
    hash go by every field's value (through :attr:`digest`). :meth:`restore`
    leaves the details encoded until something reads one: restoring 100,000
    cached articles then builds only what the catalog reads.
    """

    source: str = _field(head=True)
    uid: str = _field(head=True)
    title: str
    link: str
    published_at: datetime = _field(head=True, codec=MOMENT)
    summary: str = ""
    original_url: str | None = None
    web_url: str | None = None
    amp_url: str | None = None
    cdn_amp_url: str | None = None
    category: str | None = None
    kind: str | None = _field(head=True, default=None)
    quality: int | None = _field(head=True, default=None)
    heat: int | None = None
    published: bool = _field(head=True, default=True)
    provider: Provider | None = _field(head=True, codec=PROVIDER, default=None)
    topics: tuple[str, ...] = _field(head=True, default=())
    images: tuple[Image, ...] = _field(codec=IMAGES, default=())
    related: tuple[Related, ...] = _field(codec=RELATED, default=())
    featured_embed_url: str | None = None
    body: str = ""
    # not part of the value: where a restored article's encoded details are, and two memos
    _packed: tuple | None = _private()
    _digest: bytes | None = _private()
    _newest_first: tuple | None = _private()

    @classmethod
    def restore(cls, head: tuple, packed: Any, unpack: Callable[[Any], tuple], digest: bytes | None = None) -> Article:
        """An Article from its :func:`head_record`, whose details are ``unpack(packed)``, called
        when one is first read. ``unpack`` must return the :data:`DETAIL_FIELDS` values in order;
        ``digest``, when given, is what :attr:`digest` would compute (the parse cache stores it).
        """
        article = _new(cls)
        if len(head) != _HEAD_LENGTH:
            raise ValueError(f"a head record has {_HEAD_LENGTH} values, not {len(head)}")
        for put, value in zip(_PUT_PLAIN_HEAD, _TAKE_PLAIN_HEAD(head), strict=True):
            put(article, value)
        for put, index, decode in _PUT_CODED_HEAD:
            put(article, decode(head[index]))
        _set(article, "_packed", (unpack, packed))
        _set(article, "_digest", digest)
        _set(article, "_newest_first", None)
        return article

    def __getattr__(self, name: str) -> Any:
        # reached only for a slot without a value: a restored article's details before first use
        if name not in _DETAIL_INDEX or self._packed is None:
            raise AttributeError(f"'Article' object has no attribute {name!r}")
        # two threads may both decode: equal values, the last assignment wins, nothing breaks
        unpack, packed = self._packed
        details = unpack(packed)
        for put, value in zip(_PUT_DETAIL, details, strict=True):
            put(self, value)
        return details[_DETAIL_INDEX[name]]

    def release_details(self) -> None:
        """Forget the decoded details when they can be decoded again (a restored article).

        A render worker calls it after each batch of documents, so its memory
        holds the articles it is rendering, not every article it ever rendered.
        """
        if self._packed is not None:
            for slot in _DETAIL_SLOTS:
                try:
                    slot.__delete__(self)
                except AttributeError:  # never decoded
                    return

    @staticmethod
    def decode_together(
        articles: Iterable[Article], unpack: Callable[[Any], tuple], unpack_many: Callable[[list], list[tuple | None]]
    ) -> None:
        """Decode at once the details of those ``articles`` restored with ``unpack`` (:meth:`restore`)
        whose details are not decoded yet, as their first read would one by one.

        ``unpack_many`` takes their packed values, in order, and gives each one's
        details as ``unpack`` would, or None for one it cannot vouch for: that
        article is left as it was, to ``unpack`` at its first read (whatever that
        does with it, reading a file again or raising, it does there and then).
        """
        waiting = [a for a in articles if a._packed is not None and a._packed[0] is unpack and not _decoded(a)]
        if not waiting:
            return
        for article, details in zip(waiting, unpack_many([a._packed[1] for a in waiting]), strict=True):
            if details is not None:
                for put, value in zip(_PUT_DETAIL, details, strict=True):
                    put(article, value)

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
        """The catalog's sort key: newest first, ties by uid, then by source
        (:func:`feeds.index.catalog.select_articles`).

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
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

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

    def __reduce__(self) -> tuple:
        return (Article, self.values())


_new = object.__new__
_set = object.__setattr__
_FIELDS = tuple(f for f in dataclasses.fields(Article) if f.init)
ARTICLE_FIELDS = tuple(f.name for f in _FIELDS)  # constructor order
_HEAD = tuple(f for f in _FIELDS if f.metadata.get("head"))  # a plain field has no metadata: a detail
_DETAILS = tuple(f for f in _FIELDS if f not in _HEAD)
HEAD_FIELDS = tuple(f.name for f in _HEAD)
DETAIL_FIELDS = tuple(f.name for f in _DETAILS)
_HEAD_CODECS = tuple(f.metadata["codec"] for f in _HEAD)
_DETAIL_CODECS = tuple(f.metadata.get("codec") for f in _DETAILS)
_HEAD_LENGTH = len(HEAD_FIELDS)
_HEAD_SLOTS = tuple(vars(Article)[name].__set__ for name in HEAD_FIELDS)  # the slots' own setters: no frozen check
_DETAIL_SLOTS = tuple(vars(Article)[name] for name in DETAIL_FIELDS)
_DETAIL_INDEX = {name: index for index, name in enumerate(DETAIL_FIELDS)}
_PUT_DETAIL = tuple(slot.__set__ for slot in _DETAIL_SLOTS)


def _decoded(article: Article) -> bool:
    """Whether a restored article's details are decoded (all of them are set together, and released together)."""
    try:
        _DETAIL_SLOTS[0].__get__(article, Article)
    except AttributeError:
        return False
    return True


# The record functions are hot (100,000 articles a load): they move the plain values in one C call
# (attrgetter, itemgetter) and call a codec only at the positions that have one, rather than
# testing every field's codec in a Python loop. Each table is derived from the fields above.
_PLAIN_HEAD = tuple(i for i, codec in enumerate(_HEAD_CODECS) if codec is None)
assert len(_PLAIN_HEAD) > 1  # itemgetter of one position would give the value, not a tuple
_TAKE_PLAIN_HEAD = operator.itemgetter(*_PLAIN_HEAD)
_PUT_PLAIN_HEAD = tuple(_HEAD_SLOTS[i] for i in _PLAIN_HEAD)
_PUT_CODED_HEAD = tuple((_HEAD_SLOTS[i], i, codec.decode) for i, codec in enumerate(_HEAD_CODECS) if codec is not None)
_GET_HEAD = operator.attrgetter(*HEAD_FIELDS)
_GET_DETAILS = operator.attrgetter(*DETAIL_FIELDS)
_HEAD_ENCODERS = tuple((i, codec.encode) for i, codec in enumerate(_HEAD_CODECS) if codec is not None)
_DETAIL_ENCODERS = tuple((i, codec.encode) for i, codec in enumerate(_DETAIL_CODECS) if codec is not None)
_DETAIL_DECODERS = tuple((i, codec.decode) for i, codec in enumerate(_DETAIL_CODECS) if codec is not None)


# ----- records: an Article as builtin values (the parse cache stores them) ---------------------------


def _coded(values: tuple, codings: tuple[tuple[int, Callable[[Any], Any]], ...]) -> tuple:
    """``values`` with each coded position's value passed through its codec function."""
    converted = list(values)
    for index, code in codings:
        converted[index] = code(converted[index])
    return tuple(converted)


def head_record(a: Article) -> tuple:
    """The :data:`HEAD_FIELDS` as builtins (the input of :meth:`Article.restore`)."""
    return _coded(_GET_HEAD(a), _HEAD_ENCODERS)


def details_record(a: Article) -> tuple:
    """The :data:`DETAIL_FIELDS` as builtins (the inverse of :func:`details_from_record`)."""
    return _coded(_GET_DETAILS(a), _DETAIL_ENCODERS)


def details_from_record(record: tuple) -> tuple:
    """The detail values, objects again, from :func:`details_record`'s tuple."""
    if len(record) != len(DETAIL_FIELDS):
        raise ValueError(f"a details record has {len(DETAIL_FIELDS)} values, not {len(record)}")
    return _coded(record, _DETAIL_DECODERS)


def pack_details(record: tuple) -> bytes:
    """Canonical bytes of a details record: marshal format 0 has no back-references and
    no interning flags, so equal values always give equal bytes (a digest can trust them)."""
    return marshal.dumps(record, 0)


def unpack_details(packed: bytes) -> tuple:
    """The detail values from :func:`pack_details`' bytes (for :meth:`Article.restore`)."""
    return details_from_record(marshal.loads(packed))


def record_digest(head: tuple, packed: bytes) -> bytes:
    """The digest of an article from its head record and packed details (see :attr:`Article.digest`)."""
    return hashlib.sha256(marshal.dumps(head, 0) + packed).digest()
