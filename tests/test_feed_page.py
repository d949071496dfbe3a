"""A feed's page and the index page as markup: what they show, what they link, and that no text can run.

The pages in a real browser (axe-core, widths, the finder, the copy button) are
tests/test_pages_browser.py; the golden bytes are tests/test_site.py's.
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import re
from urllib.parse import quote

import pytest

from feeds.config import Settings
from feeds.index.catalog import build_catalog
from feeds.model import Image, Provider
from feeds.render.feed import Format, archive_path, feed_url, page_url
from feeds.render.feed_page import READERS, render_feed_page
from feeds.render.page_layout import CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_HEADER, SCRIPT, STYLESHEET
from feeds.render.site import INDEX_PATH, render_path

from .conftest import BASE_URL
from .test_render import HOSTILE, make_article

FORMATS = tuple(Format)


class Parsed(html.parser.HTMLParser):
    """Every start tag with its attributes, the text of each script and style element, and dangers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self.text: list[str] = []
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw:
            self._inside = tag
            self.raw[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.raw[self._inside][-1] += data
        else:
            self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def dangers(self) -> list[str]:
        """Event-handler attributes, javascript: URLs, and any element that could load or run something."""
        found = []
        for tag, attrs in self.tags:
            if tag in ("iframe", "object", "embed", "base", "form", "frame", "svg", "math"):
                found.append(tag)
            if tag == "script" and attrs:
                found.append(f"script {attrs}")
            for name, value in attrs.items():
                if name.startswith("on") or (value or "").strip().lower().startswith(("javascript:", "data:")):
                    found.append(f"{tag} {name}={value}")
        return found


def parse(body: bytes) -> Parsed:
    page = Parsed()
    page.feed(body.decode("utf-8"))
    page.close()
    return page


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_of(articles, path: str = "all", settings: Settings | None = None):
    settings = settings or Settings(base_url=BASE_URL)
    catalog = build_catalog(articles, settings)
    feed = catalog.get(path)
    return render_feed_page(feed, catalog, settings, FORMATS), feed, catalog, settings


def test_a_feed_page_shows_its_items_with_links_sized_lazy_images_dates_sources_and_topics() -> None:
    articles = [make_article(n) for n in range(1, 4)]
    rendered, feed, catalog, settings = page_of(articles)
    page = parse(rendered.body)
    assert rendered.media_type == "text/html; charset=utf-8" and rendered.last_modified == feed.updated
    hrefs = [a["href"] for a in page.all("a")]
    titles = [a for a in page.text if a.startswith("Story ")]
    assert titles == [a.title for a in feed.items]  # newest first, as the feed
    for article in feed.items:
        assert article.link in hrefs
    images = page.all("img")
    assert [(i["src"], i["width"], i["height"], i["loading"]) for i in images] == [
        ("https://img.example.com/lead.jpg", "1200", "628", "lazy")
    ] * 3
    assert all(i["alt"] == "" for i in images)  # the title beside it says what it is
    times = [t["datetime"] for t in page.all("time")]
    assert times == [a.published_at.strftime("%Y-%m-%dT%H:%M:%SZ") for a in feed.items]
    assert page_url(settings, "providers/example-news") in hrefs  # the source, on its own page here
    assert {page_url(settings, "topics/ai"), page_url(settings, "topics/space")} <= set(hrefs)
    assert "Summary 3." in page.text


def test_a_feed_page_says_how_to_subscribe_in_every_format_and_in_web_readers() -> None:
    rendered, feed, _, settings = page_of([make_article(1)], "topics/ai")
    page = parse(rendered.body)
    discovery = [(link["type"], link["href"]) for link in page.all("link") if link.get("rel") == "alternate"]
    assert discovery == [(fmt.media_type.split(";")[0], feed_url(settings, "topics/ai", fmt)) for fmt in FORMATS]
    fields = {i["id"]: i["value"] for i in page.all("input")}
    assert fields == {f"url-{fmt.extension}": feed_url(settings, "topics/ai", fmt) for fmt in FORMATS}
    buttons = page.all("button")
    assert [b["data-copy"] for b in buttons] == list(fields) and all("hidden" in b for b in buttons)
    hrefs = [a["href"] for a in page.all("a")]
    encoded = quote(feed_url(settings, "topics/ai", Format.RSS), safe="")
    assert [link + encoded for _, link in READERS] == [h for h in hrefs if encoded in h]
    assert page.all("h1") and feed.name in page.text and feed.description in page.text


def test_a_feed_with_older_items_links_its_newest_archive_page_in_each_format() -> None:
    settings = Settings(base_url=BASE_URL, items_per_feed=2, archive_page_size=2)
    rendered, feed, _, _ = page_of([make_article(n) for n in range(1, 7)], settings=settings)
    hrefs = [a["href"] for a in parse(rendered.body).all("a")]
    assert len(feed.older) == 4
    for fmt in FORMATS:
        assert settings.site_url + archive_path("all", 3, fmt) in hrefs  # 4 older items, 2 a page: 3 pages


def test_an_image_without_a_size_keeps_its_room_by_style() -> None:
    article = make_article(1, images=(Image("https://img.example.com/x.jpg"),))
    (image,) = parse(page_of([article])[0].body).all("img")
    assert "width" not in image and image["class"] == "unsized"


def test_an_empty_feed_says_so() -> None:
    rendered, *_ = page_of([])
    assert "No articles yet." in parse(rendered.body).text and rendered.last_modified is None


HOSTILE_URLS = [
    'https://example.com/"><script>alert(1)</script>',
    "https://example.com/?a=1&b=<2>&c='3'",
    "https://example.com/</title><script>alert(4)</script>",
]


@pytest.mark.parametrize("target", ["all", "topics", "providers", "index"])
def test_hostile_titles_and_urls_stay_text_on_every_page(target: str) -> None:
    articles = [
        make_article(
            n,
            title=text,
            summary=text,
            link=HOSTILE_URLS[n % len(HOSTILE_URLS)],
            topics=(text,),
            provider=Provider(text, "example.com"),
            images=(Image(HOSTILE_URLS[(n + 1) % len(HOSTILE_URLS)], 10, 10),),
        )
        for n, text in enumerate(HOSTILE, start=1)
    ]
    settings = Settings(base_url=BASE_URL, site_title=HOSTILE[0], site_description=HOSTILE[1])
    catalog = build_catalog(articles, settings)
    if target == "index":
        paths = [INDEX_PATH]
    else:
        paths = [f"{feed.path}.html" for feed in catalog.feeds if feed.path.split("/")[0] == target]
    assert paths
    for path in paths:
        page = parse(render_path(path, catalog, settings).body)
        assert page.dangers() == [], path
        assert page.raw["script"] == [SCRIPT] and page.raw["style"] == [STYLESHEET], path  # only our own
        shown = "".join(page.text)
        feed = catalog.get(path.removesuffix(".html"))
        for article in feed.items if feed is not None else ():
            assert article.title in shown and article.provider.name in shown, path  # the very text, not markup
            assert article.link in {a["href"] for a in page.all("a")}, path
            assert article.lead_image.url in {i["src"] for i in page.all("img")}, path


def test_the_policy_allows_exactly_the_pages_own_style_and_script() -> None:
    for directive in ("default-src 'none'", "base-uri 'none'", "form-action 'none'", "img-src http: https:"):
        assert directive in CONTENT_SECURITY_POLICY
    assert f"style-src {_hash(STYLESHEET)};" in CONTENT_SECURITY_POLICY
    assert f"script-src {_hash(SCRIPT)};" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY_HEADER and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY_HEADER
    rendered, *_ = page_of([make_article(1)])
    meta = [m for m in parse(rendered.body).all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert [m["content"] for m in meta] == [CONTENT_SECURITY_POLICY]


def test_the_index_lists_every_feed_page_with_counts_and_newest_dates_and_a_hidden_finder() -> None:
    settings = Settings(base_url=BASE_URL)
    catalog = build_catalog([make_article(n) for n in range(1, 4)], settings)
    page = parse(render_path(INDEX_PATH, catalog, settings).body)
    rows = [li for li in page.all("li") if "id" in li]
    assert [row["id"] for row in rows] == [feed.path for feed in catalog.feeds]
    assert [row["data-name"] for row in rows] == [feed.name.lower() for feed in catalog.feeds]
    hrefs = [a["href"] for a in page.all("a")]
    assert [h for h in hrefs if h.endswith(".html")] == [page_url(settings, f.path) for f in catalog.feeds]
    shown = "".join(page.text)
    assert "3 articles · newest " in shown and "1 article" not in shown
    assert {"id": "find", "type": "search", "autocomplete": "off", "spellcheck": "false"} in page.all("input")
    (finder,) = [d for d in page.all("div") if d.get("class") == "finder"]
    assert "hidden" in finder  # shown by the script: without it, the list alone
    headings = [re.sub(r" \(\d+\)$", "", h) for h in page.text if h.startswith(("All", "Topics", "Providers"))]
    assert headings[:3] == ["All articles", "Topics", "Providers"]
