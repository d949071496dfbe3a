"""The reader is the untrusted boundary: hostile files become named problems, never crashes."""
# ruff: noqa: E501 - the hostile-case table keeps one case per line, by design

from __future__ import annotations

import os
import re
import subprocess
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from feeds.config import Settings
from feeds.model import Article, Problem, Severity
from feeds.read import article_fields, file_text, reader
from feeds.read.article_files import find_article_files, walk_article_files
from feeds.read.dates import Rfc3339Datetime, format_rfc3339, parse_date
from feeds.read.reader import (
    collect,
    make_uid,
    read_article,
    read_folder,
)
from feeds.read.text import link_key
from tests.conftest import REAL_CORPUS, SAMPLES, SEED, require_shared

BASE = b"title: T\noriginalUrl: https://example.com/a\npublishedDateTime: 2024-03-14T10:00:00Z\n"
PROBLEM_LINE = re.compile(r"^[^\n]+?(:\d+)?: (error|warning): [^\n]+$")


def doc(extra: bytes = b"", base: bytes = BASE) -> bytes:
    """A front-matter file: a valid article whose keys ``extra`` sets are replaced by extra's."""
    keys = set(re.findall(rb"^([A-Za-z]+):", extra, re.MULTILINE))
    kept = [line for line in base.splitlines(keepends=True) if line.split(b":")[0] not in keys]
    return b"---\n" + b"".join(kept) + extra + b"---\n"


def without(key: bytes) -> bytes:
    return doc(base=b"".join(line + b"\n" for line in BASE.splitlines() if not line.startswith(key)))


@dataclass(frozen=True)
class P:
    """Expect a problem of this severity whose message holds ``text`` (and is on ``line``)."""

    severity: str
    text: str
    line: int | None = None


@dataclass(frozen=True)
class F:
    """Expect an article whose field ``name`` equals ``value``."""

    name: str
    value: object


