"""Article files → clean :class:`Article` values, or named :class:`Problem` values.

This is the untrusted boundary. Each file is read on its own and every failure
becomes a ``Problem`` naming the file (and the line where one is known), so one
bad file never costs the good ones. Nothing here constructs Python objects from
YAML tags, follows a symlink out of the articles folder, or reads past the size
limit. The ``secured`` field is never read.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from feeds import safe_yaml
from feeds.config import Settings
from feeds.dates import parse_date
from feeds.model import Article, Image, Problem, Provider, Related, Severity
from feeds.text import clean_domain, clean_text, clean_url, link_key, repair_mojibake

MAX_TOPICS = 50
MAX_IMAGES = 20
MAX_RELATED = 20
MAX_NAME_CHARS = 200
MAX_BODY_CHARS = 100_000  # the body is kept but not rendered; bound the cleaning work
MAX_SHOWN_CHARS = 80
MAX_VALUES = 20_000  # YAML nodes in one front matter; real articles have about 100
_COUNT_VALUES_ABOVE = 50_000  # characters; fewer hold at most ~25,000 nodes, a few MB composed
MAX_FILES = 1_000_000
_IFRAME_SRC = re.compile(r"""<iframe\b[^>]*?\bsrc\s*=\s*["']([^"'<>\s]+)["']""", re.IGNORECASE)
_UID_NAMESPACE = uuid.UUID("6f1b0a39-2a57-4d43-9d6c-2b6f1f0e7a11")
# YAML 1.1 §5.1 printable characters; anything else makes libyaml refuse the whole file
_NOT_YAML = re.compile("[^\t\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_C1 = re.compile("[\x80-\x9f]")
_CLOSING_LINE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What one file gave: an article (or None when an error lost it) and its problems."""

    article: Article | None
    problems: tuple[Problem, ...] = ()


class _FileProblems:
    """Collects the problems of one file; knows the file's text to find a key's line."""

    def __init__(self, shown: str, text: str = "", line_offset: int = 1) -> None:
        self.shown, self.text, self.offset = shown, text, line_offset
        self.items: list[Problem] = []

    def line_of(self, key: str) -> int | None:
        match = re.search(rf"^{re.escape(key)}\s*:", self.text, re.MULTILINE)
        return None if match is None else self.text.count("\n", 0, match.start()) + 1 + self.offset

    def warn(self, message: str, key: str | None = None) -> None:
        self.items.append(Problem(self.shown, Severity.WARNING, message, self.line_of(key) if key else None))

    def error(self, message: str, key: str | None = None, line: int | None = None) -> ReadResult:
        if line is None and key:
            line = self.line_of(key)
        self.items.append(Problem(self.shown, Severity.ERROR, message, line))
        return ReadResult(None, tuple(self.items))


def decode(raw: bytes) -> tuple[str, str | None]:
    """Bytes → text with LF line ends; returns a warning when UTF-8 did not fit.

    The stated fallback is Windows-1252 (what mis-saved news text almost always
    is), with bytes it leaves undefined mapped to U+FFFD.
    """
    warning = None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("cp1252", errors="replace")
        warning = f"not valid UTF-8 (byte {exc.start}); decoded as Windows-1252"
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, warning


def split_front_matter(text: str) -> tuple[str, str] | None:
    """(front matter, body) when the text opens with a ``---`` line and closes one."""
    if not text.startswith("---"):
        return None
    first_end = text.find("\n")
    if first_end == -1 or text[:first_end].rstrip() != "---":
        return None
    start = first_end + 1
    match = _CLOSING_LINE.search(text, start)  # from an offset: no copy of the text
    if match is None:
        return None
    return text[start : match.start()], text[match.end() :].lstrip("\n")


def make_uid(link: str) -> str:
    """A stable ``urn:uuid`` for a story, the same for every variant of its URL."""
    return f"urn:uuid:{uuid.uuid5(_UID_NAMESPACE, link_key(link))}"


class _Fields:
    """Typed access to one front-matter mapping; wrong types become warnings."""

    def __init__(self, data: dict, problems: _FileProblems, settings: Settings) -> None:
        self.data, self.problems, self.settings = data, problems, settings

    def text(self, key: str, max_chars: int, where: str | None = None) -> str | None:
        value = self.data.get(key)
        label = where or key
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.problems.warn(f"'{label}' should be text, not {_kind(value)}; ignored", where or key)
            return None
        cleaned, cut = clean_text(value, max_chars)
        if cut:
            self.problems.warn(f"'{label}' is longer than {max_chars} characters; shortened", key)
        return cleaned or None

    def url(self, key: str, base_host: str | None = None) -> str | None:
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            self.problems.warn(f"'{key}' should be a URL, not {_kind(value)}; ignored", key)
            return None
        cleaned = clean_url(value, base_host=base_host)
        if cleaned is None:
            self.problems.warn(f"'{key}' is not an absolute http(s) URL: {_quote(value)}; ignored", key)
        return cleaned

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.problems.warn(f"'{key}' should be a number, not {_kind(value)}; ignored", key)
            return None
        if abs(value) > 10**12:
            self.problems.warn(f"'{key}' is out of range; ignored", key)
            return None
        return int(value)


