"""A fast path for front matter: the strict subset of YAML that article files use, read without libyaml.

Contract: :func:`parse` returns exactly what :func:`feeds.read.safe_yaml.load_counting_unreadable`
returns for ``text`` (value and types, dict key order), or None, "not mine", for anything outside the
subset (a key given twice too, which only the libyaml path reports); then the libyaml path runs
unchanged. tests/test_front_matter_fast.py holds it to that with generated hostile documents and
every file of ../shared.

The subset, line by line (lines end with ``\\n`` only):

- ``key: value`` and ``key:`` lines, where a key is ASCII ``[A-Za-z0-9_][A-Za-z0-9_./-]*`` (under
  1,000 characters, libyaml's simple-key limit is 1,024) directly followed by ``:`` and a space or
  the end of the line;
- ``- `` items, also compact (``- key: value``, ``- - value``), their content a column further in;
- ``key:`` with nothing after it: a deeper block (mapping or sequence), a ``- `` sequence at the
  key's own column, or null;
- values on one line: ``"double-quoted"`` with libyaml's escapes (any other escape, an invalid code
  point or a line continuation bails), ``'single-quoted'`` (``''`` is a quote), ``[]``, ``{}``, and
  plain scalars not starting with an indicator (``-x``, ``?x``, ``:x`` are plain) and holding no
  `` #`` or ``: `` nor ending in ``:``;
- blank lines anywhere, and trailing spaces.

Everything else bails: characters outside YAML's printable set and tabs, ``\\r``, ``\\x85``,
``\\u2028``, ``\\u2029``, a BOM anywhere; comments; flow collections other than ``[]``/``{}``;
anchors, aliases, tags, block scalars, ``?`` keys, quoted or non-ASCII keys (so ``<<`` and ``=``);
multi-line scalars; document markers and directives; a line deeper than the structure expects or at
a column no open block has; nesting deeper than :data:`MAX_DEPTH`; an empty document or a lone scalar;
any value the Loader would make an Unreadable.

Plain scalars (values and keys) are typed by the caller's ``plain`` function, the safe Loader's own
resolver and constructors (YAML 1.1: ``yes``, ``0o17``, ``1:30``, ``.inf``, dates…), or found in its
memo of the values they built: this module reads structure and quoting only, it never decides what a
word means.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MAX_DEPTH", "NotMine", "parse"]

MAX_DEPTH = 40  # nested blocks; articles use 3 (related → provider), deeper documents take the libyaml path

# Anything libyaml reads differently from the subset: a character outside YAML's printable set, tab, a
# line break other than \n (\r, \x85, \u2028, \u2029), a BOM, a non-character (\ufffe, \uffff), a surrogate.
# What [^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff] matches, listed (the
# negated class took ~4.5 ms to compile at every start, issue 20; tests/test_text.py holds them equal).
_OUTSIDE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_SUBSET_ASCII = b"\n" + bytes(range(0x20, 0x7F))  # the ASCII characters _OUTSIDE lets through
# One line: (indent, key, "quoted" without escapes, plain word without ':' or '#', any other value, not a
# key line). The two simple kinds of value are built without another match; "other" goes to _scalar.
_LINE = re.compile(  # no "^": each match starts where the last ended, so nothing is searched for
    r"""( *)((?:-(?: +|(?=\n)))*)"""  # indent, "- " dashes
    r"""(?:([A-Za-z0-9_][A-Za-z0-9_./-]{0,998}):(?:"""  # libyaml refuses keys over 1,024 characters
    r""" +(?:("[^"\\\n]*")|([^-?:,\[\]{}#&*!|>'"%@`\s][^#:\n ]*(?: +[^#:\n ]+)*)) *\n"""
    r"""| *\n| +(.+)\n)|(.*)\n)"""
)
# unrolled loops ("normal* (special normal*)*"): an alternation per character costs ten times as much
_DOUBLE = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)" *\Z')
_SINGLE = re.compile(r"'([^']*(?:''[^']*)*)' *\Z")
_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
# libyaml's one-character escapes (scanner.c, yaml_parser_scan_flow_scalar); "\<tab>" never gets here
_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r", "e": "\x1b",
    " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_KEY_TOKEN, _DASH_TOKEN, _SCALAR_TOKEN = 0, 1, 2  # a scalar token is only ever an item on its dash's line
_OPEN = object()  # the value of "key:" with nothing after it: a block below, or null
_UNKNOWN = object()  # a plain scalar ``known`` has no value for


class NotMine(Exception):
    """The text is outside the subset: the caller reads it with libyaml."""


Plain = Callable[[str], Any]
Token = tuple[int, int, Any, Any]  # (column, kind, built key, built value or _OPEN)


def parse(text: str, plain: Plain, known: Mapping[str, Any]) -> Any:
    """The mapping or sequence ``text`` holds, or None when it is not in the subset (see the module docstring).

    ``plain(text)`` gives a plain scalar's value as the safe Loader builds it, or raises NotMine; ``known``
    holds values ``plain`` gave before (text → value; a text not in it is asked of ``plain``).
    """
    if _outside_subset(text):
        return None
    try:
        tokens = _tokens(text + "\n", plain, known)
        if not tokens:
            return None  # empty: libyaml says None (and the reader says why)
        value, end = _Document(tokens).node(0, 0)
    except NotMine:
        return None
    return value if end == len(tokens) else None  # a line left of the root's column


def _outside_subset(text: str) -> bool:
    """Whether ``text`` holds a character :data:`_OUTSIDE` matches; tests/test_front_matter_fast.py holds it to that."""
    # quick "no"s, cheapest first: ASCII holding only line feeds and printable characters (deleting
    # those bytes leaves nothing: ~1 µs for 3 kB, issue 20); isprintable() (Python's printable characters
    # are a subset of the ones allowed here, ~6 µs); only when both say maybe does the slower regex decide
    if text.isascii() and not text.encode("ascii").translate(None, _SUBSET_ASCII):
        return False
    return not text.replace("\n", " ").isprintable() and _OUTSIDE.search(text) is not None


def _tokens(text: str, plain: Plain, known: Mapping[str, Any]) -> list[Token]:
    """Each key (its value built), dash and same-line item, with its column (``text`` ends with a line break)."""
    tokens: list[Token] = []
    append = tokens.append
    for indent, dashes, key, quoted, word, other, rest in _LINE.findall(text):
        column = len(indent)
        if dashes:
            for spaces in dashes.split("-")[1:]:
                append((column, _DASH_TOKEN, None, None))
                column += 1 + len(spaces)
        if key:
            name = known.get(key, _UNKNOWN)
            if name is _UNKNOWN:
                name = plain(key)
            if quoted:
                value = quoted[1:-1]
            elif word:
                value = known.get(word, _UNKNOWN)
                if value is _UNKNOWN:
                    value = plain(word)
            else:
                value = _scalar(other, plain) if other else _OPEN
            append((column, _KEY_TOKEN, name, value))
        elif rest:
            if not dashes:
                raise NotMine  # a comment, "? key", a quoted key, a continuation line, "---"…
            append((column, _SCALAR_TOKEN, None, _scalar(rest, plain)))
    return tokens


def _scalar(value: str, plain: Plain) -> Any:
    """A one-line value (it starts with no space): quoted, [] or {}, or plain."""
    first = value[0]
    if first == '"':
        match = _DOUBLE.match(value)
        if match is None:
            raise NotMine  # unclosed (multi-line), or something after the closing quote
        body = match[1]
        return _ESCAPE.sub(_unescape, body) if "\\" in body else body
    if first == "'":
        match = _SINGLE.match(value)
        if match is None:
            raise NotMine
        return match[1].replace("''", "'")
    text = value.rstrip(" ")
    if first in _INDICATORS:
        if text == "[]":
            return []
        if text == "{}":
            return {}
        if first not in "-?:" or len(text) < 2 or text[1] == " ":
            raise NotMine
    if " #" in text or ": " in text or text[-1] == ":":
        raise NotMine
    return plain(text)


class _Document:
    """Recursive descent over the tokens of one document: columns make the blocks."""

    __slots__ = ("tokens", "count")

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.count = tokens, len(tokens)

    def node(self, index: int, depth: int) -> tuple[Any, int]:
        """The block starting at token ``index`` (its column is the block's), and the index after it."""
        if depth > MAX_DEPTH:
            raise NotMine
        column, kind = self.tokens[index][:2]
        if kind == _KEY_TOKEN:
            return self.mapping(index, column, depth)
        if kind == _DASH_TOKEN:
            return self.sequence(index, column, depth)
        raise NotMine  # pragma: no cover - a scalar token always follows its dash, which reads it

    def mapping(self, index: int, column: int, depth: int) -> tuple[dict, int]:
        tokens, count = self.tokens, self.count
        mapping: dict = {}
        while index < count:
            at, kind, name, value = tokens[index]
            if at != column:
                break  # left of the block: it is closed (a deeper token was refused below)
            if kind != _KEY_TOKEN:
                raise NotMine  # "- item" among keys
            index += 1
            if name in mapping:
                raise NotMine  # a key given twice: the libyaml path names it
            if value is not _OPEN:
                mapping[name] = value
            elif index < count and tokens[index][0] > column:
                mapping[name], index = self.node(index, depth + 1)
            elif index < count and tokens[index][0] == column and tokens[index][1] == _DASH_TOKEN:
                mapping[name], index = self.sequence(index, column, depth + 1)  # "key:" then "- a" below it
            else:
                mapping[name] = None
            if index < count and tokens[index][0] > column:
                raise NotMine  # a continuation line, or a column no open block has
        return mapping, index

    def sequence(self, index: int, column: int, depth: int) -> tuple[list, int]:
        tokens, count = self.tokens, self.count
        sequence: list = []
        while index < count:
            at, kind = tokens[index][:2]
            if at != column or kind != _DASH_TOKEN:
                break  # closed; a key at this column is the enclosing mapping's (or refused there)
            index += 1
            if index < count and tokens[index][0] > column:
                if tokens[index][1] == _SCALAR_TOKEN:
                    sequence.append(tokens[index][3])
                    index += 1
                else:
                    item, index = self.node(index, depth + 1)
                    sequence.append(item)
            else:
                sequence.append(None)
            if index < count and tokens[index][0] > column:
                raise NotMine
        return sequence, index


def _unescape(match: re.Match[str]) -> str:
    digits = match[1] or match[2] or match[3]
    if digits is not None:
        code = int(digits, 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            raise NotMine  # libyaml: "found invalid Unicode character escape code"
        return chr(code)
    character = _ESCAPES.get(match[4])
    if character is None:
        raise NotMine  # libyaml: "found unknown escape character"
    return character