NO_ARTICLE = F("article", None)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# billion laughs: 9**8 "lol"s if anything ever turned the value into text
LAUGHS = b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + b"".join(
    b"%c: &%c [%s]\n" % (name, name, b",".join([b"*%c" % prev] * 9))
    for prev, name in zip(b"abcdefg", b"bcdefgh", strict=True)
)
# the table: (id, file bytes, expectations). One hostile case per line.
CASES: list[tuple[str, bytes, tuple[P | F, ...]]] = [
    ("list-front-matter", b"---\n- a\n- b\n---\n", (P("error", "must be a mapping", 2), NO_ARTICLE)),
    ("scalar-front-matter", b"---\njust words\n---\n", (P("error", "not str", 2), NO_ARTICLE)),
    ("empty-front-matter", b"---\n---\nbody\n", (P("warning", "front matter is empty"), NO_ARTICLE)),
    ("no-front-matter", b"Just a note, not an article.\n", (P("warning", "no front matter"), NO_ARTICLE)),
    ("empty-file", b"", (P("warning", "no front matter"), NO_ARTICLE)),
    ("unterminated", b"---\ntitle: T\noriginalUrl: https://e.com/\n", (P("error", "not closed", 1),)),
    ("invalid-yaml-line", b"---\ntitle: a\n  bad: indent\n---\n", (P("error", "not valid YAML", 3),)),
    ("invalid-yaml-flow", b"---\ntitle: ok\nexcerpt: [open\nx: y\n---\n", (P("error", "not valid YAML", 4),)),
    ("python-object-tag", doc(b"title: !!python/object/apply:os.getcwd []\n"), (P("error", "python/object", 4),)),
    ("python-name-tag", doc(b"x: !!python/name:os.system\n"), (P("warning", "'x' cannot be read (!!python/name:os.system", 5), F("title", "T"))),
    ("custom-tag", doc(b"title: !Foo bar\n"), (P("error", "'title' (required) cannot be read (!Foo 'bar': unknown tag)", 4), NO_ARTICLE)),
    # issue 15: a value YAML cannot build costs its field (a warning naming file and field), a required one is an error naming it
    ("int-5000-digits-quality", doc(b"quality: " + b"9" * 5000 + b"\n"), (P("warning", "'quality' cannot be read (!!int '9999", 5), F("quality", None), F("title", "T"))),
    ("int-5000-digits-heat", doc(b"heat: -" + b"9" * 5000 + b"\n"), (P("warning", "'heat' cannot be read"), F("heat", None), F("title", "T"))),
    ("int-5000-digits-category", doc(b"category: " + b"9" * 5000 + b"\n"), (P("warning", "'category' cannot be read"), F("category", None))),
    ("int-5000-digits-excerpt", doc(b"excerpt: " + b"9" * 5000 + b"\n"), (P("warning", "'excerpt' cannot be read"), F("summary", ""))),
    ("int-5000-digits-provider-name", doc(b"provider: {name: " + b"9" * 5000 + b", domain: p.com}\n"), (P("warning", "'provider.name' cannot be read", 5), F("provider.name", "p.com"))),
    ("int-5000-digits-image-width", doc(b"images: [{url: 'https://e.com/a.jpg', width: " + b"9" * 5000 + b"}]\n"), (P("warning", "'images[0].width' cannot be read"), F("lead_image", ("https://e.com/a.jpg", None, None)))),
    ("int-5000-digits-ignored-field", doc(b"someFutureKey: " + b"9" * 5000 + b"\n"), (P("warning", "'someFutureKey' cannot be read"), F("title", "T"))),
    ("int-hex-too-long-to-print", doc(b"excerpt: 0x" + b"f" * 4000 + b"\n"), (P("warning", "'excerpt' cannot be read"), F("summary", ""))),
    ("sexagesimal-int-too-long", doc(b"heat: " + b"1:" * 3000 + b"1\n"), (P("warning", "'heat' cannot be read"), F("heat", None))),
    ("bool-maybe-published", doc(b"published: !!bool maybe\n"), (P("warning", "'published' cannot be read (!!bool 'maybe': not true or false)", 5), F("published", True))),
    ("bool-maybe-image-is-cached", doc(b"images: [{url: 'https://e.com/a.jpg', isCached: !!bool maybe}]\n"), (P("warning", "'images[0].isCached' cannot be read", 5), F("lead_image.url", "https://e.com/a.jpg"))),
    ("timestamp-soon-heat", doc(b"heat: !!timestamp soon\n"), (P("warning", "'heat' cannot be read (!!timestamp 'soon': not a date)"), F("heat", None))),
    ("int-abc-quality", doc(b"quality: !!int abc\n"), (P("warning", "'quality' cannot be read (!!int 'abc': not an integer)"), F("quality", None))),
    ("float-abc-quality", doc(b"quality: !!float abc\n"), (P("warning", "'quality' cannot be read (!!float 'abc': not a number)"), F("quality", None))),
    ("timestamp-soon-date", doc(b"publishedDateTime: !!timestamp soon\n"), (P("error", "'publishedDateTime' (required) cannot be read (!!timestamp 'soon': not a date)", 4), NO_ARTICLE)),
    ("int-5000-digits-title", doc(b"title: " + b"9" * 5000 + b"\n"), (P("error", "'title' (required) cannot be read"), NO_ARTICLE)),
    ("bad-base64-related", doc(b"related: [{title: R, webUrl: 'https://r.com/1', images: !!binary 'aGVsbG8'}]\n"), (P("warning", "'related[0].images' cannot be read"), F("related.0.link", "https://r.com/1"))),
    ("merge-key-in-provider", doc(b"base: &b {name: P}\nprovider: {<<: *b, domain: p.com}\n"), (P("warning", "'provider' cannot be read (!!map: merge keys (<<) are not read)"), F("provider", None))),
    ("omap-of-wrong-shape", doc(b"topics: !!omap {a: 1}\n"), (P("warning", "'topics' cannot be read"), F("topics", ()))),
    ("unhashable-key", doc(b"? [a, b]\n: value\n"), (P("warning", "'front matter (a key)' cannot be read (!!seq: a list cannot be a key)"), F("title", "T"))),
    ("nested-bad-in-ignored-field", doc(b"extra: {list: [1, !!int x, {deeper: !Tag y}]}\n"), (P("warning", "'extra.list[1]' cannot be read"), P("warning", "'extra.list[2].deeper' cannot be read"), F("title", "T"))),
    ("aliased-bad-value-reported-once", doc(b"heat: &h !!int x\nquality: *h\n"), (P("warning", "'heat' cannot be read"), F("heat", None), F("quality", None))),
    ("set-with-unhashable-member", doc(b"topics: !!set {? [a]}\n"), (P("warning", "'topics' cannot be read"), P("warning", "not set"))),
    ("self-containing-str-map", doc(b"excerpt: &a !!str {=: *a}\n"), (P("warning", "'excerpt' cannot be read (!!str: a value that contains itself)"), F("summary", ""))),
    ("whole-front-matter-bad", b"---\n!!int abc\n---\n", (P("error", "front matter cannot be read (!!int 'abc'", 2), NO_ARTICLE)),
    ("image-width-superscript-digit", doc("images: [{url: 'https://e.com/a.jpg', width: '\u00b2'}]\n".encode()), (P("warning", "'images[0].width' should be a positive whole number"), F("lead_image.url", "https://e.com/a.jpg"))),
    ("binary-tag-title", doc(b"title: !!binary aGVsbG8=\n"), (P("warning", "not bytes"), P("error", "'title'"))),
    ("set-tag-topics", doc(b"topics: !!set {a, b}\n"), (P("warning", "not set"), F("topics", ()))),
    ("alias-bomb-date", doc(LAUGHS + b"publishedDateTime: *h\n"), (P("error", "not a usable date: a list"),)),
    ("alias-bomb-topics", doc(LAUGHS + b"topics: *h\n"), (P("warning", "holds a list"), F("topics", ()))),
    ("deep-flow-nesting", b"---\na: " + b"[" * 5000 + b"]" * 5000 + b"\n---\n", (P("error", "nesting"),)),
    ("over-max-file-bytes", b"---\n" + b"x" * 1_000_001, (P("error", "larger than the limit"),)),
    ("cp1252-bytes", doc(b'title: "Caf\xe9 \x93society\x94"\n'), (P("warning", "not valid UTF-8"), F("title", "Café “society”"))),
    ("utf8-bom", b"\xef\xbb\xbf" + doc(), (F("title", "T"), F("problems", ()))),
    # YAML 1.1 §5.2: a BOM says UTF-16 or UTF-32 (Windows Notepad's "Unicode"); read as Windows-1252 the file lost its article
    ("utf16le-bom", b"\xff\xfe" + doc("title: 'Café ☕'\n".encode()).decode().encode("utf-16-le"), (F("title", "Café ☕"), F("problems", ()))),
    ("utf16be-bom", b"\xfe\xff" + doc("title: 'Café'\n".encode()).decode().encode("utf-16-be"), (F("title", "Café"), F("problems", ()))),
    ("utf32le-bom", b"\xff\xfe\x00\x00" + doc("title: 'Café'\n".encode()).decode().encode("utf-32-le"), (F("title", "Café"), F("problems", ()))),
    ("utf32be-bom", b"\x00\x00\xfe\xff" + doc("title: 'Café'\n".encode()).decode().encode("utf-32-be"), (F("title", "Café"), F("problems", ()))),
    ("utf16-bom-odd-byte", b"\xff\xfe" + doc().decode().encode("utf-16-le") + b"\x00", (P("warning", "not valid UTF-16"), F("title", "T"))),
    ("crlf", doc(b"excerpt: |\n  one\n  two\n").replace(b"\n", b"\r\n"), (F("summary", "one two"), F("problems", ()))),
    ("cr-only", doc().replace(b"\n", b"\r"), (F("title", "T"),)),
    # JSON writes an emoji as a UTF-16 surrogate pair (json.dumps' default); libyaml refused the whole file for it
    ("surrogate-pair-escape", doc(b'title: "Launch \\ud83d\\ude80 day"\n'), (F("title", "Launch \U0001f680 day"), F("problems", ()))),
    ("lone-surrogate-escape-in-optional-field", doc(b'topics: ["\\ud800", "AI"]\nexcerpt: "a\\udc00b \\U0000DBFF"\n'), (P("warning", "removed 3 lone UTF-16 surrogate"), F("topics", ("AI",)), F("summary", "ab"))),
    ("surrogate-pair-escape-upper-case", doc(b'title: "Launch \\uD83D\\uDE80"\n'), (F("title", "Launch \U0001f680"), F("problems", ()))),
    # only a double-quoted scalar holds escapes: the same text in any other style, or a comment, is left as written
    ("surrogate-escapes-in-other-styles-kept", doc(b'title: "Rocket \\ud83d\\ude80"\nexcerpt: \'[\\ud800-\\udfff] \\ud83d\\ude80\'\n# \\ud800\nkind: x \\udc00\n'), (F("title", "Rocket \U0001f680"), F("summary", "[\\ud800-\\udfff] \\ud83d\\ude80"), F("problems", ()))),
    ("surrogate-escapes-in-a-block-scalar-kept", doc(b'title: "\\ud83d\\ude80"\nexcerpt: |\n  {"e": "\\ud83d\\ude80", "lone": "\\udc00"}\n'), (F("title", "\U0001f680"), F("summary", '{"e": "\\ud83d\\ude80", "lone": "\\udc00"}'), F("problems", ()))),
    # a front matter long enough to have its values counted first (libyaml, which refused the escape there too)
    ("surrogate-pair-escape-in-a-long-front-matter", doc(b'title: "Launch \\ud83d\\ude80"\nsecured: "' + b"x" * 60_000 + b'"\n'), (F("title", "Launch \U0001f680"), F("problems", ()))),
    ("escaped-backslash-before-u-is-text", doc(b'title: "C:\\\\ud800 \\ud83d\\ude80"\n'), (F("title", "C:\\ud800 \U0001f680"),)),
    ("xml-illegal-escaped", doc(b'title: "a\\0b\\x0bc\\x1fd\\ufffee"\n'), (F("title", "abcde"),)),
    ("c1-control-as-cp1252", doc(b'title: "wait\\x85 \\x93quoted\\x94"\n'), (F("title", "wait… “quoted”"),)),
    ("raw-control-bytes", doc(b"title: a\x0bb\x00c\x1f\n"), (P("warning", "removed 3"), F("title", "abc"))),
    ("entity-single", doc(b'title: "It&#8217;s &quot;here&quot;"\n'), (F("title", "It’s \"here\""),)),
    ("entity-double", doc(b'title: "we&amp;#39;re AT&amp;amp;T"\n'), (F("title", "we're AT&T"),)),
    ("entity-nbsp", doc(b'title: "a&nbsp;b &hellip;"\n'), (F("title", "a b …"),)),
    ("mojibake", doc("title: 'itâ€™s a dash â€” here'\n".encode()), (F("title", "it’s a dash — here"),)),
    ("mojibake-c1-tail", doc("title: 'say â€\x9dhi'\n".encode()), (F("title", "say ”hi"),)),
    ("tags-stripped", doc(b'title: "<b>Bold</b> <script>x</script>move"\n'), (F("title", "Bold x move"),)),
    ("escaped-tags", doc(b'title: "&lt;i&gt;Lean&lt;/i&gt; 3 &lt; 4"\n'), (F("title", "Lean 3 < 4"),)),
    ("title-newlines", doc(b'title: "one\\ntwo\\r\\n three"\n'), (F("title", "one two three"),)),
    ("title-block-scalar", doc(b"title: |\n  one\n  two\n"), (F("title", "one two"),)),
    ("title-overlong", doc(b"title: " + b"word " * 200 + b"\n"), (P("warning", "longer than 300", 4),)),
    ("title-only-tags", doc(b'title: "<br/>"\n'), (P("error", "'title' is empty"), NO_ARTICLE)),
    ("title-number", doc(b"title: 1984\n"), (F("title", "1984"),)),
    ("javascript-url", doc(b'webUrl: "javascript:alert(1)"\n'), (P("warning", "'webUrl' is not an absolute", 5), F("web_url", None))),
    ("data-url-link", doc(b'originalUrl: "data:text/html,<b>x</b>"\nwebUrl: https://e.com/w\n'), (P("warning", "'originalUrl'"), F("link", "https://e.com/w"))),
    ("relative-link-only", doc(b"originalUrl: /story/1\n"), (P("error", "no usable link"), NO_ARTICLE)),
    ("malformed-url", doc(b'webUrl: "http://[::1"\n'), (P("warning", "'webUrl'"), F("web_url", None))),
    ("url-userinfo", doc(b'webUrl: "https://user:pw@e.com/"\n'), (P("warning", "'webUrl'"),)),
    ("url-spaces-unicode", doc("webUrl: 'https://Bücher.Example/ä b'\n".encode()), (P("warning", "'webUrl'"),)),
    ("url-unicode-path", doc("webUrl: 'https://Bücher.Example/ä?q=ü'\n".encode()), (F("web_url", "https://xn--bcher-kva.example/%C3%A4?q=%C3%BC"),)),
    ("image-protocol-relative", doc(b"images:\n  - url: //cdn.e.com/a.jpg\n"), (F("lead_image.url", "https://cdn.e.com/a.jpg"),)),
    ("image-relative", doc(b"provider: {name: E, domain: www.e.com}\nimages: [{url: /i/a.png, width: 10, height: '20'}]\n"), (F("lead_image", ("https://e.com/i/a.png", 10, 20)),)),
    ("image-javascript", doc(b"images: [{url: 'javascript:x'}]\n"), (P("warning", "images[0].url"), F("images", ()))),
    ("image-bad-size", doc(b"images: [{url: 'https://e.com/a', width: -3, height: true}]\n"), (P("warning", "width"), F("lead_image", ("https://e.com/a", None, None)))),
    ("missing-title", without(b"title"), (P("error", "missing 'title'"), NO_ARTICLE)),
    ("missing-link", without(b"originalUrl"), (P("error", "'originalUrl' or 'webUrl'"), NO_ARTICLE)),
    ("missing-date", without(b"publishedDateTime"), (P("error", "missing 'publishedDateTime'"), NO_ARTICLE)),
    ("topics-int", doc(b"topics: 3\n"), (P("warning", "'topics' should be a list", 5), F("topics", ()))),
    ("topics-null-entry", doc(b"topics: [AI, null, ai, ' Space ']\n"), (P("warning", "holds null"), F("topics", ("AI", "Space")))),
    ("topics-string", doc(b"topics: Climate\n"), (F("topics", ("Climate",)), F("problems", ()))),
    ("images-string", doc(b"images: https://e.com/a.jpg\n"), (P("warning", "'images' should be a list"), F("images", ()))),
    ("quality-text", doc(b"quality: high\n"), (P("warning", "'quality' should be a number", 5), F("quality", None))),
    ("quality-huge", doc(b"quality: 1.0e+300\n"), (P("warning", "out of range"), F("quality", None))),
    ("provider-list", doc(b"provider: [a, b]\n"), (P("warning", "'provider' should be a mapping", 5), F("provider", None))),
    ("provider-bad-domain", doc(b"provider: {name: X, domain: 'a b'}\n"), (P("warning", "domain"), F("provider.name", "X"))),
    ("published-false", doc(b"published: false\n"), (F("published", False),)),
    ("published-text", doc(b"published: 'no'\n"), (F("published", False),)),
    ("published-odd", doc(b"published: [1]\n"), (P("warning", "not a list; taken as true"), F("published", True))),
    ("date-iso-offset", doc(b"publishedDateTime: 2024-03-14T10:00:00+02:00\n"), (F("published_at", utc(2024, 3, 14, 8)),)),
    ("date-iso-naive", doc(b"publishedDateTime: '2024-03-14 10:00'\n"), (F("published_at", utc(2024, 3, 14, 10)),)),
    ("date-rfc822", doc(b"publishedDateTime: 'Thu, 14 Mar 2024 09:30:00 EST'\n"), (F("published_at", utc(2024, 3, 14, 14, 30)),)),
    ("date-rfc822-gmt", doc(b"publishedDateTime: 'Thu, 14 Mar 2024 09:30:00 GMT'\n"), (F("published_at", utc(2024, 3, 14, 9, 30)),)),
    ("date-only", doc(b"publishedDateTime: 2024-03-14\n"), (F("published_at", utc(2024, 3, 14)),)),
    ("date-epoch", doc(b"publishedDateTime: 1710410400\n"), (F("published_at", utc(2024, 3, 14, 10)),)),
    # RFC 3339 §5.6 allows a leap second (time-second 60); the article was lost as "not a usable date"
    ("date-leap-second", doc(b"publishedDateTime: 2016-12-31T23:59:60Z\n"), (F("published_at", utc(2016, 12, 31, 23, 59, 59)), F("problems", ()))),
    ("date-leap-second-offset-rfc822", doc(b"publishedDateTime: 'Sat, 31 Dec 2016 18:59:60.5 EST'\n"), (F("published_at", datetime(2016, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)),)),
    ("date-second-60-not-ending-minute-59", doc(b"publishedDateTime: 2016-12-31T10:15:60Z\n"), (P("error", "not a usable date"), NO_ARTICLE)),
    ("date-garbage", doc(b"publishedDateTime: soon\n"), (P("error", "not a usable date: 'soon'", 4), NO_ARTICLE)),
    ("date-no-day", doc(b"publishedDateTime: March 2024\n"), (P("error", "not a usable date"),)),
    ("date-weekday", doc(b"publishedDateTime: Tuesday\n"), (P("error", "not a usable date"),)),
    ("date-unknown-zone", doc(b"publishedDateTime: 'Thu, 14 Mar 2024 09:30:00 BST'\n"), (P("error", "not a usable date"),)),
    ("date-year-0", doc(b"publishedDateTime: 0000-01-01\n"), (P("error", "not a usable date: '0000-01-01'"),)),
    ("date-feb-30", doc(b"publishedDateTime: 2024-02-30\n"), (P("error", "not a usable date"),)),
    ("date-year-99999", doc(b"publishedDateTime: 99999-01-01T00:00:00Z\n"), (P("error", "not a usable date"),)),
    ("date-bool", doc(b"publishedDateTime: true\n"), (P("error", "not a usable date: 'True'"),)),
    ("featured-javascript", doc(b"featuredContent: '<iframe src=\"javascript:alert(1)\"></iframe>'\n"), (P("warning", "featuredContent"), F("featured_embed_url", None))),
    ("featured-youtube", doc(b"featuredContent: '<iframe width=8 src=\"https://www.youtube.com/embed/x\">'\n"), (F("featured_embed_url", "https://www.youtube.com/embed/x"),)),
    ("related-partial", doc(b"related: [{title: R, webUrl: 'https://r.com/1'}, {title: V, webUrl: ''}, 7, {webUrl: 'https://r.com/2'}]\n"), (P("warning", "related[2]"), P("warning", "related[3]"), F("related.0.link", "https://r.com/1"))),
    # a related entry's bad link was reported as the article's own: "'webUrl' is not an absolute http(s) URL"
    ("related-bad-link-named-as-its-own", doc(b"related: [{title: R, webUrl: 'javascript:x', originalUrl: 5}]\n"), (P("warning", "'related[0].webUrl' is not an absolute http(s) URL: 'javascript:x'"), P("warning", "'related[0].originalUrl' should be a URL, not int"), F("web_url", None), F("link", "https://example.com/a"))),
    # a key given twice kept its last value without a word: a pasted second title replaced the first unseen
    ("key-given-twice", doc(b"title: First\nexcerpt: E\ntitle: Second\n"), (P("warning", "'title' is given more than once; the last value is kept", 6), F("title", "Second"), F("summary", "E"))),
    ("key-given-twice-nested", doc(b"provider: {name: A, domain: a.com, name: B}\n"), (P("warning", "'name' is given more than once; the last value is kept", 5), F("provider.name", "B"))),
    ("key-given-twice-under-a-tag", doc(b"extra: !!omap [a: 1]\ntopics: [x]\ntopics: [y]\n"), (P("warning", "'topics' is given more than once", 7), F("topics", ("y",)))),
    # each repeat named up to ten, then counted: a file of 16,000 repeats gave 16,000 warnings
    ("keys-given-twice-many-times", doc(b"k: 1\n" * 30), (P("warning", "'k' is given more than once", 7), P("warning", "19 more keys are given more than once"), F("title", "T"))),
    ("unknown-keys-ignored", doc(b"someFutureKey: {a: 1}\n"), (F("title", "T"), F("problems", ()))),
]


