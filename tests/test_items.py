"""Items rendered once, spliced into documents: the same bytes as feedgen writing each document itself.

A feed document is feedgen's frame (channel or feed, no entries) with each
item's bytes spliced in (``feeds.render.feed``); the exporter renders every
article's items once for the whole export (``feeds.folder.export._ItemStore``). These
tests hold both to the reference: feedgen adding every entry to the document
and serialising it, as the renderer did before (and as feedgen's users do).
"""

from __future__ import annotations

import dataclasses
import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from feedgen.ext.base import BaseExtension

import feeds.folder.bulk as bulk_module
from feeds.config import Settings
from feeds.folder.bulk import render_documents
from feeds.folder.export import export_site
from feeds.index.catalog import Catalog, archive_items, archive_pages, build_catalog, document_items
from feeds.model import (
    Article,
    Image,
    Provider,
    details_record,
    head_record,
    pack_details,
    record_digest,
    unpack_details,
)
from feeds.read.reader import read_folder
from feeds.render import feed as render  # `feed` is a local name here
from feeds.render import xmlfeed
from feeds.render.atom import AtomEnclosureExtension
from feeds.render.feed import Format, render_archive, render_feed
from feeds.render.gzipped import ARCHIVE_GZIP_LEVEL, GZIP_LEVEL, gzip_bytes, gzip_rendered
from feeds.render.rss import provider_feed_url
from feeds.render.site import feed_document, render_path, site_paths
from feeds.server.web import create_app

from .conftest import BASE_URL, SAMPLES, require_shared
from .test_render import HOSTILE, make_article

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "real"


class _FeedHalf(BaseExtension):
    """feedgen wants a feed-level class beside an entry extension."""


def feedgen_document(feed, fmt: Format, catalog: Catalog, settings: Settings, page: int) -> bytes:
    """The reference: feedgen adds every entry to the document itself (``add_entry``) and serialises it."""
    writer = render.WRITERS[fmt]
    if page:
        items = archive_items(feed, page, settings.archive_page_size)
        shown = dataclasses.replace(feed, items=items, older=())
        url = settings.site_url + render.archive_path(feed.path, page, fmt)
        updated = items[0].published_at if items else feed.older[-1].published_at
    else:
        shown, url, updated = feed, render.feed_url(settings, feed.path, fmt), None
    links = render.archive_links(feed, fmt, settings, page)
    stamps = xmlfeed.distinct_updated(shown.items)
    stamp = max(filter(None, (updated, max(stamps) if stamps else None)), default=None)
    stamp = stamp or (catalog.feeds[0].updated if catalog.feeds else None) or render.EMPTY_FEED_DATE
    home = render.home_url(feed, catalog, settings)
    generator = writer.new_generator(shown, settings, url, stamp, links, home=home)
    if fmt is Format.ATOM:
        generator.register_extension("enclosure_fix", _FeedHalf, AtomEnclosureExtension, atom=True, rss=False)
    for article, item_stamp in zip(shown.items, stamps, strict=True):
        entry = generator.add_entry(order="append")
        source = provider_feed_url(catalog, settings, article) if fmt is Format.RSS else None
        writer.fill_entry(entry, article, source, item_stamp)
    document = generator.rss_str(pretty=True) if fmt is Format.RSS else generator.atom_str(pretty=True)
    return document


def every_xml_document(catalog: Catalog, settings: Settings):
    for feed in catalog.feeds:
        for fmt in (Format.RSS, Format.ATOM):
            yield feed, fmt, 0
            for page in range(1, archive_pages(feed, settings.archive_page_size) + 1):
                yield feed, fmt, page


def assert_spliced_equals_feedgen(catalog: Catalog, settings: Settings) -> int:
    checked = 0
    for feed, fmt, page in every_xml_document(catalog, settings):
        ours = render_archive(feed, page, fmt, catalog, settings) if page else render_feed(feed, fmt, catalog, settings)
        assert ours.body == feedgen_document(feed, fmt, catalog, settings, page), (feed.path, fmt, page)
        checked += 1
    return checked


