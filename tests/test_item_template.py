"""Spliced items (feeds.render.item_template) against feedgen and lxml building each item themselves.

The fast path is proven, not trusted: generated articles with hostile text, odd URLs, empty and
missing fields, many topics and images, for RSS (with and without a source URL) and Atom (with
and without its own updated), give the reference's bytes, or bail exactly where the reference
refuses the article. The escapes are held equal to lxml's on every character XML allows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.model import Article, Image, Provider, Related
from feeds.render import item_template
from feeds.render.atom import ATOM_WRITER
from feeds.render.item_template import escape_attribute, escape_text
from feeds.render.rss import RSS_WRITER, RssWriter
from feeds.render.xmlfeed import reference_item

from .test_render import HOSTILE, make_article

# XML 1.0 §2.2 Char: what lxml accepts in text and attributes
XML_RANGES = ((0x9, 0xA), (0xD, 0xD), (0x20, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))


def is_xml_char(character: str) -> bool:
    return any(low <= ord(character) <= high for low, high in XML_RANGES)


def lxml_writes(text: str) -> tuple[bytes, bytes]:
    """How lxml writes ``text`` as an element's text and as an attribute's value, in a UTF-8 document."""
    element = etree.Element("x", a=text)
    element.text = text
    written = etree.tostring(element, encoding="UTF-8")
    attribute, _, rest = written.removeprefix(b'<x a="').partition(b'">')
    return rest.removesuffix(b"</x>"), attribute


def test_escapes_equal_lxml_on_every_character_xml_allows() -> None:
    every = "".join(chr(c) for low, high in XML_RANGES for c in range(low, high + 1))
    as_text, as_attribute = lxml_writes(every)
    assert as_text == escape_text(every).encode()
    assert as_attribute == escape_attribute(every).encode()


@pytest.mark.parametrize("character", ["\x00", "\x08", "\x0b", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"])
def test_lxml_refuses_what_the_fast_path_leaves_to_it(character: str) -> None:
    """Outside XML's characters lxml raises: the fast path bails and the reference raises its own error."""
    with pytest.raises((ValueError, UnicodeEncodeError)):
        lxml_writes(f"a{character}b")
    article = make_article(title=f"a{character}b")
    assert RSS_WRITER.splicer.item(article, None, article.published_at) is None


def test_every_character_the_unwritable_search_finds_starts_with_a_byte_its_prefilter_looks_for() -> None:
    """The splicer looks for the bytes \\xed and \\xef before it runs _UNWRITABLE: exact only while each
    character that search finds (lone surrogates, U+FFFE, U+FFFF, as UTF-8) starts with one of them."""
    found = 0
    for code in range(0x110000):
        encoded = chr(code).encode("utf-8", "surrogatepass")
        match = item_template._UNWRITABLE.search(encoded)
        if match is not None:
            assert encoded[match.start()] in b"\xed\xef", hex(code)
            found += 1
    assert found == 2048 + 2  # the surrogates, U+FFFE and U+FFFF


NASTY = "&<>\"'\t\n\r]]> \u00a0é\u0301\u2028\u200b\ufeff\x7f\x85\x9f\ufdd0\ue000\ue001 𝄞\U0001fffe%s{}\\"
_nasty = st.sampled_from(NASTY)
# any code point now and then, surrogates too (lone or paired, as Python's str holds them): the items are
# spliced as UTF-8 bytes with surrogatepass, so a surrogate must never come out as bytes feedgen would not write
texts = st.text(alphabet=st.one_of(_nasty, _nasty, _nasty, st.characters(codec="utf-8"), st.characters()), max_size=12)
texts |= st.sampled_from([*HOSTILE, "", " ", "0", "False", "None", "\r", "\r\n"])
# a character lxml refuses: the fast path must bail exactly where the reference raises
refused = st.sampled_from(
    ["\x00", "\x01", "\x0b", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d\ude00", "\ufffe", "\uffff"]
)
urls = st.one_of(
    st.sampled_from(
        [
            "https://img.example.com/a.jpg",
            "https://img.example.com/b.PNG?x=1&y=<2>",
            "http://x/y.webp#frag",
            "https://cdn.example/p.img?f=jpg&w=3",
            "https://cdn.example/p?fm=png",
            "https://e.example/noextension",
            "https://e.example/ü/ä.gif?q=\"'\r",
            "https://e.example/a%20b.avif",
            "",
        ]
    ),  # fmt: skip
    st.builds(lambda tail: "https://e.example/" + tail, texts),
)
sizes = st.one_of(st.none(), st.integers(-3, 5000))
moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-11))]),
)  # fmt: skip


