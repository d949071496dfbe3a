"""An XML item's bytes from a template per item shape: feedgen's own bytes with the values spliced in.

Building a feedgen entry and pretty-printing it through lxml costs ~50 µs an item (issue 14
item 8; cProfile, counting feedgen's ~250 Python calls an item, makes it look several times
that), though most items differ only in their values. So
:meth:`Splicer.item` records the calls a writer's ``fill_entry`` makes on an entry
(a :class:`_Recorder` stands in for it), keys them by their *shape* (every argument
but the values shown as text: which calls, how many topics and images, which
attributes, empty or not, the format), and joins the shape's template with the
article's values, escaped exactly as lxml escapes text and attribute values.

A template is made by the real thing: the recorded calls are replayed on a real
feedgen entry with unique sentinel values, serialised by the writer's ``placed``,
and cut at the sentinels. It is made twice with different sentinels and must cut
into the same pieces, so a value feedgen transformed, dropped or tested beyond
emptiness shows up as a difference and the shape is refused. Whatever is not
exactly known (a value outside XML's characters, an argument of an unknown type,
a refused shape) returns None: the caller then builds the item with feedgen, the
reference (:func:`feeds.render.xmlfeed.reference_item`). ``tests/test_item_template.py``
holds the two equal on generated articles.

A writer here is what :class:`feeds.render.xmlfeed.XmlWriter` provides: ``new_entry``,
``fill_entry``, ``placed`` and ``date_text`` (how feedgen writes an entry's dates in its format).
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from datetime import datetime
from typing import Any

_SHAPES = 4_096  # templates remembered; the synthetic 10k corpus has 151 shapes in both formats together
# Arguments whose string is part of the shape, not a value, by the call's attribute path: what
# feedgen reads to decide (a link's ``rel``, checked against a list; the content's and the summary's
# ``type``, which picks how feedgen's _add_text_elm writes them), and ``medium``, a constant. Every other
# string is only written.
_STRUCTURE = frozenset({"rel", "medium"})
STRUCTURE_KEYS = {("content",): _STRUCTURE | {"type"}, ("summary",): _STRUCTURE | {"type"}}
# Outside XML 1.0 §2.2 Char, which lxml refuses (ValueError) or cannot encode (lone surrogates): the C0
# controls but tab, newline and carriage return, as UTF-8 bytes; U+FFFE, U+FFFF and the lone surrogates
# (encoded with "surrogatepass": ED A0-BF then a continuation byte), likewise
_C0_BYTES = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
_UNWRITABLE = re.compile(b"\xef\xbf[\xbe\xbf]|\xed[\xa0-\xbf]")
# A string sentinel holds every character lxml escapes in text or in an attribute (and the quote it
# does not), so how lxml wrote it tells its context; and letters of both cases, a composed and a
# decomposed accent, an astral character and a space at each end, so a value that feedgen or lxml
# changes (case, normal form, encoding, strip) no longer matches and its shape is refused.
_SPECIALS = "&<>\"'\t\n\raZ\u00e9e\u0301\U0001d11e"
_MARKS = ("\ue000", "\ue001")  # private-use characters around a string sentinel: nothing else writes them


def escape_text(value: str) -> str:
    """``value`` as lxml writes an element's text (UTF-8 document): ``& < >`` and ``\\r`` escaped.

    Raises UnicodeEncodeError on a lone surrogate. Only sentinels and date texts come here; the
    splicer escapes an article's values itself (with "surrogatepass"), then leaves an item that shows
    a lone surrogate to feedgen, which refuses it as lxml does.
    """
    return _escape_utf8_text(value.encode()).decode()


def escape_attribute(value: str) -> str:
    """``value`` as lxml writes an attribute's value: as text, plus ``"``, tab and newline (a lone
    surrogate raises, as for :func:`escape_text`)."""
    return _escape_utf8_attribute_rest(_escape_utf8_text(value.encode())).decode()


# The escapes work on UTF-8 bytes, where the items are spliced: replacing in bytes is about twice
# as fast as in a str holding any character beyond Latin-1 (an item's body always does: "—").
def _escape_utf8_text(text: bytes) -> bytes:
    return text.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;").replace(b"\r", b"&#13;")


def _escape_utf8_attribute_rest(text: bytes) -> bytes:
    return text.replace(b'"', b"&quot;").replace(b"\t", b"&#9;").replace(b"\n", b"&#10;")


# a string sentinel as lxml wrote it, in text or in an attribute (told apart by its special characters)
_TEXT_SPECIALS = escape_text(_SPECIALS)
_SENTINEL = re.compile(
    f" {_MARKS[0]}(?P<build>[0-9]+)[.](?P<index>[0-9]+)"
    f"(?P<specials>{re.escape(_TEXT_SPECIALS)}|{re.escape(escape_attribute(_SPECIALS))}){_MARKS[1]} "
)


class _Tag:
    """A marker in a shape (a value's place, a date's place, a dict); compared by identity."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_SLOT, _DATE, _DICT = _Tag("slot"), _Tag("date"), _Tag("dict")
