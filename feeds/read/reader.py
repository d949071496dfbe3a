"""Article files → clean :class:`Article` values, or named :class:`Problem` values.

This is the untrusted boundary. Each file is read on its own and every failure
becomes a ``Problem`` naming the file (and the line where one is known), so one
bad file never costs the good ones. Nothing here constructs Python objects from
YAML tags, follows a symlink out of the articles folder, or reads past the size
limit. This module opens, decodes and parses the files that :mod:`feeds.read.article_files`
finds; :mod:`feeds.read.article_fields` turns one front-matter mapping into an Article.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from feeds.config import Settings
from feeds.model import Article, Problem, Severity
from feeds.read import safe_yaml
from feeds.read.article_fields import kind_of, make_uid, parse_article
from feeds.read.article_files import inside, printable_path, walk_article_files
from feeds.read.file_problems import FileProblems, ReadResult, without_unreadable
from feeds.read.file_text import (
    BAD_ESCAPE,
    decode,
    split_front_matter,
    surrogate_escapes_rewritten,
    without_refused_characters,
    yaml_printable,
)
from feeds.read.safe_yaml import Unreadable
from feeds.read.text import clean_text

__all__ = [  # make_uid and ReadResult are part of the reader's interface, defined with the fields
    "Folder",
    "ReadResult",
    "collect",
    "decode",
    "make_uid",
    "missing_folder",
    "read_article",
    "read_folder",
    "read_named",
    "split_front_matter",
]

MAX_BODY_CHARS = 100_000  # the body is kept but not rendered; bound the cleaning work
MAX_VALUES = 20_000  # YAML nodes in one front matter; real articles have about 100
# double-quoted scalars with surrogate escapes mended in one file, each costing libyaml another read of it
_MAX_ESCAPE_REWRITES = 100
_COUNT_VALUES_ABOVE = 50_000  # characters; fewer hold at most ~25,000 nodes, a few MB composed
# Never follow a symlink at open time (the walk checked the name, a rename may have swapped it since) and
# never block: a FIFO swapped in for an article would hold the reload thread in open() for good (issue 16).
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def read_article(path: Path, settings: Settings, *, root: Path | None = None) -> ReadResult:
    """Read one file. Never raises for anything the file contains."""
    shown = printable_path(_relative_name(path, root) if root is not None else str(path))
    return _read_file(path, shown, root, settings)


def read_named(root: Path, name: str, settings: Settings) -> ReadResult:
    """What ``read_article(root / name, settings, root=root)`` gives, for a ``name`` that
    :func:`~feeds.read.article_files.walk_article_files` gave under ``root``.

    Such a name is a relative POSIX path without empty, ``.`` or ``..`` parts: its own name under
    ``root``, and joined to ``root``'s text it opens the same file. The Path made for each file and
    turned back into text and into that name cost ~2.7 µs a file (issue 20). tests/test_reader.py
    holds it to read_article.
    """
    folder = str(root)
    path = f"{folder}/{name}" if folder[-1:] != "/" else folder + name
    return _read_file(path, printable_path(name), root, settings)


def _read_file(path: str | Path, shown: str, root: Path | None, settings: Settings) -> ReadResult:
    """The file at ``path``, named ``shown`` in its problems: :func:`read_article`'s reading."""
    problems = FileProblems(shown)
    try:
        raw = _read_bytes(path, root, settings.max_file_bytes)
    except OSError as exc:  # strerror is always given for a failed system call: the path's type never shows
        return problems.error(f"cannot read the file ({exc.strerror or exc})")
    if isinstance(raw, str):
        return problems.error(raw)
    if len(raw) > settings.max_file_bytes:
        return problems.error(f"file is larger than the limit of {settings.max_file_bytes} bytes; not read")
    try:
        return _read_text(raw, shown, settings, problems)
    except (RecursionError, MemoryError):
        return problems.error("front matter is nested too deeply to read")
    except Exception as exc:  # noqa: BLE001 - the one per-file boundary (STYLE §4)
        return problems.error(f"internal error while reading: {type(exc).__name__}: {exc}")