def _field(result, name: str) -> object:
    if name == "problems":
        return result.problems
    if name == "article":
        return result.article
    value: object = result.article
    assert value is not None, [str(p) for p in result.problems]
    for part in name.split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part)
    return astuple(value) if hasattr(value, "__dataclass_fields__") else value


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_file_gives_named_problem_or_clean_field(tmp_path: Path, raw: bytes, expected) -> None:
    path = tmp_path / "article.md"
    path.write_bytes(raw)
    result = read_article(path, Settings(), root=tmp_path)
    for problem in result.problems:
        assert problem.path == "article.md"
        assert PROBLEM_LINE.match(str(problem)), str(problem)
        assert "internal error" not in problem.message
    for want in expected:
        if isinstance(want, P):
            matches = [
                p for p in result.problems
                if p.severity.value == want.severity and want.text in p.message
                and (want.line is None or p.line == want.line)
            ]  # fmt: skip
            assert matches, f"no {want} in {[str(p) for p in result.problems]}"
        else:
            assert _field(result, want.name) == want.value
    if any(isinstance(w, P) and w.severity == "error" for w in expected):
        assert result.article is None


def test_hostile_table_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


def test_python_tags_never_construct_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    raw = doc(f"title: !!python/object/apply:os.mkdir ['{marker}']\n".encode())
    (tmp_path / "a.md").write_bytes(raw)
    result = read_article(tmp_path / "a.md", Settings())
    assert result.article is None and not marker.exists()