_PLAIN = (type(None), bool, int)  # kept in the shape as they are (feedgen writes str() of an int)


class _Unknown(Exception):
    """An argument this module does not know how to take apart: the item is built by feedgen."""


def _shape_of(value: Any, key: str | None, structure: frozenset[str], values: list, dates: list) -> Any:
    """``value``'s part of a shape; each string value it holds goes to ``values`` and each date to
    ``dates``, in order. ``key``: its argument's name; ``structure``: the names whose string is
    shape in this call."""
    kind = type(value)
    if kind is str:
        if not value or key in structure:  # feedgen tests every value for emptiness: that is shape
            return value
        values.append(value)
        return _SLOT
    if kind is dict:
        return (_DICT, tuple((name, _shape_of(item, name, structure, values, dates)) for name, item in value.items()))
    if kind in _PLAIN:
        return (kind, value)  # the type too: False == 0 would give two shapes one key
    if isinstance(value, datetime):
        dates.append(value)
        return (_DATE, kind, value.tzinfo)  # feedgen refuses a date without a zone
    raise _Unknown(kind.__name__)


class _Recorder:
    """Stands in for a feedgen entry: each call made on it, or on an attribute path of it, goes
    into its root's flat shape (path, argument count, parts, keyword count, name and part...),
    and the call's string values and dates into the root's two lists, in order.

    A root is reused item after item by one thread (:class:`Splicer`), so the recorders of its
    paths are made once: each is kept as an attribute of its parent (then found without
    ``__getattr__``). Its own names start with ``_``, which no entry method of feedgen's does."""

    def __init__(self, root: _Recorder | None = None, path: tuple[str, ...] = ()) -> None:
        self._root = self if root is None else root
        self._path = path
        self._structure = STRUCTURE_KEYS.get(path, _STRUCTURE)
        self._shape: list = []
        self._values: list[str] = []
        self._dates: list[datetime] = []

    def __getattr__(self, name: str) -> _Recorder:
        if name.startswith("_"):
            raise AttributeError(name)
        child = self.__dict__[name] = _Recorder(self._root, (*self._path, name))
        return child

    def _start(self) -> None:
        """Forget the last item's calls (a root's)."""
        self._shape, self._values, self._dates = [], [], []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        root, structure = self._root, self._structure
        shape, values, dates = root._shape, root._values, root._dates
        shape += (self._path, len(args))
        for value in args:
            if type(value) is str and value:  # the common case first: a positional value
                values.append(value)
                shape.append(_SLOT)
            else:
                shape.append(_shape_of(value, None, structure, values, dates))
        shape.append(len(kwargs))
        for key, value in kwargs.items():
            if type(value) is str and value and key not in structure:  # again the common case first
                values.append(value)
                shape += (key, _SLOT)
            else:
                shape += (key, _shape_of(value, key, structure, values, dates))


