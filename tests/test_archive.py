"""RFC 5005 archived feeds: every article of a feed reachable exactly once, full pages never changing."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest

from feeds.config import Settings
from feeds.folder.export import export_site
from feeds.index.catalog import Catalog, Feed, archive_pages, build_catalog
from feeds.read.reader import read_folder
from feeds.render.feed import Format
from feeds.render.site import render_path, site_paths, split_archive_path
from feeds.server.web import create_app

from .conftest import BASE_URL, SAMPLES
from .test_export import contents, write_article

TINY = {"items_per_feed": 2, "archive_page_size": 2}


def load(articles: Path, **overrides) -> tuple[Settings, Catalog]:
    settings = dataclasses.replace(Settings(base_url=BASE_URL, articles_dir=articles), **(TINY | overrides))
    return settings, build_catalog(read_folder(articles, settings).articles, settings)


def every_article(feed: Feed) -> list[str]:
    return [a.uid for a in feed.items] + [a.uid for a in reversed(feed.older)]


def walk(read: Callable[[str], bytes], settings: Settings, feed: Feed, fmt: Format) -> tuple[list[str], list[str]]:
    """Follow prev-archive (next_url for JSON) from the current document; the ids met and the pages visited."""
    path, ids, pages = f"{feed.path}.{fmt.extension}", [], []
    while path is not None:
        body = read(path)
        if fmt is Format.JSON:
            document = json.loads(body)
            ids += [item["id"] for item in document["items"]]
            following = document.get("next_url")
        else:
            parsed = feedparser.parse(body)
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
            ids += [entry.id for entry in parsed.entries]
            links = {link.rel: link.href for link in parsed.feed.links}
            following = links.get("prev-archive")
            if pages:  # an archive page: RFC 5005 §4
                assert b"<fh:archive/>" in body
                assert links["current"] == f"{settings.site_url}{feed.path}.{fmt.extension}"
        if pages or following is not None:
            pages.append(path)
        path = following.removeprefix(settings.site_url) if following is not None else None
        assert path is None or path not in pages, "the chain loops"
    return ids, pages


def check_chains(read: Callable[[str], bytes], settings: Settings, catalog: Catalog, feeds: list[Feed]) -> int:
    checked = 0
    for feed in feeds:
        for fmt in Format:
            ids, pages = walk(read, settings, feed, fmt)
            assert ids == every_article(feed), (feed.path, fmt)  # each exactly once, newest first
            assert len(pages) == (archive_pages(feed, settings.archive_page_size) + 1 if feed.older else 0)
            checked += 1
    return checked


def test_samples_archive_chain_recovers_every_article_once(tmp_path: Path) -> None:
    settings, catalog = load(SAMPLES)
    export_site(catalog, settings, tmp_path / "out")
    files = contents(tmp_path / "out")
    with_archive = [feed for feed in catalog.feeds if feed.older]
    assert len(with_archive) >= 3
    assert check_chains(files.__getitem__, settings, catalog, list(catalog.feeds)) == 3 * len(catalog.feeds)
    archive_files = {p for p in files if p.startswith("archive/") and not p.endswith(".gz")}
    assert archive_files == {p for p in site_paths(catalog, settings) if p.startswith("archive/")}


def test_real_corpus_archive_chains(real_corpus: Path, tmp_path: Path) -> None:
    settings, catalog = load(real_corpus, items_per_feed=50, archive_page_size=100)
    export_site(catalog, settings, tmp_path / "out")
    root = (tmp_path / "out").resolve()
    biggest = sorted(catalog.feeds, key=lambda f: -f.total)[:4]  # all, and the largest topics/providers
    assert biggest[0].path == "all" and len(biggest[0].older) > 100
    check_chains(lambda p: (root / p).read_bytes(), settings, catalog, biggest)


def test_a_new_article_changes_no_full_archive_page(tmp_path: Path) -> None:
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    settings, before = load(articles)
    export_site(before, settings, tmp_path / "out")
    old = contents(tmp_path / "out")
    for number in range(3):  # enough to fill a page and start the next one
        write_article(articles, f"zz-new-{number}.md", title=f"New {number}", topics=["AI"], provider="Orbit Daily",
                      date=f"2030-01-0{number + 1}T12:00:00Z")  # fmt: skip
        settings, after = load(articles)
        export_site(after, settings, tmp_path / "out")
        new = contents(tmp_path / "out")
        for path, data in old.items():
            parts = split_archive_path(path.removesuffix(".gz"), settings)
            if parts is None:
                continue
            feed = before.get(parts[0])
            if len(feed.older) >= parts[1] * settings.archive_page_size:  # it was full
                assert new[path] == data, path
        # a fresh export of the same input has the same bytes as the incremental one
        export_site(after, settings, tmp_path / f"fresh-{number}")
        assert contents(tmp_path / f"fresh-{number}") == new
        old, before = new, after


def test_archive_pages_are_stable_and_disjoint_from_feed_paths() -> None:
    settings, catalog = load(SAMPLES)
    paths = site_paths(catalog, settings)
    archive = [p for p in paths if p.startswith("archive/")]
    assert archive and len(paths) == len(set(paths))
    for path in archive:
        feed_path, page, fmt = split_archive_path(path, settings)
        assert catalog.get(feed_path) is not None and path == f"archive/{feed_path}/{page}.{fmt.extension}"
    feed = catalog.get("all")
    last = archive_pages(feed, settings.archive_page_size)
    for bad in ("archive/all/0.rss", f"archive/all/{last + 1}.rss", "archive/all/01.rss", "archive/all/+1.rss",
                "archive/all/1.xml", "archive/nope/1.rss", "archive/all.rss", "archive/1.rss",
                "archive/all/\u0661.rss"):  # fmt: skip
        assert render_path(bad, catalog, settings) is None, bad
    off = dataclasses.replace(settings, archive_page_size=0)
    assert not [p for p in site_paths(catalog, off) if p.startswith("archive/")]
    assert b"prev-archive" not in render_path("all.rss", catalog, off).body
    assert b'"next_url"' not in render_path("all.json", catalog, off).body


def test_the_app_serves_archive_pages_with_the_export_bytes(tmp_path: Path) -> None:
    settings, catalog = load(SAMPLES)
    client = create_app(settings).test_client()
    for path in [p for p in site_paths(catalog, settings) if p.startswith("archive/")]:
        response = client.get("/" + path)
        assert response.status_code == 200, path
        assert response.data == render_path(path, catalog, settings).body
        assert response.headers["Content-Type"] == split_archive_path(path, settings)[2].media_type
    assert client.get("/archive/all/999.rss").status_code == 404


def test_each_feeds_page_links_its_newest_archive_page() -> None:
    settings, catalog = load(SAMPLES)
    for feed in catalog.feeds:
        page = render_path(f"{feed.path}.html", catalog, settings).body.decode()
        count = archive_pages(feed, settings.archive_page_size)
        assert (f'href="{BASE_URL}archive/{feed.path}/{count}.rss"' in page) == bool(count)
        if count:
            assert f" in {count} archive page" in page


@pytest.mark.parametrize("size", [1, 3, 100])
def test_pages_hold_the_older_items_oldest_first(size: int) -> None:
    settings, catalog = load(SAMPLES, archive_page_size=size)
    feed = catalog.get("all")
    count = archive_pages(feed, size)
    assert count == len(feed.older) // size + 1
    seen = []
    for page in range(1, count + 1):
        parsed = feedparser.parse(render_path(f"archive/all/{page}.atom", catalog, settings).body)
        ids = [entry.id for entry in parsed.entries]
        assert len(ids) == (size if page < count else len(feed.older) % size)
        seen += reversed(ids)
    assert seen == [a.uid for a in feed.older]
