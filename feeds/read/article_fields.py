"""One front-matter mapping → a clean :class:`Article`, or an error naming the field.

The per-field half of the reader (:mod:`feeds.read.reader` finds, opens and decodes
the files): typed access to the YAML values, each optional field checked on its
own so a bad one becomes a warning, the required ones (title, a link, the date)
an error naming them. The ``secured`` field is never read. A provider, image list or related entry
in the common clean shape is read at once by :mod:`feeds.read.clean_shapes`; the ``_read_*``
functions here read every other and are the reference those fast paths are held to.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date
from typing import Any

from feeds.config import Settings
from feeds.model import Article, Image, Provider, Related
from feeds.read.clean_shapes import (
    MAX_IMAGES,
    MAX_NAME_CHARS,
    MAX_PIXELS,
    MAX_RELATED,
    MAX_TOPICS,
    clean_name,
    images_if_clean,
    provider_if_clean,
    related_if_clean,
)
from feeds.read.dates import parse_date
from feeds.read.file_problems import FileProblems, ReadResult
from feeds.read.text import clean_domain, clean_text, clean_url, link_key

MAX_SHOWN_CHARS = 80
_IFRAME_SRC = re.compile(r"""<iframe\b[^>]*?\bsrc\s*=\s*["']([^"'<>\s]+)["']""", re.IGNORECASE)
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
_UID_NAMESPACE = uuid.UUID("6f1b0a39-2a57-4d43-9d6c-2b6f1f0e7a11")
_UID_NAMESPACE_BYTES = _UID_NAMESPACE.bytes
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}  # its top two bits set to 10
# type tuples, not ``int | float``: the union is built anew at every call (~0.1 µs, a dozen calls a file)
_NUMBER = (int, float)
_TEXT_OR_NUMBER = (str, int, float)
_SCALAR = (bool, int, float, date)


def make_uid(link: str) -> str:
    """A stable ``urn:uuid`` for a story, the same for every variant of its URL: ``uuid.uuid5`` of its
    :func:`link_key`, spelled out here (uuid5 builds a UUID object to print it: ~3 µs an article, issue 20);
    tests/test_reader.py holds it to uuid5."""
    text = hashlib.sha1(_UID_NAMESPACE_BYTES + bytes(link_key(link), "utf-8"), usedforsecurity=False).hexdigest()
    # RFC 4122 §4.3: the version (5) and the variant bits (10) set over the hash, as uuid.UUID(version=5) does,
    # on the hex digits (through an int: ~0.4 µs more an article, issue 20)
    return f"urn:uuid:{text[:8]}-{text[8:12]}-5{text[13:16]}-{_VARIANT_DIGIT[text[16]]}{text[17:20]}-{text[20:32]}"


class _Fields:
    """Typed access to one front-matter mapping; wrong types become warnings."""

    def __init__(self, data: dict, problems: FileProblems, settings: Settings) -> None:
        self.data, self.problems, self.settings = data, problems, settings

    def text(self, key: str, max_chars: int, where: str | None = None) -> str | None:
        value = self.data.get(key)
        if not isinstance(value, str):  # text, the common case, goes straight to clean_text
            if value is None:
                return None
            if not isinstance(value, _NUMBER) or isinstance(value, bool):
                self.problems.warn(f"'{where or key}' should be text, not {kind_of(value)}; ignored", where or key)
                return None
            value = str(value)
        cleaned, cut = clean_text(value, max_chars)
        if cut:
            self.problems.warn(f"'{where or key}' is longer than {max_chars} characters; shortened", key)
        return cleaned or None

    def url(self, key: str, base_host: str | None = None, where: str | None = None) -> str | None:
        value = self.data.get(key)
        if isinstance(value, str):
            cleaned = clean_url(value, base_host=base_host)
            if cleaned is None and value.strip():  # blank is "no URL", never a warning (clean_url passes none)
                self.problems.warn(f"'{where or key}' is not an absolute http(s) URL: {_quote(value)}; ignored", key)
            return cleaned
        if value is not None:
            self.problems.warn(f"'{where or key}' should be a URL, not {kind_of(value)}; ignored", key)
        return None

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, _NUMBER) or value != value:
            self.problems.warn(f"'{key}' should be a number, not {kind_of(value)}; ignored", key)
            return None
        if abs(value) > 10**12:
            self.problems.warn(f"'{key}' is out of range; ignored", key)
            return None
        return int(value)


def kind_of(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false"}.get(type(value), type(value).__name__)


def _quote(value: str) -> str:
    shown = value.strip()
    if len(shown) > MAX_SHOWN_CHARS:
        shown = shown[: MAX_SHOWN_CHARS - 3] + "..."
    return repr(shown)


def _shown(value: Any) -> str:
    """A value for a message: text quoted and cut, numbers and dates as written, else its kind.

    Never ``str()`` of a container: an alias bomb is tiny in YAML and huge as text.
    """
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, _SCALAR):
        return _quote(str(value))
    return kind_of(value)


def _provider(data: Any, problems: FileProblems, where: str) -> Provider | None:
    """``where``'s Provider, or None: absent, or unusable with a warning."""
    provider = provider_if_clean(data)
    return _read_provider(data, problems, where) if provider is None else provider


