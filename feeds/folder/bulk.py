"""Rendering many site documents at once, on all cores: each item once, each file written where it is rendered.

The exporter's engine for big renders (a cold export, an export after a code
change). An article is an item of several documents (the all feed, each of its
topics, its provider; current document or archive page) in each format.
Rendering every document's items anew had feedgen build each entry about four
times per format, 70% of a cold export with archive pages, so a big render
starts with an *item pass*: every distinct article's items, built once (on all
cores) into an unnamed temporary file beside the export (:class:`_ItemStore`);
documents splice them in (:func:`feeds.render.feed.render_feed`'s ``fragments``).
The same pass builds each list item the feed pages show (about two pages per
article), so the document workers neither render one twice nor decode the
article's details again (:func:`feeds.render.feed_page.render_feed_page`'s ``items``). A
file rather than memory: at 100,000 articles it holds a third of a gigabyte,
which would otherwise be in every process at once.

Then the documents, in chunks: rendered, compressed and, when a ``placer`` is
given (the export's new generation), written by the worker that rendered them,
so only a small record per file crosses back to the main process. Rendering is
pure, so forked workers give the bytes rendering in-process gives.

On N cores, N - 1 workers are forked and the calling process renders tasks
too, the next one whenever it is free (:mod:`feeds.folder.pool`): each forked
worker holds tens of MiB of its own (copies of the catalog's pages as it touches
them, its own heap), while the caller mostly waited on the pool; so the same
parallelism costs one worker's memory less (issue 20). Workers get the job
(catalog, settings, item store, placer) from their pool's initializer; a worker
that dies raises :class:`~feeds.folder.pool.WorkerDied`.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any, Protocol

from feeds.config import Settings
from feeds.folder.cdn import ENCODINGS
from feeds.folder.pool import mapped
from feeds.index.catalog import Catalog, document_items
from feeds.model import Article
from feeds.read.cached_details import decode_located
from feeds.render.feed import WRITERS, Format, Rendered, forget_item_memos, item_fragment, over_budget
from feeds.render.feed_page import page_item
from feeds.render.site import feed_document, render_path, split_page_path

# Fewer documents than this render in-process and without the item pass: a pool
# and a temporary file cost more than they save.
PARALLEL_THRESHOLD = 200
_DOCUMENT_CHUNK = 16  # documents per task
_ITEM_CHUNK = 128  # articles per task of the item pass


class Placer(Protocol):
    """Where rendered documents go (the export's generation): called in the worker that rendered them."""

    def place_document(self, relative: str, rendered: Rendered, encoded: dict[str, bytes]) -> list[Any]: ...


@dataclass(frozen=True)
class _Job:
    """Everything one bulk render reads; forked workers inherit it through their pool's initializer."""

    catalog: Catalog
    settings: Settings
    fragments: _ItemStore | None = None
    placer: Placer | None = None
    articles: tuple[Article, ...] = ()  # the item pass's
    formats: tuple[Format, ...] = ()
    paged: frozenset[int] = frozenset()  # the item pass's: rows (in ``articles``) a feed page shows
    release: bool = False  # a pooled render (a worker's or the caller's share): drop decoded details after use
    tail: _StoreTail | None = None  # the item pass's: where each process writes the items it rendered


def _pooled(job: _Job) -> _Job:
    """The job every share of a pooled render runs with, a worker's or this process's: it drops each
    restored article's decoded details after use (bounded memory), which one process alone need not."""
    return dataclasses.replace(job, release=True)


# --- the item pass ------------------------------------------------------------------------------------


class _StoreTail:
    """The end of the item store's file, shared by the processes of one item pass: each reserves the next
    bytes for a chunk's items under a lock and writes them there itself (``os.pwrite``: the open file's
    shared offset is never used), returning only where they went and their lengths.

    A chunk's items (~1 MB of 128 articles') no longer cross the pool's pipe: a worker wrote them into it
    and then waited, ~10 ms a chunk, for the exporting process, busy rendering its own share, to read them
    (issue 20: at 10,000 articles the pass took ~0.7 s on two cores for ~0.96 CPU-s of rendering).
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._descriptor = handle.fileno()
        self._end = get_context("fork").Value("q", 0)  # shared memory and a lock: inherited by forked workers

    def append(self, data: bytes) -> int:
        """Write ``data`` after everything reserved before it; where it starts."""
        with self._end.get_lock():
            start = self._end.value
            self._end.value = start + len(data)
        view, written = memoryview(data), 0
        while written < len(data):  # a regular file takes it in one call; a short write is continued
            written += os.pwrite(self._descriptor, view[written:], start + written)
        return start


class _ItemStore:
    """Every article's item bytes for one render, read back with one ``pread`` each.

    An item dated in its document (an Atom entry) whose date is not its publication
    time (a tie moved it by a few milliseconds), or an article the pass did not see, is rendered
    where it is needed. Each row has one column per format, then, when a page shows any
    article, one for its page item (:meth:`page_item`; empty in the rows of articles no page shows).
    """

    def __init__(self, handle: IO[bytes], spans: tuple[array, array], job: _Job) -> None:
        """``job``: the item pass's (its articles and formats, in the order ``spans`` follow)."""
        self._handle, self._descriptor = handle, handle.fileno()
        # article (by identity) → its row; row * width + column → (offset, length)
        self._rows = {id(article): row for row, article in enumerate(job.articles)}
        self._articles = job.articles  # keeps every id above alive, so none can be reused
        self._offsets, self._lengths = spans
        self._columns = {fmt: column for column, fmt in enumerate(job.formats)}
        # formats whose item shows its date in one document (a tie moves it there): FeedWriter.dated_items
        self._dated = frozenset(fmt for fmt in job.formats if WRITERS[fmt].dated_items)
        self._page_column = len(job.formats) if job.paged else None
        self._width = len(job.formats) + (1 if job.paged else 0)
        self._catalog, self._settings = job.catalog, job.settings

    def __call__(self, articles: Sequence[Article], fmt: Format, stamps: Sequence[datetime]) -> list[bytes]:
        """A document's items (:data:`feeds.render.feed.Fragments`): its format looked up once, then
        one ``pread`` an item (64,194 at 10,000 articles: the loop is kept free of helper calls)."""
        column, dated = self._columns.get(fmt), fmt in self._dated
        row_of, width, offsets, lengths = self._rows.get, self._width, self._offsets, self._lengths
        pread, descriptor = os.pread, self._descriptor
        items: list[bytes] = []
        for article, updated in zip(articles, stamps, strict=True):
            row = row_of(id(article))
            if row is None or column is None or (dated and updated != article.published_at):
                items.append(item_fragment(article, fmt, self._catalog, self._settings, updated))
            else:
                index = row * width + column
                items.append(pread(descriptor, lengths[index], offsets[index]))
        return items

    def page_item(self, article: Article) -> str:
        """The article's list item on a feed page: :func:`feeds.render.feed_page.page_item`'s text."""
        row = self._rows.get(id(article))
        if row is not None and self._page_column is not None:
            index = row * self._width + self._page_column
            length = self._lengths[index]
            if length:  # a page item is never empty: empty is a row no page showed
                return os.pread(self._descriptor, length, self._offsets[index]).decode()
        return page_item(article, self._catalog, self._settings)

    def close(self) -> None:
        self._handle.close()


def _render_items(job: _Job, bounds: tuple[int, int]) -> tuple[int, list[int]]:
    """Some articles' items in every format (and page items), written end to end into the store (``job.tail``):
    where they start, and their lengths (article by article)."""
    parts: list[bytes] = []
    chunk = job.articles[bounds[0] : bounds[1]]
    # one query for the chunk, not one an article; a forked worker's goes through a connection of its own
    # (ParseCache opens one per process and never uses or closes the one inherited across the fork)
    decode_located(chunk)
    try:
        for row in range(bounds[0], bounds[1]):
            article = job.articles[row]
            moment = article.published_at
            parts.extend(item_fragment(article, fmt, job.catalog, job.settings, moment) for fmt in job.formats)
            if job.paged:
                parts.append(page_item(article, job.catalog, job.settings).encode() if row in job.paged else b"")
            if job.release:  # bounded memory, as in _render_documents
                article.release_details()
    finally:
        if job.release:  # an error amid the chunk (CacheDamaged, say) leaves none of its details decoded
            for article in chunk:
                article.release_details()
    forget_item_memos()  # each item is rendered once here: the writers' memos would only fill
    assert job.tail is not None  # the item pass's job always has one
    return job.tail.append(b"".join(parts)), [len(part) for part in parts]


def _shared_items(
    paths: list[str], catalog: Catalog, settings: Settings
) -> tuple[list[Article], tuple[Format, ...], frozenset[int]]:
    """The distinct articles of the feed documents and feed pages among ``paths`` (first appearance
    order), the documents' formats, and the indexes (in that list) of the articles a page shows."""
    seen: dict[int, Article] = {}
    formats: set[Format] = set()
    on_pages: set[int] = set()  # id(article)
    for path in paths:
        document = feed_document(path, catalog, settings)
        if document is not None:
            formats.add(document[2])
            for article in document_items(document[0], document[1], settings.archive_page_size):
                seen.setdefault(id(article), article)
            continue
        page = split_page_path(path)
        feed = catalog.get(page) if page is not None else None
        if feed is not None:
            for article in feed.items:
                seen.setdefault(id(article), article)
            on_pages.update(map(id, feed.items))
    paged = frozenset(row for row, key in enumerate(seen) if key in on_pages)
    return list(seen.values()), tuple(fmt for fmt in Format if fmt in formats), paged


def _item_store(
    paths: list[str], job: _Job, workers: int, scratch: Path | None, on_start: Callable[[], None] | None
) -> _ItemStore | None:
    """The item pass; None when the documents hold no item."""
    articles, formats, paged = _shared_items(paths, job.catalog, job.settings)
    if not articles:
        return None
    handle = tempfile.TemporaryFile(dir=scratch)  # unnamed where the OS allows: nothing left if killed
    tail = _StoreTail(handle)
    items_job = _Job(job.catalog, job.settings, articles=tuple(articles), formats=formats, paged=paged, tail=tail)
    try:
        bounds = [(start, min(start + _ITEM_CHUNK, len(articles))) for start in range(0, len(articles), _ITEM_CHUNK)]
        offsets, lengths = array("q"), array("q")
        with closing(mapped(items_job, _render_items, bounds, workers, on_start, _pooled(items_job))) as results:
            for offset, sizes in results:
                for size in sizes:
                    offsets.append(offset)
                    lengths.append(size)
                    offset += size
    except BaseException:
        handle.close()
        raise
    return _ItemStore(handle, (offsets, lengths), items_job)


# --- documents ----------------------------------------------------------------------------------------


def _render_documents(job: _Job, paths: list[str]) -> list[tuple[str, Rendered, dict[str, bytes]]]:
    """Render and compress some site paths."""
    results = []
    for path in paths:
        store = job.fragments
        rendered = render_path(path, job.catalog, job.settings, store, store.page_item if store is not None else None)
        if rendered is None:  # pragma: no cover - callers only list renderable paths
            raise AssertionError(f"site path {path} has no renderer")
        results.append((path, rendered, {e.suffix: e.compress(rendered) for e in ENCODINGS}))
    if job.release:  # bounded memory: a process keeps no decoded article from one chunk to the next
        shown: dict[int, Article] = {}  # each once: a chunk holds a feed in every format, pages after pages
        for path in paths:
            document = feed_document(path, job.catalog, job.settings)
            if document is not None:
                for article in document_items(document[0], document[1], job.settings.archive_page_size):
                    shown[id(article)] = article
        for article in shown.values():
            article.release_details()
    return results


def _place_documents(job: _Job, paths: list[str]) -> list[tuple[str, str, bool, list[Any]]]:
    """Render some site paths and place them: (path, media type, over budget, what the placer reported)."""
    assert job.placer is not None
    placed = []
    for path, rendered, encoded in _render_documents(job, paths):
        files = job.placer.place_document(path, rendered, encoded)
        placed.append((path, rendered.media_type, over_budget(rendered, job.settings), files))
    return placed


def _bulk(
    paths: list[str],
    job: _Job,
    function: Callable[[_Job, list[str]], list],
    workers: int | None,
    scratch: Path | None,
    on_start: Callable[[], None] | None,
) -> Iterator[Any]:
    workers = workers if workers is not None else (os.cpu_count() or 1)
    big = len(paths) >= PARALLEL_THRESHOLD
    store = _item_store(paths, job, workers, scratch, on_start) if big else None
    try:
        job = dataclasses.replace(job, fragments=store)
        chunks = [paths[i : i + _DOCUMENT_CHUNK] for i in range(0, len(paths), _DOCUMENT_CHUNK)]
        with closing(mapped(job, function, chunks, workers if big else 1, on_start, _pooled(job))) as results:
            for result in results:
                yield from result
    finally:
        if store is not None:
            store.close()


def render_documents(
    paths: list[str],
    catalog: Catalog,
    settings: Settings,
    *,
    workers: int | None = None,
    scratch: Path | None = None,
    on_worker_start: Callable[[], None] | None = None,
) -> Iterator[tuple[str, Rendered, dict[str, bytes]]]:
    """(path, rendered, compressed copies) for each path, in order; on all cores when there are many.

    ``scratch``: the folder of the item pass's temporary file (default: the
    system's). ``on_worker_start`` runs first in each forked worker (the
    exporter closes its lock there). Close the iterator if you stop early.
    """
    return _bulk(paths, _Job(catalog, settings), _render_documents, workers, scratch, on_worker_start)


def place_documents(
    paths: list[str],
    catalog: Catalog,
    settings: Settings,
    placer: Placer,
    *,
    workers: int | None = None,
    scratch: Path | None = None,
    on_worker_start: Callable[[], None] | None = None,
) -> Iterator[tuple[str, str, bool, list[Any]]]:
    """:func:`render_documents`, each document handed to ``placer`` where it was rendered.

    Yields (path, media type, over budget, what ``placer.place_document`` returned),
    in order. The placer runs in a forked worker when there are many documents,
    so it must only change the file system and report what it did.
    """
    job = _Job(catalog, settings, placer=placer)
    return _bulk(paths, job, _place_documents, workers, scratch, on_worker_start)
