"""The values every stage passes along: immutable, validated once by the reader.

An ``Article`` is only ever built by :mod:`feeds.reader`, after every check has
run, so later stages (catalog, render, web, export) never re-validate it.
Datetimes are always timezone-aware and in UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True, slots=True)
class Article:
    """One clean article: every text is XML-safe, every URL absolute http(s).

    ``uid`` is a stable identifier derived from the canonical form of the link,
    so the same story keeps its identity across runs and across http/https and
    AMP variants of its URL. ``source`` is the file's path relative to the
    articles folder (POSIX separators), used in messages and as a tie-breaker.
    ``featured_embed_url`` is the http(s) ``src`` of the file's ``featuredContent``
    iframe (a video player); the raw HTML itself is never kept.
    """

    source: str
    uid: str
    title: str
    link: str
    published_at: datetime
    summary: str = ""
    original_url: str | None = None
    web_url: str | None = None
    amp_url: str | None = None
    cdn_amp_url: str | None = None
    category: str | None = None
    kind: str | None = None
    quality: int | None = None
    heat: int | None = None
    published: bool = True
    provider: Provider | None = None
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[Related, ...] = ()
    featured_embed_url: str | None = None
    body: str = ""

    @property
    def lead_image(self) -> Image | None:
        return self.images[0] if self.images else None