def tied_catalog(count: int = 14, **overrides) -> tuple[Catalog, Settings]:
    """Hostile text, ties (same second: Atom ``updated`` moves by milliseconds), images, providers, topics."""
    settings = Settings(base_url=BASE_URL, archive_page_size=3, items_per_feed=4, websub_hub="https://hub.example/")
    settings = dataclasses.replace(settings, **overrides)
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    articles = []
    for n in range(count):
        articles.append(
            make_article(
                n,
                title=HOSTILE[n % len(HOSTILE)] + f" #{n}",
                summary=HOSTILE[(n + 1) % len(HOSTILE)] + "\nsecond line\n\tindented",
                published_at=t0 - timedelta(minutes=10 * (n // 3)),  # three at a time in the same second
                provider=Provider(f"Provider {n % 2} & <Co>", f"p{n % 2}.example") if n % 4 else None,
                topics=("AI", "Ünïcode ☃") if n % 2 else ("AI",),
                images=(Image(f"https://img.example/{n}.jpg?a=1&b=<2>", 640, 480),) if n % 3 else (),
            )
        )
    return build_catalog(articles, settings), settings


def test_spliced_documents_equal_feedgen_writing_every_entry_itself_on_samples() -> None:
    settings = Settings(base_url=BASE_URL, archive_page_size=2, items_per_feed=3)
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    assert assert_spliced_equals_feedgen(catalog, settings) > 20


def test_spliced_documents_equal_feedgen_with_ties_hostile_text_and_a_hub() -> None:
    catalog, settings = tied_catalog()
    stamps = xmlfeed.distinct_updated(catalog.get("all").items)
    assert any(s != a.published_at for s, a in zip(stamps, catalog.get("all").items, strict=True)), "no tie"
    assert assert_spliced_equals_feedgen(catalog, settings) > 20


def test_spliced_documents_equal_feedgen_on_the_real_corpus() -> None:
    corpus = require_shared(REAL)
    settings = Settings(base_url=BASE_URL, archive_page_size=25, include_unpublished=True)
    catalog = build_catalog(read_folder(corpus, settings).articles, settings)
    assert assert_spliced_equals_feedgen(catalog, settings) > 100


def test_the_item_pass_builds_each_entry_once_and_gives_the_plain_bytes(monkeypatch) -> None:
    import feeds.folder.bulk as bulk_module

    catalog, settings = tied_catalog()
    paths = site_paths(catalog, settings)
    many = (paths * 20)[:250]  # over PARALLEL_RENDER_THRESHOLD: the item pass runs
    plain = {path: render_path(path, catalog, settings) for path in paths}
    xmlfeed.xml_item.cache_clear()
    built: list[tuple[str, Format]] = []
    real_fill = xmlfeed.XmlWriter.fill_entry

    def counting_fill(writer, entry, article, *rest):
        built.append((article.uid, writer.format))
        return real_fill(writer, entry, article, *rest)

    monkeypatch.setattr(xmlfeed.XmlWriter, "fill_entry", counting_fill)
    paged: list[str] = []  # the articles whose feed-page item was built
    real_page_item = bulk_module.page_item

    def counting_page_item(article, *rest):
        paged.append(article.uid)
        return real_page_item(article, *rest)

    monkeypatch.setattr(bulk_module, "page_item", counting_page_item)
    results = list(render_documents(many, catalog, settings, workers=1))
    assert [path for path, _, _ in results] == many
    for path, rendered, encoded in results:
        assert rendered.body == plain[path].body, path
        assert encoded == {".gz": gzip_rendered(plain[path])}
    # once per article and XML format in the item pass, plus the Atom entries a tie moved
    ties = set()
    for path in paths:
        parts = feed_document(path, catalog, settings)
        if parts is not None and parts[2] is Format.ATOM:
            items = document_items(parts[0], parts[1], settings.archive_page_size)
            stamps = xmlfeed.distinct_updated(items)
            ties |= {a.uid for a, s in zip(items, stamps, strict=True) if s != a.published_at}
    articles = {a.uid for feed in catalog.feeds for a in feed.items + feed.older}
    assert sum(1 for _, fmt in built if fmt is Format.RSS) == len(articles)
    atom_built = [uid for uid, fmt in built if fmt is Format.ATOM]
    assert len(atom_built) - len(articles) <= len(ties) * len(catalog.feeds)
    assert set(atom_built) == articles
    # each article a feed page shows: its page item built once, though most pages share it
    on_pages = [a.uid for feed in catalog.feeds for a in feed.items]
    assert sorted(paged) == sorted(set(on_pages)) and len(on_pages) > len(paged)


def test_archive_pages_are_gzipped_for_speed_current_documents_for_size(tmp_path: Path) -> None:
    catalog, settings = tied_catalog()
    export_site(catalog, settings, tmp_path / "out")
    for path in site_paths(catalog, settings):
        rendered = render_path(path, catalog, settings)
        exported = (tmp_path / "out" / (path + ".gz")).read_bytes()
        level = ARCHIVE_GZIP_LEVEL if path.startswith("archive/") else GZIP_LEVEL
        assert exported == gzip_bytes(rendered.body, level) == gzip_rendered(rendered), path
        assert gzip.decompress(exported) == rendered.body
    assert ARCHIVE_GZIP_LEVEL < GZIP_LEVEL


def test_the_app_gzips_an_archive_page_as_the_export_did(tmp_path: Path) -> None:
    settings = Settings(base_url=BASE_URL, articles_dir=SAMPLES, archive_page_size=2, items_per_feed=3)
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    export_site(catalog, settings, tmp_path / "out")
    client = create_app(settings).test_client()
    archived = [p for p in site_paths(catalog, settings) if p.startswith("archive/")]
    assert archived
    for path in archived[:12] + ["all.rss"]:
        response = client.get("/" + path, headers={"Accept-Encoding": "gzip"})
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.data == (tmp_path / "out" / (path + ".gz")).read_bytes(), path


@pytest.mark.parametrize("workers", [1, 2])
def test_export_through_the_item_pass_equals_the_renderer(tmp_path: Path, workers: int, monkeypatch) -> None:
    import feeds.folder.bulk as bulk_module

    catalog, settings = tied_catalog()
    monkeypatch.setattr(bulk_module, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(bulk_module.os, "cpu_count", lambda: workers)
    export_site(catalog, settings, tmp_path / "out")
    for path in site_paths(catalog, settings):
        assert (tmp_path / "out" / path).read_bytes() == render_path(path, catalog, settings).body, path


def test_workers_bring_a_recycled_standby_up_to_date(tmp_path: Path, monkeypatch) -> None:
    """Forked workers place files into a recycled generation: the published site is exactly the renderer's."""
    import feeds.folder.bulk as bulk_module

    monkeypatch.setattr(bulk_module, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(bulk_module.os, "cpu_count", lambda: 2)
    out = tmp_path / "out"
    for count, page_size in ((14, 3), (9, 3), (17, 2), (12, 3)):  # the third and fourth recycle a standby
        catalog, settings = tied_catalog(count, archive_page_size=page_size)
        summary = export_site(catalog, settings, out)
        assert summary.published
        expected = set()
        for path in site_paths(catalog, settings):
            rendered = render_path(path, catalog, settings)
            assert (out / path).read_bytes() == rendered.body, (count, path)
            assert (out / (path + ".gz")).read_bytes() == gzip_rendered(rendered), (count, path)
            expected |= {path, path + ".gz"}
        present = {str(p.relative_to(out.resolve())) for p in out.resolve().rglob("*") if p.is_file()}
        assert present - expected == {"_headers", "_nginx.conf", "_manifest.json"}, count


def test_a_budget_cut_feed_through_the_item_pass_equals_the_plain_render() -> None:
    catalog, settings = tied_catalog(30, max_feed_bytes=9_000, items_per_feed=12)
    paths = site_paths(catalog, settings)
    results = list(render_documents((paths * 40)[:300], catalog, settings, workers=1))
    assert any(rendered.dropped for _, rendered, _ in results)
    for path, rendered, _ in results:
        plain = render_path(path, catalog, settings)
        assert (rendered.body, rendered.dropped) == (plain.body, plain.dropped), path


def test_a_pooled_render_leaves_no_decoded_details_in_the_calling_process(monkeypatch) -> None:
    """The caller's share releases what it decoded, as a worker does (restored articles: details decoded on use)."""
    settings = Settings(base_url=BASE_URL, archive_page_size=3, items_per_feed=4)
    whole = [make_article(n, summary=f"summary {n}", topics=("AI",)) for n in range(40)]
    restored = []
    for article in whole:  # as the parse cache restores them: the digest known, the details packed
        head, packed = head_record(article), pack_details(details_record(article))
        restored.append(Article.restore(head, packed, unpack_details, record_digest(head, packed)))
    catalog = build_catalog(restored, settings)
    monkeypatch.setattr(bulk_module, "PARALLEL_THRESHOLD", 10)
    paths = site_paths(catalog, settings)
    results = list(render_documents(paths, catalog, settings, workers=2))
    slot = Article.__dict__["title"]  # read without __getattr__, which would decode it
    assert [article.source for article in restored if _has(slot, article)] == []
    assert [path for path, _, _ in results] == paths
    for path, rendered, _ in results:
        assert rendered.body == render_path(path, build_catalog(whole, settings), settings).body, path


def _has(slot, article: Article) -> bool:
    try:
        slot.__get__(article, Article)
    except AttributeError:
        return False
    return True


def test_the_item_pass_leaves_the_writers_item_memos_empty() -> None:
    """It renders each article's items once: what a memo kept would never be read (and cost ~40 MiB at
    10k, the items' HTML bodies ~10 MiB more)."""
    from feeds.render.jsonfeed import _json_fragment

    catalog, settings = tied_catalog(30)
    paths = site_paths(catalog, settings)
    xmlfeed.xml_item(render.WRITERS[Format.RSS], catalog.feeds[0].items[0], None, None)  # something to forget
    render.content_html(catalog.feeds[0].items[1])
    store = bulk_module._item_store(paths, bulk_module._Job(catalog, settings), 1, None, None)
    assert store is not None
    try:
        assert xmlfeed.xml_item.cache_info().currsize == 0 and _json_fragment.cache_info().currsize == 0
        assert render.content_html.cache_info().currsize == 0
        for path in paths:  # the documents from the pass's items are the renderer's
            spliced = render_path(path, catalog, settings, store, store.page_item)
            assert spliced.body == render_path(path, catalog, settings).body, path
    finally:
        store.close()


def test_a_documents_generator_has_the_media_extension_feedgens_loader_gives() -> None:
    """new_generator registers feedgen's media classes itself (load_extension searches the file
    system for a module feedgen.ext.media_entry at every call): the same classes, formats and bytes."""
    from feedgen.feed import FeedGenerator

    def media(generator: FeedGenerator) -> tuple:
        found = generator._FeedGenerator__extensions["media"]  # feedgen's own registry
        return found["extension_class_feed"], found["extension_class_entry"], found["atom"], found["rss"]

    reference = FeedGenerator()
    reference.load_extension("media", atom=True, rss=True)
    catalog, settings = tied_catalog()
    feed = catalog.get("all")
    for fmt in (Format.RSS, Format.ATOM):
        ours = render.WRITERS[fmt].new_generator(feed, settings, BASE_URL, render.EMPTY_FEED_DATE, home=BASE_URL)
        assert media(ours) == media(reference)


def test_a_pooled_item_pass_over_cached_articles_decodes_them_in_batches_with_damage_amid_them(
    monkeypatch: pytest.MonkeyPatch, cached_settings: Settings
) -> None:
    """Articles restored from the parse cache have their details fetched a chunk at a time, in the workers
    and in the calling process alike; a detail gone or damaged amid a chunk costs that article its file
    read again, never a wrong item; the bytes are an uncached render's and the caller keeps nothing decoded."""
    import sqlite3

    import feeds.read.cached_details as cached_details
    from feeds.read.load import load_folder
    from feeds.read.parsecache import cache_path

    settings = dataclasses.replace(cached_settings, archive_page_size=5)
    load_folder(settings)  # cold: the cache is filled
    folder, stats = load_folder(settings)
    assert stats.cached == stats.files > 12
    restored = list(folder.articles)
    with sqlite3.connect(cache_path(settings)) as connection:  # a row gone, one not bytes, one another's bytes
        connection.execute("DELETE FROM details WHERE digest = ?", (restored[3].digest,))
        connection.execute("UPDATE details SET packed = 'x' WHERE digest = ?", (restored[10].digest,))
        connection.execute(
            "UPDATE details SET packed = (SELECT packed FROM details WHERE digest = ?) WHERE digest = ?",
            (restored[6].digest, restored[5].digest),
        )
    batches = []
    decode = cached_details.decode_located
    monkeypatch.setattr(bulk_module, "decode_located", lambda chunk: batches.append(len(chunk)) or decode(chunk))
    monkeypatch.setattr(bulk_module, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(bulk_module, "_ITEM_CHUNK", 4)
    catalog = build_catalog(restored, settings)
    paths = site_paths(catalog, settings)
    results = list(render_documents(paths, catalog, settings, workers=3))
    assert batches  # the calling process's share went through the batch too (the workers' are not seen here)
    reference = build_catalog(read_folder(settings.articles_dir, settings).articles, settings)
    assert [path for path, _, _ in results] == paths
    for path, rendered, _ in results:
        assert rendered.body == render_path(path, reference, settings).body, path
    slot = Article.__dict__["title"]
    assert [article.source for article in restored if _has(slot, article)] == []