def _read_provider(data: Any, problems: FileProblems, where: str) -> Provider | None:
    """:func:`_provider` without the fast path: the reference provider_if_clean is held to."""
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.warn(f"'{where}' should be a mapping with name and domain; ignored", where)
        return None
    name = data.get("name")
    domain_value = data.get("domain")
    domain = clean_domain(domain_value) if isinstance(domain_value, str) else None
    if domain_value is not None and domain is None:
        problems.warn(f"'{where}.domain' is not a host name: {_shown(domain_value)}; ignored", where)
    name_text = None
    if isinstance(name, _TEXT_OR_NUMBER) and not isinstance(name, bool):
        name_text, _ = clean_text(str(name), MAX_NAME_CHARS)
    elif name is not None:
        problems.warn(f"'{where}.name' should be text, not {kind_of(name)}; ignored", where)
    if not name_text and not domain:
        return None
    return Provider(name=name_text or domain or "", domain=domain)


def _image(data: Any, problems: FileProblems, images: str, index: int, base_host: str | None) -> Image | None:
    """``images[index]``'s Image, or None with a warning naming it (the name is spelled only then)."""
    if isinstance(data, str):
        data = {"url": data}
    if not isinstance(data, dict):
        problems.warn(f"'{images}[{index}]' should be a mapping with url, width, height; ignored", "images")
        return None
    raw_url = data.get("url")
    url = clean_url(raw_url, base_host=base_host) if isinstance(raw_url, str) else None
    if url is None:
        shown = _quote(raw_url) if isinstance(raw_url, str) else kind_of(raw_url)
        problems.warn(f"'{images}[{index}].url' is not an absolute http(s) URL: {shown}; image ignored", "images")
        return None
    size = []
    for key in ("width", "height"):
        value = data.get(key)
        if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
            value = int(value.strip())  # ASCII digits only: int() refuses "²", and a long one is not a size
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_PIXELS:
            size.append(value)
        else:
            if value is not None:
                problems.warn(f"'{images}[{index}].{key}' should be a positive whole number; ignored", "images")
            size.append(None)
    return Image(url=url, width=size[0], height=size[1])


def _images(data: Any, problems: FileProblems, where: str, base_host: str | None) -> tuple[Image, ...]:
    """``where``'s images (the first of each URL, in order); a bad one is left out with a warning."""
    images = images_if_clean(data, base_host)
    return _read_images(data, problems, where, base_host) if images is None else images


def _read_images(data: Any, problems: FileProblems, where: str, base_host: str | None) -> tuple[Image, ...]:
    """:func:`_images` without the fast path: the reference images_if_clean is held to."""
    if data is None:
        return ()
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        problems.warn(f"'{where}' should be a list of images, not {kind_of(data)}; ignored", "images")
        return ()
    if len(data) > MAX_IMAGES:
        problems.warn(f"'{where}' has {len(data)} images; only the first {MAX_IMAGES} are kept", where)
    images = (_image(item, problems, where, i, base_host) for i, item in enumerate(data[:MAX_IMAGES]))
    unique: dict[str, Image] = {}
    for image in images:
        if image is not None and image.url not in unique:
            unique[image.url] = image
    return tuple(unique.values())


def _topics(data: Any, problems: FileProblems) -> tuple[str, ...]:
    if data is None:
        return ()
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list):
        problems.warn(f"'topics' should be a list of names, not {kind_of(data)}; ignored", "topics")
        return ()
    if len(data) > MAX_TOPICS:
        problems.warn(f"'topics' has {len(data)} entries; only the first {MAX_TOPICS} are kept", "topics")
    topics: dict[str, str] = {}
    for item in data[:MAX_TOPICS]:
        if isinstance(item, _NUMBER) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            shown = "null" if item is None else kind_of(item)
            problems.warn(f"'topics' holds {shown}, not a name; that entry ignored", "topics")
            continue
        name = clean_name(item)
        if name:
            topics.setdefault(name.casefold(), name)
    return tuple(topics.values())


