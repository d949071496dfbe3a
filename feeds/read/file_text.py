"""An article file's text: its bytes decoded, its front matter split from its body, and what libyaml
would refuse in that front matter found and mended.

Pure functions of text, for :mod:`feeds.read.reader`, which reads the files and names the problems
these report. The quick checks here are held to their reference regexes (``_CLOSING_LINE``,
``_NOT_YAML``) by tests/test_reader.py.
"""

from __future__ import annotations

import re

from feeds.read.mojibake import repair_mojibake

__all__ = [
    "BAD_ESCAPE",
    "decode",
    "split_front_matter",
    "surrogate_escapes_rewritten",
    "without_refused_characters",
    "yaml_printable",
]

# the codec of each UTF-16/32 byte order mark (the codec reads and drops the mark); UTF-32 LE's opens with UTF-16 LE's
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "utf-32", b"\x00\x00\xfe\xff": "utf-32", b"\xff\xfe": "utf-16", b"\xfe\xff": "utf-16"
}  # fmt: skip
_CLOSING_LINE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)  # the reference _closing_line is held to
_CLOSING_MARKS = ("---", "...")
_LATER_CLOSING_LINE = re.compile(r"\n(?:---|\.\.\.)[ \t]*$", re.MULTILINE)  # one after a line break
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
# a JSON-style UTF-16 escape of a surrogate (libyaml refuses the whole document for one); "\\\\" is matched first, so
# an escaped backslash before "u" stays text: a high and a low surrogate (a pair), or a lone one in either spelling
_SURROGATE_ESCAPE = re.compile(
    r"\\\\|\\u([dD][89abAB][0-9a-fA-F]{2})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?"
    r"|\\(?:u|U0000)[dD][89a-fA-F][0-9a-fA-F]{2}"
)
BAD_ESCAPE = "found invalid Unicode character escape code"  # libyaml's problem for it (scanner.c)
_DOUBLE_QUOTED_REST = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)  # from inside a "..." scalar to its end


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


def yaml_printable(text: str) -> bool:
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


def surrogate_escapes_rewritten(front: str, at: int) -> tuple[str, int]:
    """``front`` with the JSON-style UTF-16 escapes of a surrogate rewritten in the double-quoted scalar
    that runs on from ``at`` (the backslash of the escape libyaml refused, :data:`BAD_ESCAPE`) to its
    closing quote, and nowhere else (in any other kind of scalar, or a comment, the same text is no
    escape): a pair as the ``\\U`` escape of the character it encodes (JSON spells emoji so), a lone one
    dropped; and how many lone ones were dropped."""
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

    end = _DOUBLE_QUOTED_REST.match(front, at).end()
    return front[:at] + _SURROGATE_ESCAPE.sub(rewrite, front[at:end]) + front[end:], lone


def _repaired(match: re.Match) -> str:
    return repair_mojibake(match.group())


def without_refused_characters(front: str) -> tuple[str, int]:
    """``front`` without the characters YAML refuses (controls, U+FFFE), and how many there were: so one
    stray byte costs no article.

    C1 controls are usually the tail of mojibake (``â€\x9d`` for ``”``), so the
    repair runs first, while the sequence is still whole.
    """
    if _C1.search(front):
        # only around each C1 control, and only so many: ftfy over a whole front matter of
        # repeated mojibake took seconds (tools/fuzz_reader.py found it)
        front = _AROUND_C1.sub(_repaired, front, count=MAX_C1_REPAIRS)
    return _NOT_YAML.subn("", front)