def test_alias_bomb_messages_stay_short(tmp_path: Path) -> None:
    """A billion-laughs value is never turned into text: messages stay one short line."""
    path = tmp_path / "a.md"
    keys = b"title: *h\npublishedDateTime: *h\npublished: *h\nprovider: {domain: *h}\n"
    path.write_bytes(doc(LAUGHS + keys))
    tracemalloc.start()
    result = read_article(path, Settings())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.article is None
    assert peak < 5_000_000
    assert all(len(str(p)) < 200 for p in result.problems)


def test_deep_block_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"---\n" + b"".join(b" " * i + b"k:\n" for i in range(1200)) + b"---\n")
    result = read_article(path, Settings())
    assert result.article is None
    assert [p.severity for p in result.problems] == [Severity.ERROR]


def test_file_size_limit_comes_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(doc(b"excerpt: " + b"x" * 2000 + b"\n"))
    small = read_article(path, Settings(max_file_bytes=1000))
    assert small.article is None and "larger than the limit of 1000 bytes" in small.problems[0].message
    assert read_article(path, Settings()).article is not None


def test_secured_blob_never_reaches_the_article(tmp_path: Path) -> None:
    secret = "c2VjcmV0LXRva2VuLXRoYXQtbXVzdC1uZXZlci1sZWFr"
    path = tmp_path / "a.md"
    path.write_bytes(doc(f"secured: '{secret};aGk='\nexcerpt: ok\n".encode()) + b"body\n")
    article = read_article(path, Settings()).article
    assert article is not None
    assert secret not in repr(article)
    assert all(secret not in str(value) for value in article.values())


