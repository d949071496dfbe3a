"""The renderer: golden bytes for the seed article, and every item and feed field checked.

Golden files live in tests/golden/. After an intended change of output, rewrite
them and review the diff:

    FEEDS_REGENERATE_GOLDEN=1 pytest tests/test_render.py tests/test_site.py
"""

from __future__ import annotations

import dataclasses
import html
import html.parser
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.config import Settings
from feeds.index.catalog import Catalog, build_catalog
from feeds.model import Article, Image, Provider, Related
from feeds.read.reader import make_uid, read_article, read_folder
from feeds.render import xmlfeed
from feeds.render.feed import EMPTY_FEED_DATE, Format, content_html, image_type, over_budget, render_feed
from feeds.render.xmlfeed import distinct_updated

from .conftest import BASE_URL, REAL_CORPUS, SAMPLES, require_shared

GOLDEN = Path(__file__).resolve().parent / "golden"
SEED_FILE = SAMPLES / "000_ebe1555fe9b9f06c.txt"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "]]><script>alert(2)</script><![CDATA[",
    "<a href='javascript:alert(3)'>x</a>",
    "Q&A with 'quotes' and \"doubles\" &amp; <b>bold</b>",
]


def check_golden(name: str, body: bytes) -> None:
    """Compare bytes with tests/golden/NAME; rewrite it when FEEDS_REGENERATE_GOLDEN is set."""
    path = GOLDEN / name
    if os.environ.get("FEEDS_REGENERATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
    assert path.exists(), f"{path} is missing: run with FEEDS_REGENERATE_GOLDEN=1"
    assert body == path.read_bytes(), f"{name} differs from its golden file"


def seed_catalog() -> tuple[Catalog, Settings]:
    """The golden input: the seed file alone (it says ``published: false``)."""
    settings = Settings(base_url=BASE_URL, include_unpublished=True)
    result = read_article(SEED_FILE, settings, root=SAMPLES)
    assert result.article is not None, result.problems
    return build_catalog([result.article], settings), settings


def make_article(n: int = 1, **fields) -> Article:
    values = {
        "source": f"a{n}.md",
        "uid": make_uid(f"https://example.com/story/{n}"),
        "title": f"Story {n}",
        "link": f"https://example.com/story/{n}",
        "published_at": T0 + timedelta(hours=n),
        "summary": f"Summary {n}.",
        "topics": ("AI", "Space"),
        "provider": Provider("Example News", "example.com"),
        "images": (
            Image("https://img.example.com/lead.jpg", 1200, 628),
            Image("https://img.example.com/second.png?v=2", 640, None),
            Image("https://img.example.com/noextension", None, None),
        ),
    }
    values.update(fields)
    return Article(**values)


def render_all(articles: list[Article], settings: Settings | None = None):
    settings = settings or Settings(base_url=BASE_URL)
    catalog = build_catalog(articles, settings)
    feed = catalog.get("all")
    return {fmt: render_feed(feed, fmt, catalog, settings).body for fmt in Format}


@pytest.mark.parametrize("fmt", list(Format), ids=lambda f: f.extension)
@pytest.mark.parametrize("path", ["all", "topics/ai", "providers/politico"])
def test_seed_feeds_match_their_golden_files(path: str, fmt: Format) -> None:
    catalog, settings = seed_catalog()
    body = render_feed(catalog.get(path), fmt, catalog, settings).body
    check_golden(f"{path.replace('/', '_')}.{fmt.extension}", body)


def test_rss_item_fields() -> None:
    article = make_article()
    parsed = feedparser.parse(render_all([article])[Format.RSS])
    assert not parsed.bozo
    (entry,) = parsed.entries
    assert entry.title == "Story 1" and entry.link == article.link
    assert entry.id == article.uid and entry.guidislink is False
    assert entry.published_parsed[:6] == (2024, 5, 1, 13, 0, 0)
    assert entry.summary == "Summary 1."
    assert [t.term for t in entry.tags] == ["AI", "Space"]
    assert entry.source == {"href": f"{BASE_URL}providers/example-news.rss", "title": "Example News"}
    assert entry.enclosures == [
        {"href": "https://img.example.com/lead.jpg", "length": "0", "type": "image/jpeg"}
    ]
    assert entry.media_content == [
        {"url": "https://img.example.com/lead.jpg", "type": "image/jpeg", "medium": "image",
         "width": "1200", "height": "628"},
        {"url": "https://img.example.com/second.png?v=2", "type": "image/png", "medium": "image",
         "width": "640"},
        {"url": "https://img.example.com/noextension", "medium": "image"},
    ]  # fmt: skip
    assert entry.media_thumbnail == [
        {"url": "https://img.example.com/lead.jpg", "width": "1200", "height": "628"}
    ]


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM], ids=lambda f: f.extension)
@pytest.mark.parametrize(
    ("width", "height", "shown"),
    [(1200, 628, {"width": "1200", "height": "628"}), (640, None, {"width": "640"}), (None, 480, {"height": "480"}),
     (0, 480, {"height": "480"}), (640, 0, {"width": "640"}), (None, None, {}), (0, 0, {})],
)  # fmt: skip
def test_media_content_and_thumbnail_show_each_known_pixel_size(fmt: Format, width, height, shown) -> None:
    """A width or height of None or 0 is unknown and left out; the other one is shown all the same."""
    article = make_article(images=(Image("https://img.example.com/lead.jpg", width, height),))
    root = ElementTree.fromstring(render_all([article])[fmt])
    media = "{http://search.yahoo.com/mrss/}"
    (content,) = root.iter(f"{media}content")
    (thumbnail,) = root.iter(f"{media}thumbnail")
    url = "https://img.example.com/lead.jpg"
    assert content.attrib == {"url": url, "medium": "image", "type": "image/jpeg", **shown}
    assert thumbnail.attrib == {"url": url, **shown}