def _relative_name(path: Path, root: Path) -> str:
    """``path.relative_to(root).as_posix()``: the name under root by slicing the (normalised) path text
    where it allows, pathlib otherwise (~4 µs a file less, issue 20). tests/test_reader.py holds it to pathlib."""
    text, prefix = str(path), str(root)
    # not under "/" or "//": POSIX keeps a leading "//" as a root of its own, which pathlib tells apart
    if (
        os.sep == "/" and prefix[-1:] != "/" and len(text) > len(prefix) + 1
        and text.startswith(prefix) and text[len(prefix)] == "/"
    ):  # fmt: skip
        return text[len(prefix) + 1 :]
    return path.relative_to(root).as_posix()


def _read_bytes(path: str | Path, root: Path | None, limit: int) -> bytes | str:
    """The file's bytes, at most ``limit + 1`` of them, or why it is not read; raises OSError.

    Opened with :data:`_OPEN_FLAGS`, then checked on the descriptor (``fstat``),
    so what is read is the regular file that was opened, whatever the name
    points at by then. A name that is a symlink (the walk lists those staying
    inside the folder) is resolved and its target opened the same way.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        target = os.path.realpath(path)
        if root is None or not inside(target, os.path.realpath(root)):
            return "is a symlink out of the articles folder; not read"
        fd = os.open(target, _OPEN_FLAGS)
    try:  # plain descriptor reads: a buffered file object around the descriptor cost ~3 µs a file (issue 20)
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            return "is not a regular file (replaced while the folder was read?); not read"
        # read(n) allocates n bytes up front: ask for the file's size, not the limit
        wanted = min(found.st_size, limit) + 1
        chunks = [os.read(fd, wanted)]
        got = len(chunks[0])
        while got < wanted and chunks[-1]:  # a short read before the end (a signal, a network file system)
            chunks.append(os.read(fd, wanted - got))
            got += len(chunks[-1])
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def _read_text(raw: bytes, shown: str, settings: Settings, problems: FileProblems) -> ReadResult:
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
    if not yaml_printable(front):
        front, count = without_refused_characters(front)
        if count:
            problems.warn(f"removed {count} control or non-character code point(s) YAML does not allow")
    problems.text = front
    try:
        loaded = _load(front, problems)
        if loaded is None:
            return problems.error(f"front matter holds more than {MAX_VALUES} values; not read (an article has ~100)")
        data, unreadable, repeated = loaded
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return problems.error(f"front matter is not valid YAML: {reason}", line=line)
    if data is None:
        problems.warn("front matter is empty; not an article")
        return ReadResult(None, tuple(problems.items))
    if isinstance(data, Unreadable):
        return problems.error(f"front matter cannot be read ({data})", line=data.line + 1)
    if not isinstance(data, dict):
        return problems.error(f"front matter must be a mapping of key: value, not {kind_of(data)}", line=2)
    if repeated:
        problems.repeated_keys(repeated)
    if unreadable:
        data = without_unreadable(data, problems)
    result = parse_article(data, shown, settings, problems)
    if result.article is not None and body.strip():
        cleaned, _ = clean_text(body[: MAX_BODY_CHARS * 2], MAX_BODY_CHARS, single_line=False)
        result = ReadResult(result.article.replace(body=cleaned), result.problems)
    return result


def _load(front: str, problems: FileProblems) -> tuple[object, int, tuple[tuple[str, int], ...]] | None:
    """:func:`safe_yaml.load_reporting` (None: more than MAX_VALUES values), with the JSON-style surrogate
    escapes of each double-quoted scalar libyaml refuses rewritten (:func:`surrogate_escapes_rewritten`,
    from the escape its mark points at), so no other kind of scalar or comment changes."""
    lone = 0
    for _ in range(_MAX_ESCAPE_REWRITES + 1):
        try:
            if len(front) > _COUNT_VALUES_ABOVE and _count_values(front) > MAX_VALUES:
                return None
            loaded = safe_yaml.load_reporting(front)
            break
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            if getattr(exc, "problem", None) != BAD_ESCAPE or mark is None:
                raise
            at = front.rfind("\\", 0, mark.index)  # libyaml marks the escape's hex digits (in characters)
            if at < 0:
                raise
            fixed, dropped = surrogate_escapes_rewritten(front, at)
            if fixed == front:
                raise
            front, lone = fixed, lone + dropped
    else:
        raise yaml.YAMLError(BAD_ESCAPE)
    if lone:
        problems.warn(f"removed {lone} lone UTF-16 surrogate escape(s) (\\ud800 to \\udfff), which are no characters")
    return loaded


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