def test_summary_is_bounded_by_settings(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(doc(b"excerpt: '" + b"many words " * 100 + b"'\n"))
    result = read_article(path, Settings(max_summary_chars=50))
    assert result.article is not None
    assert len(result.article.summary) <= 50 and result.article.summary.endswith("…")
    assert "longer than 50" in result.problems[0].message


def test_article_invariants_on_the_samples(settings: Settings) -> None:
    folder = read_folder(SAMPLES, settings)
    assert not [p for p in folder.problems if p.is_error]
    for article in folder.articles:
        _assert_clean(article)


def _assert_clean(article: Article) -> None:
    xml_illegal = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
    assert article.title and "\n" not in article.title
    assert article.published_at.tzinfo is UTC or article.published_at.utcoffset().total_seconds() == 0
    for url in (article.link, article.web_url, article.amp_url, article.featured_embed_url):
        assert url is None or re.match(r"https?://[a-z0-9.\-]+(:\d+)?/", url), url
    for image in article.images:
        assert re.match(r"https?://", image.url)
    for text in (article.title, article.summary, article.body, *article.topics):
        assert not xml_illegal.search(text)


# ----- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-14T10:00:00Z", utc(2024, 3, 14, 10)),
        ("2024-03-14T10:00:00.250-05:30", datetime(2024, 3, 14, 15, 30, 0, 250000, tzinfo=UTC)),
        ("2024-03-14T10:00:00.123456789Z", datetime(2024, 3, 14, 10, 0, 0, 123000, tzinfo=UTC)),  # to the millisecond
        (datetime(2024, 3, 14, 10, 0, 0, 999, tzinfo=UTC), utc(2024, 3, 14, 10)),
        ("March 14, 2024", utc(2024, 3, 14)),
        ("Thu, 14 Mar 2024 09:30:00 PDT", utc(2024, 3, 14, 16, 30)),
        (0, utc(1970, 1, 1)),
        (1e30, None),
        (float("nan"), None),
        ("12", None),
        ("10:30", None),
        ("x" * 65, None),
        ("1899-12-31", None),
        (None, None),
        ([2024], None),
    ],
)
def test_parse_date_is_total_and_never_reads_the_clock(value: object, expected: datetime | None) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (utc(2024, 3, 14, 10), "2024-03-14T10:00:00+00:00"),
        (datetime(2024, 3, 14, 10, 0, 0, 1000, tzinfo=UTC), "2024-03-14T10:00:00.001+00:00"),
        (datetime(2024, 3, 14, 10, 0, 0, 250999, tzinfo=UTC), "2024-03-14T10:00:00.250+00:00"),
        (datetime(2024, 3, 14, 10, 0, 0, 999, tzinfo=UTC), "2024-03-14T10:00:00+00:00"),
        (datetime.fromisoformat("2024-03-14T12:00:00.5+02:00"), "2024-03-14T10:00:00.500+00:00"),
    ],
)
def test_format_rfc3339_writes_three_fraction_digits_or_none(moment: datetime, text: str) -> None:
    assert format_rfc3339(moment) == Rfc3339Datetime.of(moment).isoformat() == text
    assert Rfc3339Datetime.of(moment) == moment


# ----- duplicates ------------------------------------------------------------------------------


def _story(link: str, date: str = "2024-03-14T10:00:00Z", published: str = "true") -> bytes:
    return f"---\ntitle: S\noriginalUrl: {link}\npublishedDateTime: {date}\npublished: {published}\n---\n".encode()


@pytest.mark.parametrize(
    "variant",
    [
        "http://example.com/news/story",
        "https://www.example.com/news/story/",
        "https://example.com/news/story/amp/",
        "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/story/amp/",
        "https://example.com/news/story?amp=1",
    ],
)
def test_url_variants_of_one_story_are_one_article(tmp_path: Path, variant: str) -> None:
    (tmp_path / "a.md").write_bytes(_story("https://example.com/news/story"))
    (tmp_path / "b.md").write_bytes(_story(variant))
    folder = read_folder(tmp_path, Settings())
    assert [a.source for a in folder.articles] == ["a.md"]
    assert make_uid(variant) == make_uid("https://example.com/news/story")
    [warning] = folder.problems
    assert warning.severity is Severity.WARNING and warning.path == "b.md"
    assert "duplicate of a.md" in warning.message and variant in warning.message


def test_duplicate_rule_published_then_newest_then_first_path(tmp_path: Path) -> None:
    link = "https://example.com/s"
    (tmp_path / "1-old.md").write_bytes(_story(link, "2024-01-01T00:00:00Z"))
    (tmp_path / "2-draft.md").write_bytes(_story(link, "2024-12-01T00:00:00Z", "false"))
    (tmp_path / "3-new.md").write_bytes(_story(link, "2024-06-01T00:00:00Z"))
    (tmp_path / "4-new-too.md").write_bytes(_story(link, "2024-06-01T00:00:00Z"))
    folder = read_folder(tmp_path, Settings())
    assert [a.source for a in folder.articles] == ["3-new.md"]
    assert [(p.path, "duplicate of 3-new.md" in p.message) for p in folder.problems] == [
        ("1-old.md", True),
        ("2-draft.md", True),
        ("4-new-too.md", True),
    ]


