"""The site: index page and OPML (golden bytes, structure), and whole exports checked feed by feed.

Golden files live in tests/golden/; after an intended change of output rewrite
them with ``FEEDS_REGENERATE_GOLDEN=1 pytest tests/test_site.py`` and review the diff.
"""

from __future__ import annotations

import gzip
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from calendar import timegm
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import feedparser
import hypothesis
import hypothesis.strategies
import pytest
import yaml

from feeds.config import Settings, load_settings, with_overrides
from feeds.index.catalog import Catalog, build_catalog
from feeds.index.families import ALL, PROVIDERS, TOPICS
from feeds.read.article_files import find_article_files
from feeds.read.reader import read_folder, split_front_matter
from feeds.render.feed import Format, feed_url, image_type, page_url
from feeds.render.site import INDEX_PATH, OPML_PATH, quote_attribute, render_path, site_paths

from .conftest import BASE_URL, PROJECT, SAMPLES, require_tool
from .test_render import check_golden, seed_catalog

CONFIG = PROJECT / "config" / "feeds.yaml"


def export(articles: Path, out: Path, *, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``feeds export`` in a subprocess, as an operator runs it (no parse cache)."""
    command = [*prefix, sys.executable, "-m", "feeds.cli", "export", "--no-cache",
               "--config", str(CONFIG), "--articles", str(articles), "--base-url", BASE_URL, str(out)]  # fmt: skip
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result


def exported_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def config_settings(articles: Path) -> Settings:
    """The settings an export with CONFIG and these overrides runs with."""
    return with_overrides(load_settings(CONFIG), articles_dir=articles, base_url=BASE_URL)


@pytest.mark.parametrize("path", [INDEX_PATH, OPML_PATH])
def test_seed_pages_match_their_golden_files(path: str) -> None:
    catalog, settings = seed_catalog()
    check_golden(path, render_path(path, catalog, settings).body)


def test_every_site_path_renders_and_nothing_else_does() -> None:
    catalog, settings = seed_catalog()
    paths = site_paths(catalog, settings)
    assert paths[:2] == [INDEX_PATH, OPML_PATH]
    # three documents and a page per feed; the seed is too small for archives
    assert len(paths) == len(set(paths)) == 2 + 4 * len(catalog.feeds)
    assert [p for p in paths if p.endswith(".html")] == [INDEX_PATH] + [f"{f.path}.html" for f in catalog.feeds]
    for path in paths:
        rendered = render_path(path, catalog, settings)
        assert rendered is not None and rendered.body
    for path in ["all", "all.xml", "topics/../all.rss", "topics/AI.rss", "/all.rss", "x/index.html",
                 "archive/all/1.rss", "archive/all.rss", "feed.xsl", "topics/nope.html", "all.html.html",
                 "archive/all/1.html", "index.html.html", "topics/AI.html", "topics.html"]:
        assert render_path(path, catalog, settings) is None


def check_opml(body: bytes, catalog: Catalog, settings: Settings) -> None:
    root = ElementTree.fromstring(body)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.find("head/title").text == settings.site_title
    outlines = [o for o in root.iter("outline") if o.get("xmlUrl")]
    expected = [feed_url(settings, feed.path, Format.RSS) for feed in catalog.feeds]
    assert [o.get("xmlUrl") for o in outlines] == expected
    for outline in outlines:
        assert outline.get("text") and outline.get("type") == "rss"
        for key in ("xmlUrl", "htmlUrl"):
            parts = urlsplit(outline.get(key))
            assert parts.scheme == "https" and parts.netloc == "feeds.example.org"


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def check_index(body: bytes, catalog: Catalog, settings: Settings) -> None:
    page = _Page()
    page.feed(body.decode("utf-8"))
    page.close()
    assert body.startswith(b"<!DOCTYPE html>\n")
    assert ("html", {"lang": settings.language}) in page.tags
    assert not any(tag == "iframe" or (tag == "script" and a) for tag, a in page.tags)  # one inline script
    discovery = [a for tag, a in page.tags if tag == "link" and a.get("rel") == "alternate"]
    assert [(a["type"], a["href"]) for a in discovery] == [
        (fmt.media_type.split(";")[0], feed_url(settings, "all", fmt)) for fmt in Format
    ]
    hrefs = {a["href"] for tag, a in page.tags if tag == "a"}
    for feed in catalog.feeds:
        assert {feed_url(settings, feed.path, fmt) for fmt in Format} <= hrefs
        assert page_url(settings, feed.path) in hrefs
    assert settings.site_url + OPML_PATH in hrefs
    ids = [a["id"] for tag, a in page.tags if tag == "li" and "id" in a]
    assert ids == [feed.path for feed in catalog.feeds]


def test_seed_index_and_opml_are_well_formed() -> None:
    catalog, settings = seed_catalog()
    check_opml(render_path(OPML_PATH, catalog, settings).body, catalog, settings)
    check_index(render_path(INDEX_PATH, catalog, settings).body, catalog, settings)


# --- a whole export of the real corpus, checked against the articles ---


@pytest.fixture(scope="module")
def real_export(tmp_path_factory) -> tuple[Path, Catalog, Settings]:
    from .conftest import REAL_CORPUS, require_shared

    corpus = require_shared(REAL_CORPUS)
    out = tmp_path_factory.mktemp("real") / "site"
    export(corpus, out)
    settings = config_settings(corpus)
    return out, build_catalog(read_folder(corpus, settings).articles, settings), settings


def test_real_export_has_every_feed_of_the_catalog(real_export) -> None:
    out, catalog, settings = real_export
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert set(site_paths(catalog, settings)) <= files
    assert len(catalog.of_family(ALL)) == 1
    assert catalog.of_family(TOPICS) and catalog.of_family(PROVIDERS)
    check_opml((out / OPML_PATH).read_bytes(), catalog, settings)
    check_index((out / INDEX_PATH).read_bytes(), catalog, settings)


def test_real_export_has_a_page_for_every_feed_with_every_item_and_its_sized_image(real_export) -> None:
    out, catalog, settings = real_export
    for feed in catalog.feeds:
        page = _Page()
        page.feed((out / f"{feed.path}.html").read_bytes().decode("utf-8"))
        discovery = [a["href"] for tag, a in page.tags if tag == "link" and a.get("rel") == "alternate"]
        assert discovery == [feed_url(settings, feed.path, fmt) for fmt in Format], feed.path
        hrefs = {a.get("href") for tag, a in page.tags if tag == "a"}
        assert {article.link for article in feed.items} <= hrefs, feed.path
        images = {a["src"]: a for tag, a in page.tags if tag == "img"}
        for article in feed.items:
            lead = article.lead_image
            if lead is not None:
                assert (images[lead.url]["width"], images[lead.url]["height"]) == (str(lead.width), str(lead.height))


def test_real_export_feeds_parse_and_match_the_articles(real_export) -> None:
    out, catalog, settings = real_export
    for feed in catalog.feeds:
        for fmt in (Format.RSS, Format.ATOM):
            parsed = feedparser.parse((out / f"{feed.path}.{fmt.extension}").read_bytes())
            where = f"{feed.path}.{fmt.extension}"
            assert not parsed.bozo, (where, parsed.get("bozo_exception"))
            assert len(parsed.entries) == len(feed.items), where
            dates = [timegm(e.published_parsed) for e in parsed.entries]
            assert dates == sorted(dates, reverse=True), where
            for entry, article in zip(parsed.entries, feed.items, strict=True):
                assert (entry.id, entry.link, entry.title) == (article.uid, article.link, article.title)
                assert dates[0] >= timegm(entry.published_parsed) == int(article.published_at.timestamp())
                assert [t.term for t in entry.get("tags", [])] == list(article.topics), where
                lead = article.lead_image
                wanted = [lead.url] if lead is not None and image_type(lead) else []
                assert [e.href for e in entry.enclosures] == wanted, where
        document = json.loads((out / f"{feed.path}.json").read_bytes())
        assert document["version"] == "https://jsonfeed.org/version/1.1" and document["title"]
        assert document["feed_url"] == feed_url(settings, feed.path, Format.JSON)
        assert [item["id"] for item in document["items"]] == [a.uid for a in feed.items]
        for item, article in zip(document["items"], feed.items, strict=True):
            assert item["url"] == article.link and item["content_html"]
            assert item["date_published"].endswith("Z")


def _secured_values(corpus: Path) -> set[str]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    values: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "secured" and isinstance(value, str) and value.strip():
                    values.add(value.strip())
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in find_article_files(corpus):
        parts = split_front_matter(path.read_bytes().decode("utf-8", errors="replace"))
        if parts:
            try:
                walk(yaml.load(parts[0], Loader=loader))  # noqa: S506 - a safe loader
            except yaml.YAMLError:
                continue
    return values


def test_no_secured_value_appears_anywhere_in_an_export(real_export) -> None:
    from .conftest import REAL_CORPUS

    out, _, _ = real_export
    secured = _secured_values(REAL_CORPUS)
    assert len(secured) > 100
    window = 24  # base64 noise: 24 characters never occur by chance
    needles = {value[:window] for value in secured} | {value[-window:] for value in secured}
    run = re.compile(rb"[A-Za-z0-9+/=;]{%d,}" % window)
    for path, data in exported_files(out).items():
        if path.endswith(".gz"):
            data = gzip.decompress(data)
        for match in run.finditer(data):
            text = match.group().decode("ascii")
            hits = {text[i : i + window] for i in range(len(text) - window + 1)} & needles
            assert not hits, f"{path} holds a secured value"


# --- determinism of a whole export ---


def test_export_is_byte_identical_whatever_the_clock_says(tmp_path: Path) -> None:
    faketime = require_tool("faketime")
    env_note = "libfaketime: the export runs with the clock at two different days"
    first, second = tmp_path / "one", tmp_path / "two"
    export(SAMPLES, first, prefix=(faketime, "2030-01-01 00:00:00"))
    export(SAMPLES, second, prefix=(faketime, "2031-07-15 13:45:00"))
    one, two = exported_files(first), exported_files(second)
    assert one and one == two, env_note
    # the fake clock really ran: the files were written "in" 2030 and 2031
    assert os.stat(first / INDEX_PATH).st_mtime < os.stat(second / INDEX_PATH).st_mtime


def test_export_does_not_depend_on_file_order_or_mtimes(tmp_path: Path) -> None:
    copy = tmp_path / "articles"
    files = sorted(find_article_files(SAMPLES), reverse=True)
    for index, path in enumerate(files):
        target = copy / path.relative_to(SAMPLES)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)  # created newest-name first
        os.utime(target, (1_000_000_000 + 7919 * index,) * 2)
    export(SAMPLES, tmp_path / "original")
    export(copy, tmp_path / "copied")
    original, copied = exported_files(tmp_path / "original"), exported_files(tmp_path / "copied")
    assert original and original == copied


@hypothesis.settings(max_examples=500)
@hypothesis.given(
    value=hypothesis.strategies.text(alphabet=hypothesis.strategies.sampled_from("&<>\"'\n\r\t;#a é\u2028☃"))
    | hypothesis.strategies.text()
)
def test_opml_attributes_are_quoted_as_saxutils_quotes_them(value: str) -> None:
    """The OPML's own quoteattr (xml.sax.saxutils imports urllib.request, http.client and ssl at start-up)."""
    from xml.sax.saxutils import quoteattr

    assert quote_attribute(value) == quoteattr(value)
