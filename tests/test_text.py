"""Text and URL cleaning: total functions, XML-safe output, stable story identity."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.text import clean_domain, clean_text, clean_url, link_key, repair_mojibake, shorten

XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("  many \n\t spaces  ", "many spaces"),
        ("it&#8217;s", "it’s"),
        ("we&amp;#39;re", "we're"),
        ("&amp;amp;amp;lt;", "&lt;"),  # three rounds at most: never unbounded
        ("AT&T & co", "AT&T & co"),
        ("a&nbsp;b", "a b"),
        ("itâ€™s", "it’s"),
        ("<p>Hello <em>there</em></p>", "Hello there"),
        ("3 < 4 and 5 > 2", "3 < 4 and 5 > 2"),
        ("a\x00b\x0bc\x1fd\ufffee\uffff", "abcde"),
        ("e\u0301", "é"),  # NFC
        ("“curly” ﬁ ｆｕｌｌ", "“curly” ﬁ ｆｕｌｌ"),  # quotes, ligatures and widths kept as written
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw, 300) == (expected, False)


def test_clean_text_keeps_lines_when_asked() -> None:
    assert clean_text("one  two\n\n three ", 100, single_line=False) == ("one two\n\nthree", False)


def test_clean_text_cuts_at_a_word_with_an_ellipsis() -> None:
    text, cut = clean_text("alpha beta gamma delta epsilon", 20)
    assert cut and text == "alpha beta gamma…" and len(text) <= 20
    assert shorten("x" * 50, 20) == "x" * 19 + "…"


def test_repair_mojibake_leaves_ascii_and_good_text_alone() -> None:
    assert repair_mojibake("plain ascii") == "plain ascii"
    assert repair_mojibake("naïve café — “ok”") == "naïve café — “ok”"
    assert repair_mojibake("surveillanceâ€”a") == "surveillance—a"


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        ("https://Example.COM/a b", None, None),
        ("https://Example.COM/path?q=1#frag", None, "https://example.com/path?q=1"),
        ("HTTP://e.com", None, "http://e.com/"),
        ("//cdn.e.com/i.jpg", None, "https://cdn.e.com/i.jpg"),
        ("/i.jpg", "e.com", "https://e.com/i.jpg"),
        ("/i.jpg", None, None),
        ("i.jpg", "e.com", None),
        ("javascript:alert(1)", "e.com", None),
        ("data:image/png;base64,AAAA", None, None),
        ("ftp://e.com/f", None, None),
        ("https://user:pw@e.com/", None, None),
        ("https://e.com:99999/", None, None),
        ("https://e.com:8080/x", None, "https://e.com:8080/x"),
        ('https://bücher.example/ä"<>', None, "https://xn--bcher-kva.example/%C3%A4%22%3C%3E"),
        ("https://e_x.com/", None, None),
        ("https://e.com/" + "a" * 2000, None, None),
        ("", None, None),
        ("https://e.com/\x0b", None, "https://e.com/"),
    ],
)
def test_clean_url(raw: str, base: str | None, expected: str | None) -> None:
    assert clean_url(raw, base_host=base) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Politico.eu/x/", "politico.eu"),
        ("politico.eu", "politico.eu"),
        ("http://e.com:80/path", "e.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a b", None),
        ("", None),
        ("-bad-.com", None),
    ],
)
def test_clean_domain(raw: str, expected: str | None) -> None:
    assert clean_domain(raw) == expected


@pytest.mark.parametrize(
    "variant",
    [
        "http://x.com/a",
        "https://www.x.com/a/",
        "https://x.com/a/amp/",
        "https://x.com/a/amp",
        "https://x.com/amp/a",
        "https://www-x-com.cdn.ampproject.org/c/s/www.x.com/a/amp/",
        "https://x.com/a?amp=1",
        "https://x.com/a?outputType=amp",
    ],
)
def test_link_key_folds_url_variants(variant: str) -> None:
    assert link_key(variant) == "x.com/a"


def test_link_key_keeps_what_tells_stories_apart() -> None:
    assert link_key("https://x.com/a?id=1") != link_key("https://x.com/a?id=2")
    assert link_key("https://x.com/A") != link_key("https://x.com/a")
    assert link_key("https://y.com/a") != link_key("https://x.com/a")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=20, max_value=400))
def test_clean_text_is_total_and_xml_safe(raw: str, limit: int) -> None:
    text, cut = clean_text(raw, limit)
    assert len(text) <= limit
    assert text.endswith("…") if cut else len(text) <= limit
    assert "\n" not in text and text == text.strip()
    assert not XML_UNSAFE.search(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100) | st.builds(lambda s: "https://e.com/" + s, st.text(max_size=60)))
def test_clean_url_is_total_and_absolute(raw: str) -> None:
    url = clean_url(raw, base_host="e.com")
    assert url is None or (url.startswith(("http://", "https://")) and url.isascii())
    assert url is None or not any(c in url for c in ' "<>\\\n')