def test_duplicate_outcome_does_not_depend_on_read_order(tmp_path: Path) -> None:
    for name, date in [("a.md", "2024-01-01"), ("b.md", "2024-03-01"), ("c.md", "2024-02-01")]:
        (tmp_path / name).write_bytes(_story("https://example.com/s", date))
    results = [read_article(p, Settings(), root=tmp_path) for p in find_article_files(tmp_path)]
    forward, backward = collect(results), collect(results[::-1])
    assert forward.articles == backward.articles
    assert sorted(map(str, forward.problems)) == sorted(map(str, backward.problems))
    assert all("duplicate of b.md" in p.message for p in forward.problems)


# ----- folder walking --------------------------------------------------------------------------


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_story(f"https://example.com/{name}"))


@contextmanager
def deep_folder(root: Path, depth: int) -> Iterator[Path]:
    """``root/d/d/…/d``, ``depth`` levels, removed again bottom up (shutil.rmtree recurses: RecursionError)."""
    deep = root
    for _ in range(depth):  # one level at a time: pathlib's mkdir(parents=True) recurses too
        deep = deep / "d"
        deep.mkdir(exist_ok=True)
    try:
        yield deep
    finally:
        subprocess.run(["find", str(root / "d"), "-depth", "-delete"], check=True)


def test_a_fifo_swapped_in_after_the_walk_is_a_problem_and_never_blocks(tmp_path: Path) -> None:
    """Issue 16: the walk saw a regular file; a rename put a FIFO there before the open."""
    fifo = tmp_path / "a.md"
    os.mkfifo(fifo)
    results = []
    reading = threading.Thread(target=lambda: results.append(read_article(fifo, Settings(), root=tmp_path)))
    reading.start()
    reading.join(30)  # a blocking open() would never return: no writer ever opens the FIFO
    assert not reading.is_alive(), "read_article blocked on a FIFO"
    [result] = results
    assert result.article is None and "not a regular file" in result.problems[0].message


def test_a_symlink_swapped_in_after_the_walk_is_read_only_inside_the_folder(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    _tree(outside, ["secret.md"])
    _tree(root, ["in.md"])
    (root / "a.md").symlink_to(outside / "secret.md")
    refused = read_article(root / "a.md", Settings(), root=root)
    assert refused.article is None and "symlink out of the articles folder" in refused.problems[0].message
    (root / "b.md").symlink_to(root / "in.md")
    assert read_article(root / "b.md", Settings(), root=root).article is not None


def test_missing_folder_is_an_error_problem(tmp_path: Path) -> None:
    folder = read_folder(tmp_path / "nope", Settings())
    assert folder.articles == () and folder.files == 0
    assert folder.problems[0].is_error


# ----- properties ------------------------------------------------------------------------------

KEYS = ["title", "excerpt", "publishedDateTime", "originalUrl", "webUrl", "ampWebUrl", "type",
        "quality", "heat", "published", "provider", "topics", "images", "related", "featuredContent",
        "secured", "category"]  # fmt: skip
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
    | st.sampled_from(["https://e.com/a", "//e.com/i.jpg", "/rel", "javascript:x", "2024-03-14",
                       "&amp;#39;", "â€™", "<b>x</b>", "\x0b", "\ufffe"])
)  # fmt: skip
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FRONT = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), VALUES, max_size=10)
FAST = hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(raw=st.binary(max_size=600) | st.builds(lambda b: b"---\n" + b, st.binary(max_size=600)))
def test_read_article_never_raises_on_arbitrary_bytes(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(raw)
    result = read_article(path, Settings(), root=tmp_path)
    assert all(PROBLEM_LINE.match(str(p)) for p in result.problems)
    assert not any("internal error" in p.message for p in result.problems)
    if result.article is not None:
        _assert_clean(result.article)


@FAST
@given(front=FRONT, complete=st.booleans())
def test_read_article_never_raises_on_front_matter_mappings(tmp_path: Path, front: dict, complete: bool) -> None:
    if complete:
        front = {"title": "T", "originalUrl": "https://e.com/", "publishedDateTime": "2024-01-01", **front}
    path = tmp_path / "a.md"
    path.write_text("---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n", encoding="utf-8")
    result = read_article(path, Settings(), root=tmp_path)
    assert all(PROBLEM_LINE.match(str(p)) for p in result.problems)
    assert not any("internal error" in p.message for p in result.problems)
    assert (result.article is None) == any(p.is_error for p in result.problems)
    if result.article is not None:
        _assert_clean(result.article)


# ----- bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "readable"),
    [
        (b"".join(b"key%d: value %d\n" % (i, i) for i in range(60_000))[:880_000].rsplit(b"\n", 1)[0] + b"\n", False),
        (b"flow: [" + b"1," * 440_000 + b"]\n", False),
        (b"excerpt: '" + b"very long text " * 59_000 + b"'\n", True),
        (b"title: '" + b"\xc3\xa2\xe2\x82\xac\xe2\x84\xa2 " * 100_000 + b"'\n", True),
        (b"secured: '" + b"QUJD" * 220_000 + b"'\n", True),
    ],
    ids=["many-keys", "long-flow-list", "huge-excerpt", "huge-mojibake-title", "huge-secured"],
)
def test_big_file_is_read_within_a_memory_bound(tmp_path: Path, payload: bytes, readable: bool) -> None:
    """Huge strings are cut early; a front matter of many tiny values is refused, not composed."""
    path = tmp_path / "big.md"
    path.write_bytes(doc(payload) + b"body " * 1000)
    size = path.stat().st_size
    assert 800_000 < size < 1_000_000
    tracemalloc.start()
    result = read_article(path, Settings())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * size
    if readable:
        assert result.article is not None, [str(p) for p in result.problems]
        assert len(result.article.title) <= 300 and len(result.article.summary) <= 2000
    else:
        assert result.article is None
        assert "more than 20000 values" in result.problems[0].message


# ----- the real corpus -------------------------------------------------------------------------


def test_seed_reads_without_problems() -> None:
    seed = require_shared(SEED)
    folder = read_folder(seed, Settings())
    assert folder.problems == () and len(folder.articles) == 1
    article = folder.articles[0]
    assert article.title == "European Parliament calls for a ban on facial recognition"
    assert article.published is False and article.topics == ("Computer Vision", "AI")
    assert len(article.related) == 3
    assert "surveillance—a development" in article.related[2].summary  # mojibake repaired


@pytest.fixture(scope="module")
def real_folder():
    return read_folder(require_shared(REAL_CORPUS), Settings())


def test_real_corpus_counts(real_folder) -> None:
    problems = real_folder.problems
    assert real_folder.files == 1956
    assert len(real_folder.articles) == 1751
    assert [p for p in problems if p.is_error] == []
    kinds: dict[str, int] = {}
    for problem in problems:
        kind = "duplicate" if problem.message.startswith("duplicate of") else problem.message
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"duplicate": 205, "'topics' holds null, not a name; that entry ignored": 4}
    assert sum(not a.published for a in real_folder.articles) == 738
    assert sum(a.kind == "video" for a in real_folder.articles) == 131
    assert len({a.uid for a in real_folder.articles}) == 1751
    for article in real_folder.articles:
        _assert_clean(article)


