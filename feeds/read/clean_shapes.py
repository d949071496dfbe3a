"""The fast paths of the per-field reader: nested fields in their common clean shape, read at once.

Most providers, image lists and related entries are already clean: text where text belongs, URLs
:func:`~feeds.read.text.clean_url` passes, sizes in range. Each ``*_if_clean`` function here reads
one in that shape and gives exactly what :mod:`feeds.read.article_fields` (the reference) gives for
it when that reading says nothing; for anything else it gives None, "not mine", and the caller reads
the value the reference way, which says what is wrong. None of them ever warns, so a bail costs time,
never a message, and the messages keep their order. :func:`clean_name` is the one exception to that
shape: a topic's or provider's clean name, remembered, never None. Reading the 10,000-article corpus
spent ~37 of its ~80 µs an article on related entries, each with its warning scaffolding built and its
provider read again (issue 20); tests/test_clean_shapes.py holds every function to its reference on
generated values, the fixtures and the real corpus. The reader's limits on one article's lists and
names live here too, with the first code that needs them.
"""

from __future__ import annotations

import functools
from typing import Any

from feeds.config import Settings
from feeds.model import Image, Provider, Related
from feeds.read.dates import parse_date
from feeds.read.text import clean_domain, clean_text, clean_url

__all__ = [
    "MAX_IMAGES",
    "MAX_NAME_CHARS",
    "MAX_PIXELS",
    "MAX_RELATED",
    "MAX_TOPICS",
    "clean_name",
    "images_if_clean",
    "provider_if_clean",
    "related_if_clean",
]

MAX_TOPICS = 50
MAX_RELATED = 20
MAX_IMAGES = 20
MAX_NAME_CHARS = 200
MAX_PIXELS = 100_000  # an image's width or height
_MEMO_SIZE = 4096  # providers, and names, remembered; the least recently used dropped first
_MEMO_TEXT_CHARS = 300  # a longer name or domain is read, not remembered: the memo's size stays bounded


def clean_name(text: str) -> str:
    """``clean_text(text, MAX_NAME_CHARS)``'s text (a cut is not a warning for a name), remembered: topic
    names repeat (127 distinct in the 10,000-article corpus's 22,238; 12 in the real corpus's 2,167), and
    one beyond ASCII costs the mojibake check each time (~23,000 instructions a file went on topics,
    issue 20). A pure function of the text, so an ``lru_cache`` is its memo, as for providers."""
    if type(text) is str and len(text) <= _MEMO_TEXT_CHARS:
        return _remembered_name(text)
    return _name_of(text)


def _name_of(text: str) -> str:
    return clean_text(text, MAX_NAME_CHARS)[0]


_remembered_name = functools.lru_cache(maxsize=_MEMO_SIZE)(_name_of)


def provider_if_clean(data: Any) -> Provider | None:
    """``data``'s Provider when it is a dict whose ``name`` and ``domain`` are str and the domain a host
    name; else None (the reference then reads it: absent, the wrong type, or a warning to give)."""
    if type(data) is not dict:
        return None
    name = data.get("name")
    domain = data.get("domain")
    if type(name) is not str or type(domain) is not str:
        return None
    if len(name) <= _MEMO_TEXT_CHARS and len(domain) <= _MEMO_TEXT_CHARS:
        return _remembered_provider(name, domain)
    return _provider_of(name, domain)


def _provider_of(name: str, domain: str) -> Provider | None:
    host = clean_domain(domain)
    if host is None:
        return None  # the reference warns that it is not a host name
    return Provider(name=_name_of(name) or host, domain=host)  # a cut name is not a warning


@functools.lru_cache(maxsize=_MEMO_SIZE)
def _remembered_provider(name: str, domain: str) -> Provider | None:
    """:func:`_provider_of`, remembered: providers repeat (the 10,000-article corpus names 400 in 26,644
    mappings, each read in ~2 µs, issue 20). A pure function of two short texts, so an ``lru_cache`` is its
    memo: bounded in entries and (``_MEMO_TEXT_CHARS``) in size, no state to own; sharing one Provider
    among articles is safe, it is frozen."""
    return _provider_of(name, domain)


def images_if_clean(data: Any, base_host: str | None, *, lead_only: bool = False) -> tuple[Image, ...] | None:
    """The images of an ``images`` value that reads without a warning: absent, or one dict or a list of
    at most MAX_IMAGES dicts, each with a str ``url`` clean_url takes (against ``base_host``) and a
    ``width`` and ``height`` each absent or an int in 1..MAX_PIXELS; the first image of each URL, in
    order (``lead_only``: only the first image, the others checked but not built). Else None (a url
    given as bare text, a size as text: the reference reads those)."""
    if data is None:
        return ()
    if type(data) is dict:
        data = [data]
    elif type(data) is not list or len(data) > MAX_IMAGES:
        return None
    unique: dict[str, Image] = {}
    for item in data:
        if type(item) is not dict:
            return None
        raw_url = item.get("url")
        width = item.get("width")
        height = item.get("height")
        # type(...) is int: never a bool (which the reference refuses with a warning)
        if (
            type(raw_url) is not str
            or not (width is None or (type(width) is int and 0 < width <= MAX_PIXELS))
            or not (height is None or (type(height) is int and 0 < height <= MAX_PIXELS))
        ):
            return None
        url = clean_url(raw_url, base_host=base_host)
        if url is None:
            return None
        if url not in unique and not (lead_only and unique):
            unique[url] = Image(url, width, height)
    return tuple(unique.values())


def _quiet_link(value: Any, base_host: str | None) -> str | None:
    """A link field read without a warning: its clean URL, "" when there is none (absent or blank), or
    None when the reference would warn (not text, not an http(s) URL)."""
    if value is None:
        return ""
    if type(value) is not str:
        return None
    return clean_url(value, base_host=base_host) or ("" if not value.strip() else None)


def related_if_clean(entry: dict, settings: Settings) -> Related | None:
    """The Related of one ``related`` entry (a dict) that reads without a warning: a provider as
    :func:`provider_if_clean` reads it or none, a str title kept whole, a link (``webUrl``, else
    ``originalUrl``), a str ``excerpt`` or none and :func:`images_if_clean` images. Else None."""
    provider_data = entry.get("provider")
    provider = None if provider_data is None else provider_if_clean(provider_data)
    if provider is None and provider_data is not None:
        return None
    host = provider.domain if provider is not None else None
    raw_title = entry.get("title")
    if type(raw_title) is not str:
        return None
    title, cut = clean_text(raw_title, settings.max_title_chars)
    if cut or not title:
        return None
    link = _quiet_link(entry.get("webUrl"), host)
    if link == "":
        link = _quiet_link(entry.get("originalUrl"), host)
    excerpt = entry.get("excerpt")
    if not link or not (excerpt is None or type(excerpt) is str):
        return None  # no link: the reference skips the entry, silently or with a warning
    images = images_if_clean(entry.get("images"), host, lead_only=True)  # a Related keeps its lead image only
    if images is None:
        return None
    return Related(
        title=title,
        link=link,
        # the reference drops the excerpt's warnings (a cut one is kept cut)
        summary="" if excerpt is None else clean_text(excerpt, settings.max_summary_chars)[0],
        published_at=parse_date(entry.get("publishedDateTime")),
        provider=provider,
        image=images[0] if images else None,
    )
