"""The static export: every site path written to a folder for a CDN, atomically.

``OUT_DIR`` is a real folder: the live generation itself. A new generation is
built beside it in ``.OUT_DIR.d/`` (unchanged files are hard links to the live
ones, so their bytes, inode and mtime stay as they were), then exchanged with
``OUT_DIR`` in one atomic ``renameat2(RENAME_EXCHANGE)`` (:func:`feeds.folder.flip.flip`,
with the fallback for file systems that refuse it): a server opening files under
``OUT_DIR`` sees the old site or the new one, never a mix, and ``find``, ``cp -r``
or ``du`` of ``OUT_DIR`` see the site's files. An export killed at any point leaves
the previous generation in place; the next run removes what the killed one left
behind. An export that changes nothing publishes nothing.

Two generations are kept: the live one and the one live before it (the
*standby*), which the exchange leaves in the store where the new one was built.
The next export recycles the standby: renames it to the new generation's name (a
reader still copying it by its store path sees files vanish, as when it was
deleted, never a mix), brings it up to date — only the files that differ from the
new site are replaced, removed or added, each as a new file (never written into:
a standby file may be a hard link to a live one); files outside its record and
folders left empty go — and flips to it. At 100,000 articles with archive pages
that is a few files instead of ~30,000 hard links per change. The standby's record
(its signatures file) is deleted before it is touched, so a run killed halfway
leaves a folder that is never trusted again: the next run builds a fresh
generation. A standby holding a symlink, or a folder where a file goes (or the
reverse), is not recycled either. Generations are known by their folder's and
manifest's inodes, not their names (see :mod:`feeds.folder.outdir`).

A reader holding a file open keeps reading its bytes (nothing is written into a
file). The limit: a reader that entered ``OUT_DIR`` (``cd`` into it, ``tar -C``)
rather than opening each file by its full path stays in that folder as it moves
into the store: one export later it still reads the old site, whole; if it is
still reading two exports later, it can copy a mix without an error.

Files are trusted by the [size, mtime_ns] their export recorded: a file edited
in place with its mtime set back is not noticed. Under ``export --watch`` a file
no inotify event named since this process recorded it is trusted without a stat
(:mod:`feeds.folder.outwatch`; within inotify's limits, listed there, the same bytes and records). A
file added to the live site
by hand is noticed (each export and the no-change check list the folder) and is
not in the next generation.

Atomic against a killed process, not against power loss: nothing is fsynced.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.config import Settings
from feeds.folder import cdn, flip, outdir
from feeds.folder.bulk import place_documents
from feeds.folder.generation import ExportError, Generation, safe_target, with_encodings
from feeds.folder.listing import conflicts, holds_exactly, list_files, stat_of, walk_or_none
from feeds.folder.pool import WorkerDied
from feeds.folder.records import (
    FILES_KEY,
    INPUTS_KEY,
    RecordMemo,
    drop_records,
    manifest_infos,
    read_json,
    record_of,
    remember_manifest,
    write_json,
    write_record,
)
from feeds.formats import Format
from feeds.index.catalog import Catalog
from feeds.render.gzipped import gzip_rendered
from feeds.render.signature import SignatureMemo, Signer
from feeds.render.site import render_path, site_documents, site_paths
from feeds.site_paths import HEADERS_PATH, MANIFEST_PATH, METADATA_PATHS, NGINX_PATH

if TYPE_CHECKING:  # made by the exporter under --watch alone
    from feeds.folder.outwatch import OutDirWatch

__all__ = ["ExportError", "ExportMemos", "ExportSummary", "export_site", "record_inputs", "safe_target", "site_files"]

COMPRESSED_SUFFIX = ".gz"
# key in a generation's signatures file for its over-budget feeds (no site path starts with "_")
_OVER_BUDGET_KEY = "_over_budget"


@dataclass(frozen=True, slots=True)
class ExportMemos:
    """What one export leaves for the next to the same OUT_DIR in this process (all derived, never trusted blindly).

    An :class:`feeds.folder.exporter.Exporter` keeps one for as long as it lives (`export --watch`);
    :func:`export_site` without one starts from nothing, as a new process does, with equal bytes.
    """

    signatures: SignatureMemo = field(default_factory=SignatureMemo)
    manifest: cdn.ManifestLines = field(default_factory=cdn.ManifestLines)
    records: RecordMemo = field(default_factory=RecordMemo)
    # `export --watch`: inotify on the generations' folders, so files no event named are not stat'ed again
    watch: OutDirWatch | None = None


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export did; ``files`` counts every file in the new generation.

    ``published`` is False when nothing changed: the live generation stays as it
    was and nothing was flipped.
    """

    out_dir: Path
    feeds: int
    files: int
    written: int
    unchanged: int
    removed: int
    published: bool = True
    # feed paths ("all.rss", "topics/ai.atom"; no .gz, pages or metadata) whose bytes this run changed or added
    changed: tuple[str, ...] = ()
    # feed paths that hit settings.max_feed_bytes (oldest items dropped, or one item alone over it)
    over_budget: tuple[str, ...] = ()
    # the live generation's record as this export left it (see :func:`record_inputs`)
    record: Path | None = field(default=None, compare=False)