def _real(real_folder, source: str) -> Article:
    return next(a for a in real_folder.articles if a.source == source)


def test_real_corpus_field_values(real_folder) -> None:
    video = _real(real_folder, "SmartableAI-diablo4/2023-01-02-diablo-4-rogue-announcement-trailer-reaction-the-rogue-is-back.md")
    assert video.title == "Diablo 4 Rogue Announcement Trailer Reaction | THE ROGUE IS BACK!"
    assert video.link == "https://youtube.com/watch?v=lJJ62w01bXM" and video.web_url is None
    assert video.published_at == datetime(2023, 1, 2, 16, 0, 30, tzinfo=UTC)
    assert (video.provider.name, video.provider.domain) == ("Don Mowatt", "youtube.com")
    assert video.featured_embed_url == "https://www.youtube.com/embed/lJJ62w01bXM"
    assert video.kind == "video" and video.topics == ("Diablo 4",)
    assert "Ash & Don's reaction" in video.summary

    crn = _real(real_folder, "everyday-cc-powerapps/2021-08-27-microsoft-makes-power-apps-changes-following-asensitive-dataa-exposure-upguard.md")
    assert crn.title == "Microsoft Makes Power Apps Changes Following ‘Sensitive Data’ Exposure: UpGuard"
    assert crn.link == "https://www.crn.com/news/security/microsoft-makes-power-apps-changes-following-sensitive-data-exposure-upguard"
    assert crn.published is False and crn.topics == ("Power Apps",)
    assert (crn.lead_image.width, crn.lead_image.height) == (1500, 1124)

    msn = _real(real_folder, "SmartableAI-diablo4/2023-03-25-best-diablo-4-settings-how-to-stop-diablo-4-killing-gpu.md")
    assert msn.title == "Best Diablo 4 settings – How to stop Diablo 4 killing GPU"
    assert msn.provider.name == "MSN" and msn.published_at == utc(2023, 3, 25, 15, 23)
    assert msn.lead_image.url.startswith("https://img-s-msn-com.akamaized.net/tenant/amp/entityid/AA18pEAG.img?")


def test_real_corpus_ampersand_entities_in_urls_are_read_as_ampersands(real_folder) -> None:
    """WordPress writes "&" in URLs as "&#038;" (issue 15): read as "&", never as a fragment."""
    bgr = _real(real_folder, "SmartableAI-diablo4/2020-11-05-blizzard-says-its-diablo-4-announcement-wasnt-delayed.md")
    assert bgr.lead_image.url == "https://bgr.com/wp-content/uploads/2018/11/diablo-immortal.jpg?quality=70&strip=all"
    urls = [image.url for article in real_folder.articles for image in article.images]
    urls += [related.image.url for article in real_folder.articles for related in article.related if related.image]
    assert not [url for url in urls if "#038" in url or "&amp;" in url or "&#38;" in url]


def test_real_three_way_duplicate_names_the_kept_copy(real_folder) -> None:
    kept = "everyday-cc-powerapps/2021-06-10-microsoft-power-platform-stories.md"
    dropped = [p.path for p in real_folder.problems if p.message.startswith(f"duplicate of {kept} ")]
    assert dropped == [
        "SmartableAI-microsoft-power-apps/2020-12-21-power-platform-stories.md",
        "everyday-cc-powerapps/2020-12-21-power-platform-stories.md",
    ]


def test_problem_str_format() -> None:
    assert str(Problem("a.md", Severity.ERROR, "bad", 3)) == "a.md:3: error: bad"
    assert str(Problem("a.md", Severity.WARNING, "meh")) == "a.md: warning: meh"


# the lines a closing marker could be confused with, joined by line feeds (the reader's only line break)
_LINES = st.sampled_from(["---", "...", "--- ", "...\t", "---\t \t", "-- ", "--", "----", "..", "....", " ---",
                          "--- x", "...x", "-", ".", "", "a", "a---", "\r", "---\r", "\t---"])  # fmt: skip
# a line built of a lead, a run of marks and a tail: every shape _closing_line's regex could take for a closing
# line or miss (spaces Python strips but YAML's rule does not, other line breaks, wide characters, values with dashes)
_LEADS = st.sampled_from(["", "", " ", "\t", "a", "é", "key: ", "\U0001f600"])
_MARKS = st.sampled_from(["---", "...", "---", "...", "-", "--", "----", ".", "..", "....", "-.-", ".--", ""])
_TAILS = st.sampled_from(["", "", " ", "\t", " \t ", "\t\t", "x", " x", "-", ".", "\x0b", "\x0c", "\x1c", "\x85",
                          "\xa0", "\u2028", "\u3000", "\r", "é", "\U0001f600", " ---", "---"])  # fmt: skip
_BUILT_LINES = st.builds(lambda lead, mark, tail: lead + mark + tail, _LEADS, _MARKS, _TAILS)


def _line_starts(text: str) -> list[int]:
    return [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]


@hsettings(max_examples=500, deadline=None)
@given(lines=st.lists(_LINES, max_size=8), start_line=st.integers(0, 8))
def test_the_closing_line_is_found_where_the_multiline_regex_finds_it(lines: list[str], start_line: int) -> None:
    text = "\n".join(lines)
    starts = _line_starts(text)  # every line's start
    start = starts[min(start_line, len(starts) - 1)]
    match = file_text._CLOSING_LINE.search(text, start)
    assert file_text._closing_line(text, start) == (None if match is None else match.span()), (text, start)


@hsettings(max_examples=2000, deadline=None)
@given(
    lines=st.lists(_BUILT_LINES | _LINES, max_size=12),
    breaks=st.lists(st.sampled_from(["\n", "\n", "\n", "\n\n", "\n\n\n"]), min_size=12, max_size=12),
    end=st.sampled_from(["", "\n", "\n\n"]),
    start_line=st.integers(0, 14),
)
@example(lines=["---", "a: 1", "---"], breaks=["\n"] * 12, end="", start_line=1)  # closed at the end, no line feed
@example(lines=["---", "a: 1", "--- \t "], breaks=["\n"] * 12, end="", start_line=1)
@example(lines=["---", "a: ---", "b: -1", "...x", "...\t"], breaks=["\n"] * 12, end="\n", start_line=1)
def test_the_closing_line_is_where_the_regex_finds_it_among_lines_of_every_shape(
    lines: list[str], breaks: list[str], end: str, start_line: int
) -> None:
    text = "".join(line + brk for line, brk in zip(lines, breaks, strict=False))
    text = (text.rstrip("\n") + end) if lines else end
    starts = _line_starts(text)
    start = starts[min(start_line, len(starts) - 1)]
    match = file_text._CLOSING_LINE.search(text, start)
    assert file_text._closing_line(text, start) == (None if match is None else match.span()), (text, start)


