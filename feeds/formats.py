"""The feed formats the site publishes: each one's file extension and media type.

The identity of a format only: the config checks ``formats:`` against it and
paths and HTTP take their extension and type from it. Everything else particular
to a format lives in its writer (:mod:`feeds.render.rss`, :mod:`feeds.render.atom`,
:mod:`feeds.render.jsonfeed`), registered in :data:`feeds.render.feed.WRITERS`. A new format
is one member here and one writer there.
"""

from __future__ import annotations

import enum


class Format(enum.Enum):
    """A feed format: its file extension and its media type (with charset); in the site's order."""

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


FORMAT_NAMES = tuple(fmt.extension for fmt in Format)  # as the config's ``formats:`` spells them