def site_files(catalog: Catalog, settings: Settings) -> dict[str, bytes]:
    """Every site path → its bytes, with its gzip copy: the export's content, in memory.

    For comparing whole outputs (tests, benchmarks); :func:`export_site` streams instead.
    """
    files: dict[str, bytes] = {}
    for path in site_paths(catalog, settings):
        rendered = render_path(path, catalog, settings)
        if rendered is None:  # pragma: no cover - site_paths only lists renderable paths
            raise AssertionError(f"site path {path} has no renderer")
        files[path] = rendered.body
        files[path + COMPRESSED_SUFFIX] = gzip_rendered(rendered)
    return files


def export_site(
    catalog: Catalog,
    settings: Settings,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    inputs: dict | None = None,
    reuse: bool = True,
    memos: ExportMemos | None = None,
) -> ExportSummary:
    """Write the site to ``out_dir`` (a folder: the newest complete generation, flipped in whole).

    ``progress(done, total)`` is called after each site path (with its
    precompressed copies) is in place. ``inputs`` (JSON-able) is kept beside the
    generation and read back by :func:`feeds.folder.outdir.unchanged_since`, so the next run can see
    that nothing changed without reading a single article. ``reuse=False``
    renders every file again, trusting nothing of the previous export. ``memos``: what an
    earlier export to this OUT_DIR in this process left (see :class:`ExportMemos`).
    """
    memos = memos or ExportMemos()
    records = memos.records
    out_dir = outdir.real_out_dir(out_dir)
    if out_dir.exists() and not out_dir.is_symlink() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    outdir.check_replaceable(out_dir)
    store = outdir.store_of(out_dir)
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {store}: {exc.strerror}") from None
    with outdir.locked(store) as lock, outdir.removed_on_failure(out_dir, store) as started:
        outdir.prepare(out_dir, store)
        legacy = outdir.plain_export_folder(out_dir, records)
        previous = outdir.current_generation(out_dir)  # OUT_DIR itself (or the target of a foreign symlink)
        old_record = record_of(store, previous) if previous else None  # none: nothing trusted, all rendered
        old_signatures = read_json(old_record, records) if old_record else {}
        old_stats = old_signatures.get(FILES_KEY) if reuse else None
        old_stats = old_stats if isinstance(old_stats, dict) else {}  # nothing reusable without it
        # the files the previous export recorded (a walk only without that record: a walk costs
        # a stat per file, and each recorded file is stat'ed again before it is reused anyway)
        old_files = set(old_stats) if old_stats else list_files(previous) if previous else set()
        standby = outdir.standby(store, previous) if reuse and previous is not None and old_stats else None
        watch = memos.watch  # its watches set before any record is trusted, and the events so far taken
        trusted: dict[str, int] = {}
        if watch is not None and previous is not None and old_stats:
            trusted = watch.trusted(previous, old_record, old_signatures, old_stats, standby)
        documents = site_documents(catalog, settings)
        paths = [path for path, _ in documents]
        walked = walk_or_none(standby) if standby is not None else None
        if walked is not None:
            if conflicts(walked, set(with_encodings(paths)) | set(METADATA_PATHS)):
                walked = None  # a folder where a file goes, or the reverse: not worth mending, start afresh
        generation = outdir.next_generation(store)
        started.append(generation)
        if standby is not None and walked is not None:
            # Recycled: its record goes first (a killed run leaves a leftover to remove, never a
            # standby to trust), then the folder takes the new generation's name, so a reader
            # still copying it by its old path fails loudly (files vanish, as when it was
            # deleted) instead of copying a mix of two sites.
            drop_records(store, os.stat(standby).st_ino)
            os.rename(standby, generation)
            # watched before it is filled: what it holds when live is known. A folder of it watched only now
            # (replaced by hand, e.g. by links to the live files) may have changed a live file unseen
            if watch is not None and not watch.watch(generation, walked[1]):
                trusted = {}
        else:
            standby = walked = None
            generation.mkdir()
        new = Generation(generation, previous, old_files, walked)
        types: dict[str, str] = {}
        # a feed whose signature is the previous export's keeps its files unrendered
        signer = Signer(catalog, settings, memos.signatures)
        # digests of the live files, from its manifest, when the manifest is as its export left it
        manifest_intact = previous is not None and stat_of(previous / MANIFEST_PATH) == old_stats.get(
            MANIFEST_PATH
        )
        old_infos = manifest_infos(previous, records) if previous is not None and manifest_intact else {}
        signatures: dict[str, object] = {}
        old_over = old_signatures.get(_OVER_BUDGET_KEY)
        old_over = set(old_over) if isinstance(old_over, list) else set()
        changed: list[str] = []
        over: list[str] = []
        done = 0

        def advance() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, len(paths))

        to_render: list[str] = []
        same_signature: list[tuple[str, str]] = []  # (path, media type) of each document signed as before
        for path, document in documents:  # document: a feed's current document or archive page
            if document is not None:
                feed, page, fmt = document
                signature = signatures[path] = signer.document(feed, page, fmt.extension)
                if old_signatures.get(path) == signature:
                    same_signature.append((path, fmt.media_type))
                    continue
            to_render.append(path)
        # kept together (0.32 CPU-s of a change at a million articles against 0.44 for a call per
        # document, measured alone); a document that cannot be kept (a file missing or edited) is
        # rendered, in site order as the rest
        reused = new.reuse_all([path for path, _ in same_signature], old_infos, old_stats, trusted)
        if len(reused) < len(same_signature):
            to_render = [path for path in paths if path not in reused]
        for path, media_type in same_signature:
            if path in reused:
                types[path] = media_type
                if path in old_over:
                    over.append(path)
                advance()
        document_of = dict(documents)
        placing = place_documents(
            to_render, catalog, settings, new, scratch=store, on_worker_start=functools.partial(os.close, lock)
        )
        try:
            with closing(placing):
                for path, media_type, over_limit, placed in placing:
                    document = document_of[path]
                    # a feed's current document in a feed format (not its page): what WebSub and budgets concern
                    current = document is not None and document[1] == 0 and isinstance(document[2], Format)
                    types[path] = media_type
                    unchanged = new.absorb(placed[0])  # the document itself; then its encodings
                    for encoded in placed[1:]:
                        new.absorb(encoded)
                    if current:
                        if not unchanged:
                            changed.append(path)
                        if over_limit:
                            over.append(path)
                    advance()
        except WorkerDied as exc:
            raise ExportError(f"{exc}; nothing was published") from None
        types = {path: types[path] for path in paths}  # site order, however the two passes filled it
        new.remove_rest()
        new.put(HEADERS_PATH, cdn.render_headers(types, settings))
        new.put(NGINX_PATH, cdn.render_nginx(types, settings))
        # its own inode: the manifest's (inode, mtime, ctime) name the generation's record
        new.put(MANIFEST_PATH, cdn.render_manifest(types, new.infos, settings, memos.manifest), own_inode=True)
        manifest = dict(new.infos)  # what the manifest lists: every file but the metadata (a copy in C, not a loop)
        for name in METADATA_PATHS:
            manifest.pop(name, None)
        removed = len(old_files - set(new.infos))
        files = len(new.infos)
        signatures[_OVER_BUDGET_KEY] = over
        signatures[FILES_KEY] = new.stats
        if inputs is not None:
            signatures[INPUTS_KEY] = inputs
        # a symlink OUT_DIR left here is a foreign one (outdir.prepare adopts ours): replaced by a folder
        unchanged = new.written == 0 and removed == 0 and legacy is None and previous is not None
        unchanged = unchanged and not out_dir.is_symlink()
        if unchanged and not holds_exactly(previous, set(new.infos)):
            unchanged = False  # a file was added to the live site by hand: publish the site without it
        if unchanged:
            # nothing changed: the live generation stays; an updated standby stays one (it equals it)
            if standby is not None:
                write_record(store, generation, signatures, records)
            else:
                shutil.rmtree(generation)
            kept = {**signatures, FILES_KEY: new.live_stats}
            record = write_record(store, previous, kept, records)
            outdir.clean_leftovers(out_dir, {generation} if standby else set(), records)
            if watch is not None:  # the live generation stays, each file as this export found it (the same inodes)
                # but the manifest, written anew with its own inode (see Generation.place): the live one's
                try:
                    manifest_inode = os.lstat(previous / MANIFEST_PATH).st_ino
                except OSError:  # removed by hand since: the next export trusts nothing
                    watch.exported(None, kept, {})
                else:
                    watch.exported(record, kept, {**new.inodes, MANIFEST_PATH: manifest_inode})
            return ExportSummary(
                out_dir, len(catalog.feeds), files, 0, files, 0, False, over_budget=tuple(over), record=record
            )
        record = write_record(store, generation, signatures, records)
        # once live, nothing is to be removed on failure: ``generation`` then names the folder live until now
        flip.flip(out_dir, generation, store, started.clear)
        remember_manifest(out_dir, manifest, records)
        if watch is not None:
            watch.exported(record, signatures, new.inodes)
        # after the flip (the new site is visible by now): what killed runs left, and generations older
        # than the one live until just now (a taken-over plain folder, without a record, goes too)
        outdir.clean_leftovers(out_dir, set() if legacy else {generation}, records)
    return ExportSummary(
        out_dir, len(catalog.feeds), files, new.written, new.unchanged, removed, True,
        changed=tuple(changed), over_budget=tuple(over), record=record,
    )  # fmt: skip


def record_inputs(summary: ExportSummary, written: object, inputs: dict, memos: ExportMemos) -> bool:
    """Add ``inputs`` (see :func:`export_site`) to the record of the export ``summary`` tells of; True when added.

    For an export made without them: under `export --watch` a change reaches OUT_DIR without
    waiting for a fingerprint of the whole folder, which is recorded when the watch stops.
    ``written`` is that record as ``memos`` held it right after that export. Only while that
    export's generation is live and its record is exactly as that export wrote it (an export
    since, in this process or another, rewrote or removed it: then False); never while
    another export holds the lock.
    """
    if summary.record is None or not isinstance(written, dict):
        return False
    out_dir = outdir.real_out_dir(summary.out_dir)
    store = outdir.store_of(out_dir)
    try:
        with outdir.locked(store):
            # the memo gives back ``written`` only while the file's identity is the one it was written with
            if record_of(store, out_dir) != summary.record or memos.records.recall(summary.record) is not written:
                return False
            write_json(summary.record, {**written, INPUTS_KEY: inputs}, memos.records)
    except (ExportError, OSError):  # another export is running (it leaves a record of its own), or a full disk
        return False
    return True
