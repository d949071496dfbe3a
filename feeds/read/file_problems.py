"""The problems of one article file, and the values YAML could not build in it.

:class:`FileProblems` collects one file's problems, each naming the file and, where it can be
found, the line of the key it is about; :class:`ReadResult` is what reading the file gave.
:func:`without_unreadable` takes every value the safe Loader could not build (an
:class:`~feeds.read.safe_yaml.Unreadable`) out of a front-matter mapping, reporting each once: one
bad value costs its field, never the article (issue 15), and a required field's costs the article
with an error naming it (:data:`REQUIRED_FIELDS`). :mod:`feeds.read.article_fields` applies the
field rules; :mod:`feeds.read.reader` reads the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from feeds.model import Article, Problem, Severity
from feeds.read.safe_yaml import Unreadable

__all__ = ["MAX_PATH_CHARS", "REQUIRED_FIELDS", "FileProblems", "ReadResult", "without_unreadable"]

REQUIRED_FIELDS = ("title", "publishedDateTime")  # and a link: originalUrl or webUrl
MAX_PATH_CHARS = 120  # a field's path in a message (images[0].url)
MAX_REPEATS_SHOWN = 10  # keys given twice, named one by one in a file; the rest counted in one warning


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What one file gave: an article (or None when an error lost it) and its problems."""

    article: Article | None
    problems: tuple[Problem, ...] = ()


class FileProblems:
    """Collects the problems of one file; knows the file's text to find a key's line."""

    def __init__(self, shown: str, text: str = "", line_offset: int = 1) -> None:
        self.shown, self.text, self.offset = shown, text, line_offset
        self.items: list[Problem] = []
        self.unreadable: dict[str, Unreadable] = {}  # field path → the value YAML could not build there

    def unreadable_field(self, where: str, value: Unreadable) -> None:
        """A value YAML could not build costs its field: a warning, or for a required field the error it causes."""
        self.unreadable[where] = value
        if where not in REQUIRED_FIELDS:
            message = f"'{where}' cannot be read ({value}); ignored"
            self.items.append(Problem(self.shown, Severity.WARNING, message, value.line + self.offset))

    def repeated_keys(self, repeated: Sequence[tuple[str, int]]) -> None:
        """A warning for each key given again, with its line in the front matter (from 1), in line order (YAML
        keeps the last value): the first :data:`MAX_REPEATS_SHOWN`, then one saying how many more."""
        in_order = sorted(repeated, key=lambda repeat: repeat[1])  # libyaml's two paths note them in other orders
        for key, line in in_order[:MAX_REPEATS_SHOWN]:
            message = f"{key[:MAX_PATH_CHARS]!r} is given more than once; the last value is kept"
            self.items.append(Problem(self.shown, Severity.WARNING, message, line + self.offset))
        if len(in_order) > MAX_REPEATS_SHOWN:
            more = len(in_order) - MAX_REPEATS_SHOWN
            self.warn(f"{more} more keys are given more than once; the last values are kept")

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


def without_unreadable(data: dict, problems: FileProblems) -> dict:
    """``data`` without its :class:`Unreadable` values and the entries they key; each is reported once,
    by the first field it sits in (issue 15: one bad value costs its field, never the article).

    Parts shared through aliases stay shared and each is walked once, so an alias bomb costs no more
    here than in the loader.
    """
    copies: dict[int, Any] = {}

    def report(where: str, value: Unreadable) -> None:
        if id(value) not in copies:
            copies[id(value)] = value  # reported: aliases of it are not reported again
            problems.unreadable_field(where[:MAX_PATH_CHARS], value)

    def copy(value: Any, where: str) -> Any:
        kind = type(value)
        if kind not in (dict, list, tuple, set):
            return value
        known = copies.get(id(value))
        if known is not None:
            return known
        if kind is dict:
            mapping = copies[id(value)] = {}
            for key, item in value.items():
                name = key if isinstance(key, str) else repr(key)[:MAX_PATH_CHARS]
                here = f"{where}.{name}" if where else name
                if type(key) is Unreadable:
                    report(f"{where or 'front matter'} (a key)", key)
                elif type(item) is Unreadable:
                    report(here, item)
                else:
                    mapping[key] = copy(item, here)
            return mapping
        if kind is list:
            sequence = copies[id(value)] = []
            for index, item in enumerate(value):
                if type(item) is Unreadable:
                    report(f"{where}[{index}]", item)
                else:
                    sequence.append(copy(item, f"{where}[{index}]"))
            return sequence
        # the pairs of an !!omap or !!pairs, the members of a !!set: no cycle passes only through them
        kept = []
        for item in value:
            if type(item) is Unreadable:
                report(where, item)
            else:
                kept.append(copy(item, where))
        return tuple(kept) if kind is tuple else set(kept)

    return copy(data, "")