def test_atom_entry_links_the_article_and_carries_the_image_as_an_enclosure() -> None:
    # feedgen bug #135 would turn the enclosure into a second alternate link
    article = make_article()
    parsed = feedparser.parse(render_all([article])[Format.ATOM])
    assert not parsed.bozo
    (entry,) = parsed.entries
    assert entry.link == article.link
    assert [(link.rel, link.href) for link in entry.links] == [
        ("alternate", article.link),
        ("enclosure", "https://img.example.com/lead.jpg"),
    ]
    assert entry.enclosures == [
        {"href": "https://img.example.com/lead.jpg", "length": "0", "type": "image/jpeg"}
    ]
    assert entry.id == article.uid and entry.title == "Story 1"
    assert entry.published == entry.updated == "2024-05-01T13:00:00+00:00"
    assert entry.author_detail == {"name": "Example News", "href": "https://example.com/"}
    assert [t.term for t in entry.tags] == ["AI", "Space"]
    assert entry.summary == "Summary 1."
    assert len(entry.media_content) == 3 and len(entry.media_thumbnail) == 1


def test_json_item_fields() -> None:
    article = make_article()
    document = json.loads(render_all([article])[Format.JSON])
    (item,) = document["items"]
    assert item == {
        "id": article.uid,
        "url": article.link,
        "title": "Story 1",
        "summary": "Summary 1.",
        "content_html": content_html(article),
        "image": "https://img.example.com/lead.jpg",
        "date_published": "2024-05-01T13:00:00Z",
        "authors": [{"name": "Example News", "url": "https://example.com/"}],
        "tags": ["AI", "Space"],
        "attachments": [
            {"url": "https://img.example.com/lead.jpg", "mime_type": "image/jpeg"},
            {"url": "https://img.example.com/second.png?v=2", "mime_type": "image/png"},
        ],
    }


@pytest.mark.parametrize(
    ("url", "mime"),
    [
        ("https://x.org/a.JPG", "image/jpeg"),
        ("https://x.org/a.jpeg?w=1024", "image/jpeg"),
        ("https://x.org/a.png", "image/png"),
        ("https://x.org/a.gif", "image/gif"),
        ("https://x.org/a.webp", "image/webp"),
        ("https://x.org/a.avif", "image/avif"),
        ("https://x.org/a", None),
        ("https://x.org/a.php?img=b.jpg", None),
        ("https://x.org/a.svg", None),
        # issue 15: no known extension, the format a resizing CDN is asked for (MSN, imgix, others)
        ("https://img-s-msn-com.akamaized.net/tenant/amp/entityid/AA1b1ddI.img?h=630&w=1200&m=6&f=jpg", "image/jpeg"),
        ("https://x.imgix.net/photo?w=800&fm=png", "image/png"),
        ("https://x.imgix.net/photo?fm=pjpg", "image/jpeg"),
        ("https://i.insider.com/6182a79723745d001824d68a?width=1200&format=jpeg", "image/jpeg"),
        ("https://x.org/render?id=7&ext=WEBP", "image/webp"),
        ("https://x.org/a.png?f=jpg", "image/png"),  # a known extension comes first
        ("https://x.org/render?f=json", None),
        ("https://x.org/render?fmt=jpg", None),
    ],
)  # fmt: skip
def test_image_mime_type_comes_from_the_extension_else_a_format_parameter(url: str, mime: str | None) -> None:
    assert image_type(Image(url)) == mime