def articles(text: st.SearchStrategy[str]) -> st.SearchStrategy[Article]:
    """Articles whose every text comes from ``text``, with every optional part present or not."""
    images = st.builds(Image, st.one_of(urls, text), sizes, sizes)
    providers = st.one_of(st.none(), st.builds(Provider, text, st.one_of(st.none(), st.just(""), text)))
    related = st.builds(Related, text, urls, text, st.one_of(st.none(), moments), providers, st.none() | images)
    return st.builds(
        Article,
        source=st.just("a.md"),
        uid=st.one_of(st.just("urn:uuid:0f3c"), text),
        title=text,
        link=st.one_of(urls, text),
        published_at=moments,
        summary=text,
        provider=providers,
        topics=st.lists(text, max_size=9).map(tuple),
        images=st.lists(images, max_size=6).map(tuple),
        related=st.lists(related, max_size=2).map(tuple),
        featured_embed_url=st.one_of(st.none(), urls),
    )


def reference_or_error(writer, article, source_url, updated) -> bytes | None:
    try:
        return reference_item(writer, article, source_url, updated)
    except (ValueError, UnicodeEncodeError):  # lxml's refusal of a character, feedgen's of an empty field
        return None


def assert_spliced_is_the_reference(writer, article: Article, source_url: str | None, updated: datetime) -> None:
    reference = reference_or_error(writer, article, source_url, updated)
    spliced = writer.splicer.item(article, source_url, updated)
    if reference is None:
        assert spliced is None, "the fast path wrote an item feedgen refuses"
    else:
        assert spliced is not None, "the fast path bailed on an item feedgen writes"
        assert spliced == reference


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    article=articles(texts),
    source_url=st.one_of(st.none(), st.just(""), urls, texts),
    updated=st.one_of(st.none(), moments),
)
def test_a_spliced_item_is_feedgens_own_bytes(article: Article, source_url: str | None, updated) -> None:
    assert_spliced_is_the_reference(RSS_WRITER, article, source_url, article.published_at)
    assert_spliced_is_the_reference(ATOM_WRITER, article, None, updated or article.published_at)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    article=articles(st.one_of(texts, st.builds(lambda a, r, b: a + r + b, texts, refused, texts))),
    source_url=st.none() | texts,
)
def test_the_fast_path_bails_exactly_where_feedgen_refuses(article: Article, source_url: str | None) -> None:
    """Characters lxml refuses, now and then in any text: no bytes where the reference raises."""
    assert_spliced_is_the_reference(RSS_WRITER, article, source_url, article.published_at)
    assert_spliced_is_the_reference(ATOM_WRITER, article, None, article.published_at)


def test_hostile_articles_are_spliced_and_equal_the_reference() -> None:
    """The hand-made cases: every hostile text in every field, many topics and images, sizes missing."""
    item_template._template.cache_clear()
    for n, text in enumerate(HOSTILE):
        article = make_article(
            n, title=text, summary=text + "\r\n\ttab", topics=tuple(HOSTILE), provider=Provider(text, "p.example"),
            images=(Image(f"https://i.example/{n}.jpg?a=1&b=\"2\"", None, 5), Image("https://i.example/x", 0, None)),
        )  # fmt: skip
        for source_url in (None, f"https://feeds.example.org/providers/{n}.rss?a&b"):
            assert_spliced_is_the_reference(RSS_WRITER, article, source_url, article.published_at)
        for updated in (article.published_at, article.published_at + timedelta(milliseconds=n)):
            assert_spliced_is_the_reference(ATOM_WRITER, article, None, updated)
    assert item_template._template.cache_info().currsize > 0


class _ChangingWriter(RssWriter):
    """lxml writing letters of a value in another case: a change no sentinel survives."""

    def placed(self, entry) -> bytes:
        return super().placed(entry).replace(b"Z", b"z")


