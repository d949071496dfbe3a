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
import re
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
from feeds.read.mojibake import repair_mojibake
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
_COUNT_VALUES_ABOVE = 50_000  # characters; fewer hold at most ~25,000 nodes, a few MB composed
# Never follow a symlink at open time (the walk checked the name, a rename may have swapped it since) and
# never block: a FIFO swapped in for an article would hold the reload thread in open() for good (issue 16).
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
# Outside YAML 1.1 §5.1's printable characters, which make libyaml refuse the whole file: what
# [^\t\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff] matches, listed (the negated class took
# ~4.5 ms to compile at every start, issue 20; tests/test_text.py holds them equal).
_NOT_YAML = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# The bytes UTF-8 spells the characters YAML allows with: all but the ASCII controls (tab and line feed
# allowed) and DEL. Of the others YAML refuses, UTF-8 spells the C1 controls \xc2\x80-\xc2\x9f and the
# noncharacters U+FFFE, U+FFFF \xef\xbf\xbe, \xef\xbf\xbf; a lone surrogate it does not spell at all.
_YAML_UTF8 = b"\t\n" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
_C1_UTF8 = re.compile(b"\xc2[\x80-\x84\x86-\x9f]")  # U+0085 is YAML's (a line break)
_NONCHARACTER_UTF8 = re.compile(b"\xef\xbf[\xbe\xbf]")
_C1 = re.compile("[\x80-\x9f]")
_AROUND_C1 = re.compile("[^\x00-\x7f]{0,3}[\x80-\x9f][^\x00-\x7f]{0,3}")  # a mojibake sequence is 2-4 characters
MAX_C1_REPAIRS = 1_000
_CLOSING_LINE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)  # the reference _closing_line is held to
_CLOSING_MARKS = ("---", "...")
# the codec of each UTF-16/32 byte order mark (the codec reads and drops the mark); UTF-32 LE's opens with UTF-16 LE's
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "utf-32", b"\x00\x00\xfe\xff": "utf-32", b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"
}  # fmt: skip
# a JSON-style UTF-16 escape of a surrogate (libyaml refuses the whole document for one); "\\\\" is matched first, so
# an escaped backslash before "u" stays text: a high and a low surrogate (a pair), or a lone one in either spelling
_SURROGATE_ESCAPE = re.compile(
    r"\\\\|\\u([dD][89abAB][0-9a-fA-F]{2})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?"
    r"|\\(?:u|U0000)[dD][89a-fA-F][0-9a-fA-F]{2}"
)
_BAD_ESCAPE = "found invalid Unicode character escape code"  # libyaml's problem for it (scanner.c)
_LATER_CLOSING_LINE = re.compile(r"\n(?:---|\.\.\.)[ \t]*$", re.MULTILINE)  # one after a line break


def decode(raw: bytes) -> tuple[str, str | None]:
    """Bytes → text with LF line ends; returns a warning when UTF-8 did not fit.

    The stated fallback is Windows-1252 (what mis-saved news text almost always
    is), with bytes it leaves undefined mapped to U+FFFD. A UTF-16 or UTF-32 BOM
    (YAML 1.1 §5.2; Windows Notepad's "Unicode") decodes as what it says.
    """
    warning = None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    wide = (_WIDE_BOMS.get(raw[:4]) or _WIDE_BOMS.get(raw[:2])) if raw[:1] in (b"\xff", b"\xfe", b"\x00") else None
    try:
        text = raw.decode(wide or "utf-8")
    except UnicodeDecodeError as exc:
        if wide:
            text = raw.decode(wide, errors="replace")
            warning = f"not valid {wide.upper()} (byte {exc.start}); undecodable bytes replaced"
        else:
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
    closing = _closing_line(text, start)
    if closing is None:
        return None
    return text[start : closing[0]], text[closing[1] :].lstrip("\n")