def test_real_corpus_msn_and_wordpress_images_are_enclosures_everywhere() -> None:
    """Issue 15: an MSN image gets an image/jpeg enclosure; a WordPress "&#038;" URL reads "&strip=all" in the
    enclosure, media:content, media:thumbnail and the content's <img>."""
    corpus = require_shared(REAL_CORPUS) / "SmartableAI-diablo4"
    names = ["2023-03-25-best-diablo-4-settings-how-to-stop-diablo-4-killing-gpu.md",
             "2020-11-05-blizzard-says-its-diablo-4-announcement-wasnt-delayed.md"]  # fmt: skip
    articles = [read_article(corpus / name, Settings()).article for name in names]
    bodies = render_all(articles)
    for fmt in (Format.RSS, Format.ATOM):
        entries = {entry.link: entry for entry in feedparser.parse(bodies[fmt]).entries}
        for article in articles:
            entry, url = entries[article.link], article.lead_image.url
            assert [(e.href, e.type) for e in entry.enclosures] == [(url, "image/jpeg")]
            assert [m["url"] for m in entry.media_content] == [url] and entry.media_thumbnail[0]["url"] == url
            assert f'src="{html.escape(url)}"' in entry.content[0].value
    assert articles[1].lead_image.url.endswith("diablo-immortal.jpg?quality=70&strip=all")
    assert articles[0].lead_image.url.startswith("https://img-s-msn-com.akamaized.net/")


def test_no_enclosure_when_the_lead_image_type_is_unknown() -> None:
    """Not in Atom either, though RFC 4287 §4.2.7.3 makes the type optional: feedparser (and the readers
    built on it) would call an untyped enclosure text/html, and a wrong type is worse than none."""
    article = make_article(images=(Image("https://img.example.com/render?id=7"),))
    bodies = render_all([article])
    for fmt in (Format.RSS, Format.ATOM):
        (entry,) = feedparser.parse(bodies[fmt]).entries
        assert entry.enclosures == [] and entry.link == article.link
        assert entry.media_thumbnail == [{"url": "https://img.example.com/render?id=7"}]
    (item,) = json.loads(bodies[Format.JSON])["items"]
    assert "attachments" not in item and item["image"] == "https://img.example.com/render?id=7"


@pytest.mark.parametrize(
    "variant",
    [
        "http://example.com/story/1",
        "https://www.example.com/story/1/",
        "https://example.com/story/1/amp/",
        "https://example-com.cdn.ampproject.org/c/s/example.com/story/1/amp",
    ],
)
def test_item_id_is_the_same_for_every_variant_of_the_link(variant: str) -> None:
    plain = render_all([make_article()])
    other = render_all([make_article(uid=make_uid(variant), link=variant)])
    for fmt in (Format.RSS, Format.ATOM):
        ids = [e.id for e in feedparser.parse(plain[fmt]).entries]
        assert ids == [e.id for e in feedparser.parse(other[fmt]).entries]
    assert json.loads(plain[Format.JSON])["items"][0]["id"] == json.loads(other[Format.JSON])["items"][0]["id"]


def test_feed_fields_rss_and_atom() -> None:
    settings = Settings(base_url=BASE_URL, site_title="Site", language="de", author="Desk")
    articles = [make_article(1), make_article(3), make_article(2)]
    catalog = build_catalog(articles, settings)
    feed = catalog.get("topics/ai")
    rss = feedparser.parse(render_feed(feed, Format.RSS, catalog, settings).body)
    atom = feedparser.parse(render_feed(feed, Format.ATOM, catalog, settings).body)
    for parsed, fmt in ((rss, "rss"), (atom, "atom")):
        assert not parsed.bozo
        channel = parsed.feed
        assert channel.title == "AI — Site"
        assert channel.subtitle == "The newest articles about AI."
        assert channel.language == "de"
        assert channel.generator == "feeds"
        links = {link.rel: link.href for link in channel.links}
        assert links == {"self": f"{BASE_URL}topics/ai.{fmt}", "alternate": f"{BASE_URL}topics/ai.html"}
        assert channel.updated_parsed[:6] == (2024, 5, 1, 15, 0, 0)  # the newest item, not the clock
        assert [e.title for e in parsed.entries] == ["Story 3", "Story 2", "Story 1"]
    assert atom.feed.id == f"{BASE_URL}topics/ai.atom"
    assert atom.feed.author_detail == {"name": "Desk", "href": BASE_URL}