def _kind(value: Any) -> str:
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
    if isinstance(value, bool | int | float | date):
        return _quote(str(value))
    return _kind(value)


def _provider(data: Any, problems: _FileProblems, where: str) -> Provider | None:
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
    clean_name = None
    if isinstance(name, str | int | float) and not isinstance(name, bool):
        clean_name, _ = clean_text(str(name), MAX_NAME_CHARS)
    elif name is not None:
        problems.warn(f"'{where}.name' should be text, not {_kind(name)}; ignored", where)
    if not clean_name and not domain:
        return None
    return Provider(name=clean_name or domain or "", domain=domain)


def _image(data: Any, problems: _FileProblems, where: str, base_host: str | None) -> Image | None:
    if isinstance(data, str):
        data = {"url": data}
    if not isinstance(data, dict):
        problems.warn(f"'{where}' should be a mapping with url, width, height; ignored", "images")
        return None
    raw_url = data.get("url")
    url = clean_url(raw_url, base_host=base_host) if isinstance(raw_url, str) else None
    if url is None:
        shown = _quote(raw_url) if isinstance(raw_url, str) else _kind(raw_url)
        problems.warn(f"'{where}.url' is not an absolute http(s) URL: {shown}; image ignored", "images")
        return None
    size = []
    for key in ("width", "height"):
        value = data.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000:
            size.append(value)
        else:
            if value is not None:
                problems.warn(f"'{where}.{key}' should be a positive whole number; ignored", "images")
            size.append(None)
    return Image(url=url, width=size[0], height=size[1])


def _images(data: Any, problems: _FileProblems, where: str, base_host: str | None) -> tuple[Image, ...]:
    if data is None:
        return ()
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        problems.warn(f"'{where}' should be a list of images, not {_kind(data)}; ignored", "images")
        return ()
    if len(data) > MAX_IMAGES:
        problems.warn(f"'{where}' has {len(data)} images; only the first {MAX_IMAGES} are kept", where)
    images = (_image(item, problems, f"{where}[{i}]", base_host) for i, item in enumerate(data[:MAX_IMAGES]))
    unique: dict[str, Image] = {}
    for image in images:
        if image is not None and image.url not in unique:
            unique[image.url] = image
    return tuple(unique.values())


def _topics(data: Any, problems: _FileProblems) -> tuple[str, ...]:
    if data is None:
        return ()
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list):
        problems.warn(f"'topics' should be a list of names, not {_kind(data)}; ignored", "topics")
        return ()
    if len(data) > MAX_TOPICS:
        problems.warn(f"'topics' has {len(data)} entries; only the first {MAX_TOPICS} are kept", "topics")
    topics: dict[str, str] = {}
    for item in data[:MAX_TOPICS]:
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):
            shown = "null" if item is None else _kind(item)
            problems.warn(f"'topics' holds {shown}, not a name; that entry ignored", "topics")
            continue
        name, _ = clean_text(item, MAX_NAME_CHARS)
        if name:
            topics.setdefault(name.casefold(), name)
    return tuple(topics.values())