class _WrongDatesWriter(RssWriter):
    """Dates said to be written as feedgen's Atom writes them, though this is RSS."""

    @staticmethod
    def date_text(moment: datetime) -> str:
        return moment.isoformat()


@pytest.mark.parametrize("writer", [_ChangingWriter(), _WrongDatesWriter()], ids=["changed value", "wrong date text"])
def test_a_template_whose_sentinels_do_not_come_back_whole_is_refused(writer) -> None:
    article = make_article()
    assert writer.splicer.item(article, None, article.published_at) is None
    assert RSS_WRITER.splicer.item(article, None, article.published_at) == reference_item(
        RSS_WRITER, article, None, article.published_at
    )


def test_threads_splicing_at_once_each_get_their_own_items() -> None:
    """A recorder is reused item after item, one per thread: the live app renders on several."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [
        (writer, make_article(n, title=f"{HOSTILE[n % len(HOSTILE)]} {n}", topics=("AI",) * (n % 4)))
        for n in range(60)
        for writer in (RSS_WRITER, ATOM_WRITER)
    ]
    expected = [reference_item(writer, article, None, article.published_at) for writer, article in jobs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            spliced = list(pool.map(lambda job: job[0].splicer.item(job[1], None, job[1].published_at), jobs))
            assert spliced == expected


class _HiddenValueWriter(RssWriter):
    """An author without an e-mail, which feedgen's RSS leaves out: a value its item never shows."""

    def __init__(self, hidden: str) -> None:
        super().__init__()
        self.hidden = hidden

    def fill_entry(self, entry, article: Article, source_url: str | None, updated: datetime) -> None:
        super().fill_entry(entry, article, source_url, updated)
        entry.author({"name": self.hidden})


@pytest.mark.parametrize("hidden", ["a\x01b", "\x1f", "a\ud800", "\ufffe", "\uffff", "plain"])
def test_a_character_lxml_refuses_in_a_value_the_item_never_shows_is_spliced_all_the_same(hidden: str) -> None:
    """Only the item is searched for such characters: a value it never shows is never looked at."""
    writer, article = _HiddenValueWriter(hidden), make_article()
    spliced = writer.splicer.item(article, None, article.published_at)
    assert spliced is not None
    assert spliced == reference_item(writer, article, None, article.published_at)
    assert hidden.encode("utf-8", "surrogatepass") not in spliced


class _PermalinkWriter(RssWriter):
    """A guid's permalink given as 0 or as False, equal in Python, which feedgen writes "0" and "false"."""

    def fill_entry(self, entry, article: Article, source_url: str | None, updated: datetime) -> None:
        super().fill_entry(entry, article, source_url, updated)
        entry.guid(article.uid, permalink=0 if article.title.startswith("0") else False)


def test_arguments_equal_in_python_but_of_other_types_make_other_shapes() -> None:
    writer = _PermalinkWriter()
    for title in ("0 first", "False next", "0 again"):
        article = make_article(title=title)
        assert_spliced_is_the_reference(writer, article, None, article.published_at)


class _TypedSummaryWriter(ATOM_WRITER.__class__):
    """An Atom summary with a type: feedgen picks how to write a text element by its type, as for content."""

    def __init__(self, summary_type: str) -> None:
        super().__init__()
        self.summary_type = summary_type

    def add_summary(self, entry, article: Article) -> None:
        entry.summary(article.summary, type=self.summary_type)


def test_a_text_elements_type_is_shape_for_every_element_feedgen_reads_it_for() -> None:
    """A summary's type was a value: its sentinel took feedgen's "not supported" branch and the item raised."""
    writer = _TypedSummaryWriter("html")
    for summary in ("<b>bold</b> & more", "plain"):
        article = make_article(summary=summary)
        assert_spliced_is_the_reference(writer, article, None, article.published_at)
    # a type feedgen cannot write: no template, and the reference raises its own error
    writer, article = _TypedSummaryWriter("application/octet-stream"), make_article(summary="x")
    assert writer.splicer.item(article, None, article.published_at) is None
    with pytest.raises(NotImplementedError):
        reference_item(writer, article, None, article.published_at)