def _closing_line(text: str, start: int) -> tuple[int, int] | None:
    """Where the first ``---`` or ``...`` line at or after ``start`` (a line's start) begins and ends
    (before its line break): what ``_CLOSING_LINE.search(text, start)`` spans.

    The multi-line regex tried every position of a front matter (a long ``secured`` line): ~14 µs of
    each file's ~270. ``_LATER_CLOSING_LINE`` opens with a line feed, which re scans for alone and tries
    the rest only after one (~40 a front matter): ~2.3 µs for 3.9 kB, where str.find of a line feed and
    a dash, then of one and a dot, took ~8.3 (a two-character needle costs ~1 ns a character, issue 20).
    tests/test_reader.py holds it equal to the regex.
    """
    if text.startswith(_CLOSING_MARKS, start):
        end = text.find("\n", start + 3)
        end = len(text) if end == -1 else end
        if not text[start + 3 : end].strip(" \t"):
            return start, end
    found = _LATER_CLOSING_LINE.search(text, start)
    return None if found is None else (found.start() + 1, found.end())


def _yaml_printable(text: str) -> bool:
    """Whether ``text`` holds only characters YAML allows: ``_NOT_YAML.search(text) is None``, by quicker checks.

    On its UTF-8 bytes: deleting the bytes of allowed characters leaves nothing, a C loop (~1 µs for 3 kB
    where the regex took ~10), and beyond ASCII, where a lead byte of a C1 control or of U+FFFE/U+FFFF is
    there (memchr), a regex that opens with it finds none. Beyond ASCII that is ~5 µs for a 4 kB front
    matter of news text where replacing tab and line feed by spaces and asking ``isprintable()`` took ~12
    and the regex ~15 (issue 20). tests/test_reader.py holds it to the regex for every character.
    """
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate, which YAML refuses
        return False
    if data.translate(None, _YAML_UTF8):
        return False
    return text.isascii() or (
        (b"\xc2" not in data or _C1_UTF8.search(data) is None)
        and (b"\xef" not in data or _NONCHARACTER_UTF8.search(data) is None)
    )


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
    if not _yaml_printable(front):
        front = _printable(front, problems)
    problems.text = front
    try:
        if len(front) > _COUNT_VALUES_ABOVE and _count_values(front) > MAX_VALUES:
            return problems.error(f"front matter holds more than {MAX_VALUES} values; not read (an article has ~100)")
        data, unreadable, repeated = _load(front, problems)
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
    for key, line in repeated:
        problems.repeated_key(key, line)
    if unreadable:
        data = without_unreadable(data, problems)
    result = parse_article(data, shown, settings, problems)
    if result.article is not None and body.strip():
        cleaned, _ = clean_text(body[: MAX_BODY_CHARS * 2], MAX_BODY_CHARS, single_line=False)
        result = ReadResult(result.article.replace(body=cleaned), result.problems)
    return result


def _load(front: str, problems: FileProblems) -> tuple[object, int, tuple[tuple[str, int], ...]]:
    """:func:`safe_yaml.load_reporting`, and once more with surrogate escapes rewritten when
    libyaml refused one: a pair as the character it encodes (JSON spells emoji so), a lone one dropped."""
    try:
        return safe_yaml.load_reporting(front)
    except yaml.YAMLError as exc:
        if getattr(exc, "problem", None) != _BAD_ESCAPE:
            raise
        lone = 0

        def rewrite(match: re.Match) -> str:
            nonlocal lone
            if match[0] == "\\\\":
                return match[0]
            if match[2] is not None:  # UTF-16: the pair's two halves give the code point
                code = 0x10000 + ((int(match[1], 16) - 0xD800) << 10) + (int(match[2], 16) - 0xDC00)
                return f"\\U{code:08X}"
            lone += 1
            return ""

        fixed = _SURROGATE_ESCAPE.sub(rewrite, front)
        if fixed == front:
            raise
        loaded = safe_yaml.load_reporting(fixed)
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


def _repaired(match: re.Match) -> str:
    return repair_mojibake(match.group())


def _printable(front: str, problems: FileProblems) -> str:
    """Drop the characters YAML refuses (controls, U+FFFE), so one stray byte costs no article.

    C1 controls are usually the tail of mojibake (``â€\x9d`` for ``”``), so the
    repair runs first, while the sequence is still whole.
    """
    if _C1.search(front):
        # only around each C1 control, and only so many: ftfy over a whole front matter of
        # repeated mojibake took seconds (tools/fuzz_reader.py found it)
        front = _AROUND_C1.sub(_repaired, front, count=MAX_C1_REPAIRS)
    cleaned, count = _NOT_YAML.subn("", front)
    if count:
        problems.warn(f"removed {count} control or non-character code point(s) YAML does not allow")
    return cleaned


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