def _related(data: Any, problems: FileProblems, settings: Settings) -> tuple[Related, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        problems.warn(f"'related' should be a list, not {kind_of(data)}; ignored", "related")
        return ()
    items = []
    for index, entry in enumerate(data[:MAX_RELATED]):
        related = related_if_clean(entry, settings) if type(entry) is dict else None
        if related is None:
            related = _read_related(entry, index, problems, settings)
        if related is not None:
            items.append(related)
    return tuple(items)


def _read_related(entry: Any, index: int, problems: FileProblems, settings: Settings) -> Related | None:
    """``related[index]``'s Related, or None (with a warning unless it is a video with no link): the
    reference related_if_clean is held to."""
    where = f"related[{index}]"
    if not isinstance(entry, dict):
        problems.warn(f"'{where}' should be a mapping; ignored", "related")
        return None
    inner = FileProblems(problems.shown)  # no text: an entry's keys would find the article's own lines
    fields = _Fields(entry, inner, settings)
    provider = _provider(entry.get("provider"), inner, f"{where}.provider")
    host = provider.domain if provider else None
    title = fields.text("title", settings.max_title_chars, f"{where}.title")
    link = fields.url("webUrl", host, f"{where}.webUrl") or fields.url("originalUrl", host, f"{where}.originalUrl")
    problems.items.extend(inner.items)
    if not title or not link:
        # real files list related videos with an empty webUrl: nothing to link to
        if not title or any(entry.get(k) for k in ("webUrl", "originalUrl")):
            problems.warn(f"'{where}' needs a title and an http(s) link; ignored", "related")
        return None
    images = _images(entry.get("images"), problems, f"{where}.images", host)
    return Related(
        title=title,
        link=link,
        summary=fields.text("excerpt", settings.max_summary_chars) or "",  # its warnings go nowhere
        published_at=parse_date(entry.get("publishedDateTime")),
        provider=provider,
        image=images[0] if images else None,
    )


def _embed_url(value: Any, problems: FileProblems) -> str | None:
    """The http(s) ``src`` of the featured iframe; the HTML itself is never kept."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        problems.warn(f"'featuredContent' should be HTML text, not {kind_of(value)}; ignored", "featuredContent")
        return None
    match = _IFRAME_SRC.search(value[:10_000])
    url = clean_url(match.group(1)) if match else None
    if url is None:
        shown = _quote(match.group(1)) if match else "no <iframe src>"
        problems.warn(f"'featuredContent' has no http(s) iframe src ({shown}); ignored", "featuredContent")
    return url


def _bool_flag(fields: _Fields, key: str) -> bool:
    value = fields.data.get(key)
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no"):
        return value.strip().lower() in ("true", "yes")
    fields.problems.warn(f"'{key}' should be true or false, not {_shown(value)}; taken as true", key)
    return True


def parse_article(data: dict, source: str, settings: Settings, problems: FileProblems) -> ReadResult:
    """One front-matter mapping → an Article, or an error naming the missing field."""
    fields = _Fields(data, problems, settings)
    provider = _provider(data.get("provider"), problems, "provider")
    host = provider.domain if provider else None
    title = fields.text("title", settings.max_title_chars)
    if not title:
        if "title" in problems.unreadable:
            return problems.error(f"'title' (required) cannot be read ({problems.unreadable['title']})", "title")
        return problems.error(
            "missing 'title' (required)" if "title" not in data else "'title' is empty or not text", "title"
        )
    original_url = fields.url("originalUrl")
    web_url = fields.url("webUrl")
    link = original_url or web_url
    if link is None:
        return problems.error(
            "no usable link: 'originalUrl' or 'webUrl' must be an absolute http(s) URL",
            "originalUrl" if "originalUrl" in data else "webUrl",
        )
    raw_date = data.get("publishedDateTime")
    published_at = parse_date(raw_date)
    if published_at is None:
        if "publishedDateTime" in problems.unreadable:
            what = f"'publishedDateTime' (required) cannot be read ({problems.unreadable['publishedDateTime']})"
        elif raw_date is None:
            what = "missing 'publishedDateTime' (required)"
        else:
            what = f"'publishedDateTime' is not a usable date: {_shown(raw_date)}"
        return problems.error(what, "publishedDateTime")
    article = Article(
        source=source,
        uid=make_uid(link),
        title=title,
        link=link,
        published_at=published_at,
        summary=fields.text("excerpt", settings.max_summary_chars) or "",
        original_url=original_url,
        web_url=web_url,
        amp_url=fields.url("ampWebUrl"),
        cdn_amp_url=fields.url("cdnAmpWebUrl"),
        category=fields.text("category", MAX_NAME_CHARS),
        kind=(fields.text("type", MAX_NAME_CHARS) or "").lower() or None,
        quality=fields.integer("quality"),
        heat=fields.integer("heat"),
        published=_bool_flag(fields, "published"),
        provider=provider,
        topics=_topics(data.get("topics"), problems),
        images=_images(data.get("images"), problems, "images", host),
        related=_related(data.get("related"), problems, settings),
        featured_embed_url=_embed_url(data.get("featuredContent"), problems),
    )
    return ReadResult(article, tuple(problems.items))