def test_json_feed_has_the_required_fields() -> None:
    document = json.loads(render_all([make_article()])[Format.JSON])
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] and document["feed_url"] == f"{BASE_URL}all.json"
    assert document["home_page_url"] == f"{BASE_URL}all.html"  # the feed's page
    for item in document["items"]:
        assert item["id"] and ("content_html" in item or "content_text" in item)


def test_empty_feed_is_valid_and_dated_at_a_fixed_epoch() -> None:
    bodies = render_all([])
    rss, atom = feedparser.parse(bodies[Format.RSS]), feedparser.parse(bodies[Format.ATOM])
    assert not rss.bozo and not atom.bozo and rss.entries == atom.entries == []
    assert rss.feed.updated_parsed[:6] == atom.feed.updated_parsed[:6] == EMPTY_FEED_DATE.timetuple()[:6]
    assert json.loads(bodies[Format.JSON])["items"] == []
    assert bodies == render_all([])


class _Markup(html.parser.HTMLParser):
    """Collects what a browser would run: script elements, on* attributes, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dangers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "style"):
            self.dangers.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.dangers.append(f"{tag} {name}={value}")


def _dangers(fragment: str) -> list[str]:
    parser = _Markup()
    parser.feed(fragment)
    parser.close()
    return parser.dangers


def test_hostile_text_is_escaped_in_every_format() -> None:
    articles = [
        make_article(
            i,
            title=text,
            summary=text,
            topics=(text,),
            provider=Provider(text, "example.com"),
            related=(Related(title=text, link="https://example.com/r", provider=Provider(text)),),
        )
        for i, text in enumerate(HOSTILE, start=1)
    ]
    bodies = render_all(articles)
    for fmt, body in bodies.items():
        assert b"<script" not in body.lower(), fmt  # every "<" of a text is escaped
    for fmt in (Format.RSS, Format.ATOM):
        # the only elements and attributes are the feed format's own
        for element in ElementTree.fromstring(bodies[fmt]).iter():
            assert not element.tag.lower().endswith("script")
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), (fmt, name)
                assert not value.strip().lower().startswith("javascript:"), (fmt, value)
    for fmt in (Format.RSS, Format.ATOM):
        parsed = feedparser.parse(bodies[fmt], sanitize_html=False, resolve_relative_uris=False)
        assert not parsed.bozo
        assert {e.title for e in parsed.entries} == set(HOSTILE)
        for entry in parsed.entries:
            details = [*entry.content, entry.summary_detail]
            html_fields = [d.value for d in details if d.type == "text/html"]
            assert len(html_fields) == (2 if fmt is Format.RSS else 1)  # Atom summary is text
            for html_field in html_fields:
                assert _dangers(html_field) == []
    document = json.loads(bodies[Format.JSON])
    assert {item["title"] for item in document["items"]} == set(HOSTILE)
    for item in document["items"]:
        assert _dangers(item["content_html"]) == []


def test_rendering_depends_only_on_its_input() -> None:
    articles = [make_article(n) for n in range(1, 6)]
    first = render_all(articles)
    second = render_all(list(reversed([a.replace() for a in articles])))
    assert first == second


def _item_ids(body: bytes, fmt: Format) -> list[str]:
    if fmt is Format.JSON:
        return [item["id"] for item in json.loads(body)["items"]]
    return [entry.id for entry in feedparser.parse(body).entries]


@pytest.mark.parametrize("fmt", list(Format))
def test_a_feed_over_max_feed_bytes_drops_its_oldest_items_until_it_fits(fmt: Format) -> None:
    unbounded = Settings(base_url=BASE_URL, articles_dir=SAMPLES, include_unpublished=True, max_feed_bytes=0)
    folder = read_folder(SAMPLES, unbounded)
    catalog = build_catalog(folder.articles, unbounded)
    budgeted = dataclasses.replace(unbounded, max_feed_bytes=20_000)
    hit = 0
    for feed in catalog.feeds:
        full = render_feed(feed, fmt, catalog, unbounded)
        kept = render_feed(feed, fmt, catalog, budgeted)
        assert full.dropped == 0 and not over_budget(full, unbounded)
        assert len(kept.body) <= 20_000, feed.path
        ids, all_ids = _item_ids(kept.body, fmt), _item_ids(full.body, fmt)
        assert ids == all_ids[: len(ids)] and len(ids) == len(all_ids) - kept.dropped  # newest first, a prefix
        if len(full.body) > 20_000:
            hit += 1
            assert kept.dropped > 0 and over_budget(kept, budgeted)
            # the largest prefix that fits: one more item would not
            more = render_feed(dataclasses.replace(feed, items=feed.items[: len(ids) + 1]), fmt, catalog, unbounded)
            assert len(more.body) > 20_000
        else:
            assert kept == full
        assert kept.last_modified == full.last_modified  # the newest item stays
    assert hit >= 1  # the samples' "all" feed is about 30 KB in every format


def test_a_single_item_over_the_budget_is_kept_and_reported() -> None:
    settings = Settings(base_url=BASE_URL, max_feed_bytes=1_024)
    catalog = build_catalog([make_article(1), make_article(2)], settings)
    for fmt in Format:
        rendered = render_feed(catalog.get("all"), fmt, catalog, settings)
        assert len(_item_ids(rendered.body, fmt)) == 1 and rendered.dropped == 1
        assert len(rendered.body) > 1_024 and over_budget(rendered, settings)


def test_entries_published_in_the_same_second_get_distinct_updated_never_after_the_feed() -> None:
    """Atom: 300 ties (an attacker's copies, or a bulk import) stay distinct, linear, and inside the feed's date."""
    settings = Settings(base_url=BASE_URL, items_per_feed=300, max_feed_bytes=0)
    articles = [make_article(n, published_at=T0) for n in range(300)]
    parsed = feedparser.parse(render_all(articles, settings)[Format.ATOM])
    stamps = [entry.updated for entry in parsed.entries]
    assert len(stamps) == 300 and len(set(stamps)) == 300
    assert all(entry.published_parsed == parsed.entries[0].published_parsed for entry in parsed.entries)
    feed_updated = datetime.fromisoformat(parsed.feed.updated)
    assert all(datetime.fromisoformat(stamp) <= feed_updated for stamp in stamps)
    # three fraction digits, or none (issue 15: ROME 1.12 reads ".001000" as a second later)
    assert stamps[:3] == ["2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00.001+00:00", "2024-05-01T12:00:00.002+00:00"]
    assert parsed.feed.updated == "2024-05-01T12:00:00.299+00:00"


# a few milliseconds apart, so ties and a tie moved onto another entry's date are common; the same
# instant in another offset is a tie too
_STAMPS = st.tuples(st.integers(0, 6), st.sampled_from([UTC, timezone(timedelta(hours=2))])).map(
    lambda drawn: (T0 + timedelta(milliseconds=drawn[0])).astimezone(drawn[1])
)


@given(st.lists(_STAMPS, max_size=12))
def test_distinct_updated_gives_the_loops_stamps_and_objects(published: list[datetime]) -> None:
    """Its shortcut for a feed without ties gives what the loop gives: equal stamps, each the article's own
    object where the loop left it (bulk's item store and the item templates tell a moved stamp by identity)."""
    items = tuple(SimpleNamespace(published_at=moment) for moment in published)
    expected = xmlfeed._spread_ties(items)
    stamps = distinct_updated(items)
    assert stamps == expected
    assert [s is a.published_at for s, a in zip(stamps, items, strict=True)] == [
        s is a.published_at for s, a in zip(expected, items, strict=True)
    ]
    assert [s.utcoffset() for s in stamps] == [s.utcoffset() for s in expected]


@pytest.mark.parametrize(
    ("published", "atom", "json_date"),
    [
        (T0, "2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00Z"),
        (T0 + timedelta(milliseconds=250), "2024-05-01T12:00:00.250+00:00", "2024-05-01T12:00:00.250Z"),
        (T0 + timedelta(milliseconds=1), "2024-05-01T12:00:00.001+00:00", "2024-05-01T12:00:00.001Z"),
    ],
)
def test_dates_are_written_with_three_fraction_digits_or_none(published: datetime, atom: str, json_date: str) -> None:
    bodies = render_all([make_article(published_at=published)])
    (entry,) = feedparser.parse(bodies[Format.ATOM]).entries
    assert entry.published == entry.updated == atom
    assert json.loads(bodies[Format.JSON])["items"][0]["date_published"] == json_date


def test_every_format_has_exactly_one_writer_and_only_writers_name_a_format() -> None:
    """Formats are data (issue 14): one writer per Format, and no other module of feeds/ names a member."""
    from feeds.render.feed import WRITERS

    assert set(WRITERS) == set(Format)
    assert all(writer.format is fmt for fmt, writer in WRITERS.items())
    writers = {"rss.py", "atom.py", "jsonfeed.py", "formats.py"}
    package = Path(__file__).resolve().parent.parent / "feeds"
    for module in package.glob("*.py"):
        if module.name not in writers:
            text = module.read_text(encoding="utf-8")
            assert not any(f"Format.{fmt.name}" in text for fmt in Format), module.name