class Splicer:
    """Spliced items of one writer (its ``splicer``, living as long as it); a recorder per thread."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self._local = threading.local()

    def item(self, article: Any, source_url: str | None, updated: datetime) -> bytes | None:
        """The bytes ``writer.placed`` gives for ``article``'s entry filled by ``writer.fill_entry``;
        None when they cannot be promised here (see the module's docstring): then ask feedgen."""
        writer = self._writer
        recorder = getattr(self._local, "recorder", None)
        if recorder is None:
            recorder = self._local.recorder = _Recorder()
        recorder._start()
        try:
            writer.fill_entry(recorder, article, source_url, updated)
        except _Unknown:
            return None
        template = _template(writer, tuple(recorder._shape))
        if template is None:
            return None
        values, dates = recorder._values, recorder._dates
        form, attributes, shown_dates, order = template
        # every value escaped as text in one call, apart by NUL, as UTF-8 (a lone surrogate passed, to be
        # found below if an item shows it); one with a NUL (lxml refuses it) splits into one too many
        escaped = _escape_utf8_text("\0".join(values).encode("utf-8", "surrogatepass")).split(b"\0")
        if len(escaped) != len(values):
            return None
        # then what an attribute escapes besides (in one call too), and each date the item shows, by
        # the format's own function
        if attributes:
            escaped += _escape_utf8_attribute_rest(b"\0".join(map(escaped.__getitem__, attributes))).split(b"\0")
        date_text, moment, text = writer.date_text, None, b""
        for index in shown_dates:
            if dates[index] is not moment:  # an Atom entry's two dates are often one object: written once
                moment = dates[index]
                text = _escape_utf8_text(date_text(moment).encode())
            escaped.append(text)
        item = form % tuple(map(escaped.__getitem__, order))
        # any other character outside XML 1.0's Char in a value it shows, which lxml refuses or cannot
        # encode (the pieces between values are lxml's own; escaping adds none); a value not shown never
        # reached lxml. Each of _UNWRITABLE's matches starts with \xed or \xef: looking for those single
        # bytes first (memchr) costs ~0.3 µs an item, where looking for "\xef\xbf" cost ~2.8 µs
        if len(item.translate(None, _C0_BYTES)) != len(item) or (
            (b"\xed" in item or b"\xef" in item) and _UNWRITABLE.search(item)
        ):
            return None
        return item


# ----- templates -----------------------------------------------------------------------------------

Template = tuple[bytes, tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def _calls(shape: tuple, build: int) -> tuple[list, list[str], list[datetime]]:
    """The calls of a flat ``shape`` with sentinel values of one build, and the string and date
    sentinels, each in value order."""
    strings: list[str] = []
    dates: list[datetime] = []

    def concrete(part: Any) -> Any:
        if part is _SLOT:
            strings.append(f" {_MARKS[0]}{build}.{len(strings)}{_SPECIALS}{_MARKS[1]} ")
            return strings[-1]
        if type(part) is not tuple:
            return part  # a string of the shape
        if part[0] is _DICT:
            return {name: concrete(item) for name, item in part[1]}
        if part[0] is _DATE:
            kind, zone, index = part[1], part[2], len(dates)
            # far from any real date, one a value and build; whole, so every format shows all of it
            dates.append(kind(1000 + 4000 * build + index, 1 + build, 2 + build, 3, 4, 5, 678_000 * build, zone))
            return dates[-1]
        return part[1]  # (type, value) of a plain argument

    calls, at = [], 0
    while at < len(shape):
        path, count = shape[at], shape[at + 1]
        args = [concrete(part) for part in shape[at + 2 : at + 2 + count]]
        at += 2 + count
        count = shape[at]
        kwargs = {shape[i]: concrete(shape[i + 1]) for i in range(at + 1, at + 1 + 2 * count, 2)}
        at += 1 + 2 * count
        calls.append((path, args, kwargs))
    return calls, strings, dates


Cut = tuple[tuple[str, ...], tuple[tuple[int, str], ...], int]


def _cut(writer: Any, shape: tuple, build: int) -> Cut | None:
    """The item of ``shape`` built by feedgen with one build's sentinels, cut at them: the pieces
    between values, each place's (string or date index, "text", "attribute" or "date"), and the
    number of strings; None when a sentinel is not found whole (feedgen or lxml changed it)."""
    calls, strings, dates = _calls(shape, build)
    entry = writer.new_entry()
    for path, args, kwargs in calls:
        target = entry
        for name in path:
            target = getattr(target, name)
        target(*args, **kwargs)
    document = writer.placed(entry).decode()
    found = []  # (start, end, place) of every sentinel in the document
    for match in _SENTINEL.finditer(document):  # its context is told by how lxml wrote its special characters
        context = "text" if match["specials"] == _TEXT_SPECIALS else "attribute"
        if int(match["build"]) == build:
            found.append((match.start(), match.end(), (int(match["index"]), context)))
    for index, moment in enumerate(dates):
        text = escape_text(writer.date_text(moment))
        start = document.find(text)
        while start >= 0:
            found.append((start, start + len(text), (index, "date")))
            start = document.find(text, start + len(text))
    pieces, places, at = [], [], 0
    for start, end, place in sorted(found):
        if start < at:
            return None  # two sentinels overlap: nothing can be told apart
        pieces.append(document[at:start])
        places.append(place)
        at = end
    pieces.append(document[at:])
    if any(mark in piece for piece in pieces for mark in _MARKS):
        return None
    return tuple(pieces), tuple(places), len(strings)


@functools.lru_cache(maxsize=_SHAPES)
def _template(writer: Any, shape: tuple) -> Template | None:
    """How to write an item of ``shape``, for :meth:`Splicer.item`: a %-format (UTF-8) of the pieces between
    values; the string indexes of its attribute places and the date indexes of its date places; and
    for each place in turn its position in [every string escaped as text, then the attribute
    places', then the dates'].
    None when two builds with different sentinels do not cut into the same pieces and places, or
    feedgen refuses the shape (then the reference raises its own error for the article)."""
    try:
        first, second = _cut(writer, shape, 0), _cut(writer, shape, 1)
    except (ValueError, NotImplementedError):  # feedgen's refusals (a required field empty, a date without a
        return None  # zone, a text element's type it cannot write): the reference raises its own for the article
    if first is None or first != second:
        return None
    pieces, places, count = first
    attributes = tuple(index for index, context in places if context == "attribute")
    dates = tuple(index for index, context in places if context == "date")
    after = {"attribute": iter(range(count, count + len(attributes))), "date": itertools.count(count + len(attributes))}
    order = tuple(index if context == "text" else next(after[context]) for index, context in places)
    return "%s".join(piece.replace("%", "%%") for piece in pieces).encode(), attributes, dates, order