def _related(data: Any, problems: _FileProblems, settings: Settings) -> tuple[Related, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        problems.warn(f"'related' should be a list, not {_kind(data)}; ignored", "related")
        return ()
    items = []
    for index, entry in enumerate(data[:MAX_RELATED]):
        where = f"related[{index}]"
        if not isinstance(entry, dict):
            problems.warn(f"'{where}' should be a mapping; ignored", "related")
            continue
        inner = _FileProblems(problems.shown)
        fields = _Fields(entry, inner, settings)
        provider = _provider(entry.get("provider"), inner, f"{where}.provider")
        host = provider.domain if provider else None
        title = fields.text("title", settings.max_title_chars, f"{where}.title")
        link = fields.url("webUrl", host) or fields.url("originalUrl", host)
        problems.items.extend(inner.items)
        if not title or not link:
            # real files list related videos with an empty webUrl: nothing to link to
            if title and not any(entry.get(k) for k in ("webUrl", "originalUrl")):
                continue
            problems.warn(f"'{where}' needs a title and an http(s) link; ignored", "related")
            continue
        images = _images(entry.get("images"), problems, f"{where}.images", host)
        items.append(
            Related(
                title=title,
                link=link,
                summary=fields.text("excerpt", settings.max_summary_chars) or "",
                published_at=parse_date(entry.get("publishedDateTime")),
                provider=provider,
                image=images[0] if images else None,
            )
        )
    return tuple(items)


def _embed_url(value: Any, problems: _FileProblems) -> str | None:
    """The http(s) ``src`` of the featured iframe; the HTML itself is never kept."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        problems.warn(f"'featuredContent' should be HTML text, not {_kind(value)}; ignored", "featuredContent")
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


def parse_article(data: dict, source: str, settings: Settings, problems: _FileProblems) -> ReadResult:
    """One front-matter mapping → an Article, or an error naming the missing field."""
    fields = _Fields(data, problems, settings)
    provider = _provider(data.get("provider"), problems, "provider")
    host = provider.domain if provider else None
    title = fields.text("title", settings.max_title_chars)
    if not title:
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
        what = (
            "missing 'publishedDateTime' (required)"
            if raw_date is None
            else f"'publishedDateTime' is not a usable date: {_shown(raw_date)}"
        )
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


def _printable_path(name: str) -> str:
    """A path fit for a one-line message: undecodable bytes and controls made visible."""
    if name.isprintable():
        return name
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def read_article(path: Path, settings: Settings, *, root: Path | None = None) -> ReadResult:
    """Read one file. Never raises for anything the file contains."""
    shown = _printable_path(path.relative_to(root).as_posix() if root is not None else str(path))
    problems = _FileProblems(shown)
    try:
        with path.open("rb") as handle:
            # read(n) allocates n bytes up front: ask for the file's size, not the limit
            expected = os.fstat(handle.fileno()).st_size
            raw = handle.read(min(expected, settings.max_file_bytes) + 1)
    except OSError as exc:
        return problems.error(f"cannot read the file ({exc.strerror or exc})")
    if len(raw) > settings.max_file_bytes:
        return problems.error(f"file is larger than the limit of {settings.max_file_bytes} bytes; not read")
    try:
        return _read_text(raw, shown, settings, problems)
    except (RecursionError, MemoryError):
        return problems.error("front matter is nested too deeply to read")
    except Exception as exc:  # noqa: BLE001 - the one per-file boundary (STYLE §4)
        return problems.error(f"internal error while reading: {type(exc).__name__}: {exc}")


def _read_text(raw: bytes, shown: str, settings: Settings, problems: _FileProblems) -> ReadResult:
    text, warning = decode(raw)
    if warning:
        problems.warn(warning)
    parts = split_front_matter(text)
    if parts is None:
        if text.startswith("---\n"):
            return problems.error("front matter is not closed: no '---' line after the YAML", line=1)
        problems.warn("no front matter (a '---' line, YAML, and a closing '---' line); not an article")
        return ReadResult(None, tuple(problems.items))
    front, body = parts
    if _NOT_YAML.search(front):
        front = _printable(front, problems)
    problems.text = front
    try:
        if len(front) > _COUNT_VALUES_ABOVE and _count_values(front) > MAX_VALUES:
            return problems.error(f"front matter holds more than {MAX_VALUES} values; not read (an article has ~100)")
        data = safe_yaml.load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return problems.error(f"front matter is not valid YAML: {reason}", line=line)
    if data is None:
        problems.warn("front matter is empty; not an article")
        return ReadResult(None, tuple(problems.items))
    if not isinstance(data, dict):
        return problems.error(f"front matter must be a mapping of key: value, not {_kind(data)}", line=2)
    result = parse_article(data, shown, settings, problems)
    if result.article is not None and body.strip():
        cleaned, _ = clean_text(body[: MAX_BODY_CHARS * 2], MAX_BODY_CHARS, single_line=False)
        result = ReadResult(result.article.replace(body=cleaned), result.problems)
    return result


def _count_values(front: str) -> int:
    """How many YAML nodes the front matter has, counted from the event stream, up to a cap.

    Composing the node tree costs ~40 bytes of memory per byte of YAML with many
    small values; counting events first costs about nothing and stops early.
    """
    count = 0
    for event in yaml.parse(front, Loader=safe_yaml.Loader):
        if isinstance(event, yaml.NodeEvent):
            count += 1
            if count > MAX_VALUES:
                break
    return count


def _printable(front: str, problems: _FileProblems) -> str:
    """Drop the characters YAML refuses (controls, U+FFFE), so one stray byte costs no article.

    C1 controls are usually the tail of mojibake (``â€\x9d`` for ``”``), so the
    repair runs first, while the sequence is still whole.
    """
    if _C1.search(front):
        front = repair_mojibake(front)
    cleaned, count = _NOT_YAML.subn("", front)
    if count:
        problems.warn(f"removed {count} control or non-character code point(s) YAML does not allow")
    return cleaned


def walk_article_files(root: Path, unreadable: list[Problem] | None = None) -> Iterator[tuple[str, os.DirEntry]]:
    """(relative POSIX name, directory entry) of every regular file under ``root``, in sorted order.

    Dotfiles and dot-folders are skipped. Symlinks are followed only while they
    stay inside ``root``; each real folder is visited once, so a symlink cycle
    cannot loop. The entries carry their ``stat()`` (one system call, cached),
    which is all an identity check needs: no Path objects on the hot path.
    A folder that cannot be listed is added to ``unreadable`` as an error-level
    Problem, so its articles never vanish from the feeds unreported.
    """
    real_root = root.resolve()
    seen: set[Path] = set()
    count = 0

    def walk(folder: str, prefix: str) -> Iterator[tuple[str, os.DirEntry]]:
        nonlocal count
        real = Path(folder).resolve()
        if real in seen or not real.is_relative_to(real_root):
            return
        seen.add(real)
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            if unreadable is not None:
                shown = _printable_path(prefix.rstrip("/") or ".")
                message = f"cannot list this folder ({exc.strerror or exc}); its articles are left out"
                unreadable.append(Problem(shown, Severity.ERROR, message))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_symlink() and not Path(entry.path).resolve().is_relative_to(real_root):
                    continue
                if entry.is_dir():
                    yield from walk(entry.path, f"{prefix}{entry.name}/")
                elif entry.is_file():
                    count += 1
                    if count > MAX_FILES:
                        return
                    yield prefix + entry.name, entry
            except OSError:
                continue

    yield from walk(str(root), "")


def find_article_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, in sorted order (see :func:`walk_article_files`)."""
    for _, entry in walk_article_files(root):
        yield Path(entry.path)


@dataclass(frozen=True, slots=True)
class Folder:
    """What a folder gave: unique articles in file order and every problem found."""

    articles: tuple[Article, ...]
    problems: tuple[Problem, ...]
    files: int


def read_folder(root: Path, settings: Settings) -> Folder:
    """Read every article file under ``root``; duplicates of one story are kept once.

    Duplicate rule (same canonical link): a published copy beats an unpublished
    one, then the newest ``publishedDateTime``, then the first path in sorted
    order; each dropped copy is reported as a warning naming the kept file.
    """
    if not root.is_dir():
        return missing_folder(root)
    unreadable: list[Problem] = []
    results = [read_article(Path(e.path), settings, root=root) for _, e in walk_article_files(root, unreadable)]
    return collect(results, unreadable)


def missing_folder(root: Path) -> Folder:
    """What a folder that is not there reads as: nothing, and one error saying so."""
    problem = Problem(str(root), Severity.ERROR, "articles folder does not exist or is not a folder")
    return Folder((), (problem,), 0)


def collect(results: list[ReadResult], listing_problems: list[Problem] | tuple[Problem, ...] = ()) -> Folder:
    """Merge per-file results (in path order) into a Folder, settling duplicates.

    Every copy of a story is ranked at once, so each dropped copy names the one
    that was kept (never another dropped copy), whatever order the files came in.
    """
    problems: list[Problem] = list(listing_problems)
    first: dict[str, Article] = {}  # uid → its first copy, in path order
    copies: dict[str, list[Article]] = {}  # only the uids with more than one copy (rare)
    for result in results:
        if result.problems:
            problems.extend(result.problems)
        article = result.article
        if article is not None:
            earlier = first.setdefault(article.uid, article)
            if earlier is not article:
                copies.setdefault(article.uid, [earlier]).append(article)
    kept = []
    for uid, article in first.items():
        group = copies.get(uid)
        if group is None:  # the common case: no duplicate to settle
            kept.append(article)
            continue
        winner, *losers = sorted(group, key=_duplicate_rank)
        kept.append(winner)
        for loser in sorted(losers, key=lambda a: a.source):
            problems.append(
                Problem(
                    loser.source,
                    Severity.WARNING,
                    f"duplicate of {winner.source} (same story: {loser.link} and {winner.link}); skipped",
                )
            )
    articles = tuple(sorted(kept, key=_source))
    return Folder(articles, tuple(problems), len(results))


def _source(article: Article) -> str:
    return article.source


def _duplicate_rank(article: Article) -> tuple[bool, float, str]:
    """Published first, then the newest date, then the first path: a total order.

    The date is the catalog's own sort key's (computed once per article), not
    recomputed: a reload settles every duplicate group again.
    """
    return (not article.published, article.newest_first[0], article.source)