def test_the_closing_line_is_where_the_regex_finds_it_in_the_real_corpus() -> None:
    for path in find_article_files(require_shared(REAL_CORPUS)):
        text, _ = file_text.decode(path.read_bytes())
        for start in _line_starts(text)[:8]:
            match = file_text._CLOSING_LINE.search(text, start)
            assert file_text._closing_line(text, start) == (None if match is None else match.span()), (path, start)


_YAML_EDGES = [*"\x00\x08\t\n\x0b\r\x1f \x7e\x7f\x80\x85\x9f\xa0\xad", "\u2028", "\ud800", "\ue000", "\ufeff", "\ufffd",
               "\ufffe", "\uffff", "\U00010000", "\U0001f600", "\U0010ffff", "a", "é", "’",
               # characters whose UTF-8 bytes hold those yaml_printable looks for (\xc2, \xef, \xbf, \xbe) or
               # are near them: Â, ï, U+00BF, U+FFBE, U+FFC2, U+FFBF, U+0100, U+D7FF, U+DFFF, U+1FFFE, U+10FFFE
               "\xc2", "\xef", "\xbf", "\uffbe", "\uffc2", "\uffbf", "\u0100", "\ud7ff", "\udfff", "\U0001fffe",
               "\U0010fffe"]  # fmt: skip


@hsettings(max_examples=3000, deadline=None)
@given(st.text(st.sampled_from(_YAML_EDGES), max_size=20))
def test_the_quick_yaml_check_says_what_the_regex_says(text: str) -> None:
    assert file_text.yaml_printable(text) == (file_text._NOT_YAML.search(text) is None), repr(text)


def test_the_quick_yaml_check_says_what_the_regex_says_for_every_character() -> None:
    for code in range(0x110000):
        character = chr(code)
        for text in (f"a\t{character}\n", f"’{character}\t"):  # an ASCII one and one beyond
            assert file_text.yaml_printable(text) == (file_text._NOT_YAML.search(text) is None), (hex(code), text)


_PARTS = st.sampled_from(["a", "b", "ab", "..", ".", "é", "x y", "-", "a.md", "\udcff"])  # a name not UTF-8


@hsettings(max_examples=300, deadline=None)
@given(
    lead=st.sampled_from(["", "/", "//", "./"]),
    path_lead=st.sampled_from(["", "/", "//", "./"]),
    root_parts=st.lists(_PARTS, max_size=3),
    path_parts=st.lists(_PARTS, max_size=4),
    under=st.booleans(),
)
@example(lead="/", path_lead="//", root_parts=[], path_parts=["tmp", "a.md"], under=False)  # "//": a root apart
def test_the_shown_name_is_what_pathlib_gives(
    lead: str, path_lead: str, root_parts: list[str], path_parts: list[str], under: bool
) -> None:
    root = Path(lead + "/".join(root_parts)) if lead or root_parts else Path()
    path = root.joinpath(*path_parts) if under else Path(path_lead + "/".join(path_parts))
    try:
        expected = path.relative_to(root).as_posix()
    except ValueError:
        with pytest.raises(ValueError):
            reader._relative_name(path, root)
        return
    assert reader._relative_name(path, root) == expected, (path, root)


_NAME_PARTS = ["a.md", "b c.md", "\\x.md", "é.md", "...md", "a...md", "a.", "-x", "\udcff.md", "tab\there.md", "line\nfeed.md"]


def test_a_walked_name_reads_as_its_path_under_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside"
    _tree(outside, ["secret.md"])
    for relative_root in ("root", "with space/root", "é/../root2"):
        root = tmp_path / relative_root
        root.mkdir(parents=True)
        for folder in ("", "sub/", "sub/deeper/", "\udcfe/"):
            for index, part in enumerate(_NAME_PARTS):
                path = root / f"{folder}{part}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"---\n" + BASE + b"---\n" if index % 3 else b"---\ntitle: [\n---\n")
        (root / "in.md").symlink_to(root / "a.md")
        (root / "out.md").symlink_to(outside / "secret.md")
        (root / "fifo.md").write_bytes(b"")
        walked = [name for name, _ in walk_article_files(root)]
        assert len(walked) == 4 * (len(_NAME_PARTS) - 1) + 2  # "...md" is a dotfile, out.md leads out
        (root / "fifo.md").unlink()
        os.mkfifo(root / "fifo.md")  # swapped in after the walk
        for shown_root in (root, Path(os.path.relpath(root))):  # absolute and relative to the current folder
            for name in [*walked, "gone.md", "out.md"]:  # gone and swapped in since the walk
                expected = read_article(shown_root / name, Settings(), root=shown_root)
                assert reader.read_named(shown_root, name, Settings()) == expected, (shown_root, name)
    monkeypatch.chdir(tmp_path)
    root = Path("root")
    for name in [name for name, _ in walk_article_files(root)]:
        assert reader.read_named(root, name, Settings()) == read_article(root / name, Settings(), root=root), name


def test_a_short_read_is_read_on_to_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.md").write_bytes(BASE_FILE := b"---\n" + BASE + b"---\nbody\n")
    whole = read_article(tmp_path / "a.md", Settings(), root=tmp_path)
    real_read = os.read
    monkeypatch.setattr(reader.os, "read", lambda fd, n: real_read(fd, min(n, 7)))  # a byte count no read fills
    assert reader._read_bytes(tmp_path / "a.md", tmp_path, 10_000) == BASE_FILE
    assert read_article(tmp_path / "a.md", Settings(), root=tmp_path) == whole


_ANY_CHARACTER = st.characters(exclude_categories=())  # lone surrogates too: uuid5 and the copy refuse them alike


@hsettings(max_examples=300, deadline=None)
@given(
    st.text(_ANY_CHARACTER, max_size=40)
    | st.builds(lambda t: f"https://www.x.com/{t}/amp/", st.text(_ANY_CHARACTER, max_size=20))
)
def test_make_uid_is_uuid5_of_the_link_key(link: str) -> None:
    try:
        expected = f"urn:uuid:{uuid.uuid5(article_fields._UID_NAMESPACE, link_key(link))}"
    except UnicodeEncodeError:  # a lone surrogate: both refuse it alike
        with pytest.raises(UnicodeEncodeError):
            make_uid(link)
        return
    assert make_uid(link) == expected
