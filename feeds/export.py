"""The static export: every site path written to a folder for a CDN, atomically.

``OUT_DIR`` is a symlink to one complete generation folder in ``.OUT_DIR.d/``.
A new generation is built beside the current one (unchanged files are hard
links to the previous generation, so their bytes, inode and mtime stay as they
were), then the symlink is flipped with one ``rename(2)``: a server reading
``OUT_DIR`` sees the old site or the new one, never a mix. An export killed at
any point leaves the previous generation in place; the next run removes what
the killed one left behind. An export that changes nothing publishes nothing.

Two generations are kept: the live one and the one live before it (the
*standby*). The next export recycles the standby: renames it to the new
generation's name (a reader still copying it by its old path sees files vanish,
as when it was deleted, never a mix), brings it up to date — only the files that
differ from the new site are replaced, removed or added, each as a new file
(never written into: a standby file may be a hard link to a live one); files
outside its record and folders left empty go — and flips to it. At 100,000
articles with archive pages that is a few files instead of ~30,000 hard links
per change. The standby's record (its signatures file) is deleted before it is
touched, so a run killed halfway leaves a folder that is never trusted again:
the next run builds a fresh generation. A standby holding a symlink, or a folder
where a file goes (or the reverse), is not recycled either. The limit: a reader
that entered the old generation's folder (``cd`` into it, ``tar -C``) rather than
opening each file by its full path can, if it is still reading two exports
later, copy a mix without an error.

Files are trusted by the [size, mtime_ns] their export recorded: a file edited
in place with its mtime set back is not noticed. A file added to the live site
by hand is noticed (each export and the no-change check list the folder) and is
not in the next generation.

The generation that was live before the flip is kept until the next export, so
a reader that resolved ``OUT_DIR`` just before the flip (nginx mid-request,
``rsync`` of ``$(readlink -f OUT_DIR)/``) still finds every file it expects.
Atomic against a killed process, not against power loss: nothing is fsynced.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from feeds import cdn
from feeds.bulk import WorkerDied, place_documents
from feeds.catalog import Catalog
from feeds.cdn import ENCODINGS, FileInfo
from feeds.config import Settings
from feeds.render import Rendered
from feeds.signature import Signer
from feeds.site import gzip_rendered, render_path, site_documents, site_paths

__all__ = ["ExportError", "ExportSummary", "export_site", "site_files"]

COMPRESSED_SUFFIX = ".gz"
_LOCK_NAME = ".lock"
_LINK_PREFIX = ".link-"
_LEGACY_PREFIX = "legacy-"
_INPUTS_KEY = "_inputs"
_FILES_KEY = "_files"  # every file's [size, mtime_ns] as this export left it
# key in a generation's signatures file for its over-budget feeds (no site path starts with "_")
_OVER_BUDGET_KEY = "_over_budget"


def _signatures_file(store: Path, generation: Path) -> Path:
    """Where the feed signatures of one generation are kept (beside it, never published)."""
    return store / f"signatures.{generation.name}.json"


class ExportError(Exception):
    """The export cannot be written where it was asked to go."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export did; ``files`` counts every file in the new generation.

    ``published`` is False when nothing changed: the live generation stays as it
    was and no symlink moved.
    """

    out_dir: Path
    feeds: int
    files: int
    written: int
    unchanged: int
    removed: int
    published: bool = True
    generation: Path | None = None
    # feed paths ("all.rss", "topics/ai.atom"; no .gz, pages or metadata) whose bytes this run changed or added
    changed: tuple[str, ...] = ()
    # feed paths that hit settings.max_feed_bytes (oldest items dropped, or one item alone over it)
    over_budget: tuple[str, ...] = ()


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


def _real_out_dir(out_dir: Path) -> Path:
    """``out_dir`` with its parent's symlinks resolved (not its own: it is the export's symlink).

    The live generation is found by resolving ``out_dir``; the store must be spelled
    the same way, or the live generation would not be recognised as one of its own.
    """
    out_dir = out_dir.absolute()
    return out_dir.parent.resolve() / out_dir.name


def _generations(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.d"


def _checked_relative(relative: str) -> str:
    """``relative`` itself, once checked structurally to stay inside the folder it is joined to (STYLE §15).

    Lexical, no file-system calls: every part must be a plain name (no ``..``,
    ``.``, empty part, NUL or backslash), and the folder is a generation this
    export created itself, so no symlink inside it can lead elsewhere.
    """
    if any(part in ("", ".", "..") or "\0" in part or "\\" in part for part in relative.split("/")):
        raise ExportError(f"refusing to write {relative!r}: it would leave the output folder")
    return relative


def _safe_target(root: Path, relative: str) -> Path:
    """``root / relative``, refused when ``relative`` could leave ``root`` (see :func:`_checked_relative`)."""
    return root.joinpath(*_checked_relative(relative).split("/"))


def _current_generation(out_dir: Path) -> Path | None:
    if out_dir.is_symlink():
        target = (out_dir.parent / os.readlink(out_dir)).resolve()
        return target if target.is_dir() else None
    return None


def _standby(store: Path, live: Path) -> Path | None:
    """The newest generation beside the live one with its export's record (signatures file) and manifest.

    The record is written whole (a rename) when its generation is complete, and an
    export that starts recycling a standby deletes it first, so a half-updated
    folder never qualifies. Its contents are not needed: recycling trusts a file
    only when it is the verified live file itself (same inode).
    """
    candidates = sorted((g for g in store.glob("g[0-9]*") if g.name != live.name and g.is_dir()), reverse=True)
    return next(
        (g for g in candidates if _signatures_file(store, g).is_file() and (g / cdn.MANIFEST_PATH).is_file()), None
    )


def _walk_or_none(root: Path) -> tuple[dict[str, int], list[str]] | None:
    try:
        return _walk(str(root))
    except OSError:
        return None


def _with_encodings(paths: Iterable[str]) -> Iterator[str]:
    """Each site path, then its precompressed copies' names."""
    for path in paths:
        yield path
        yield from (path + encoding.suffix for encoding in ENCODINGS)


def _holds_exactly(generation: Path, names: set[str]) -> bool:
    """True when ``generation`` holds exactly the files ``names`` (and no symlink)."""
    walked = _walk_or_none(generation)
    return walked is not None and walked[0].keys() == names


def _conflicts(walked: tuple[dict[str, int], list[str]], names: set[str]) -> bool:
    """True when a folder stands where one of ``names`` goes, or a file where a folder of theirs goes."""
    files, folders = walked
    parents = {name.rpartition("/")[0] for name in names} - {""}
    parents |= {parent.rpartition("/")[0] for parent in parents} - {""}  # site paths are ≤ 3 folders deep
    parents |= {parent.rpartition("/")[0] for parent in parents} - {""}
    return not names.isdisjoint(folders) or not parents.isdisjoint(files)


def _walk(root: str) -> tuple[dict[str, int], list[str]] | None:
    """({file: inode}, folders) under ``root``, relative, from directory entries alone (no stat per file).

    None when anything is neither a plain file nor a folder (a symlink, say): a
    standby with such a thing in it is not updated in place (a symlinked folder
    could lead its updates into the live generation), a fresh generation is made.
    """
    files: dict[str, int] = {}
    folders: list[str] = []
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(f"{root}/{relative}" if relative else root) as entries:
            for entry in entries:
                name = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_symlink():
                    return None
                if entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                    pending.append(name)
                elif entry.is_file(follow_symlinks=False):
                    files[name] = entry.inode()
                else:
                    return None
    return files, folders


def _clean_leftovers(out_dir: Path, keep: set[Path]) -> None:
    """Remove generations (and their records) a killed or finished run left behind, except ``keep``.

    Whatever ``keep`` says, the generation ``out_dir`` points to is never removed.
    """
    store = _generations(out_dir)
    live = _current_generation(out_dir)
    keep = keep | {live} if live is not None else keep
    kept_names = {_LOCK_NAME} | {g.name for g in keep} | {_signatures_file(store, g).name for g in keep}
    for entry in store.iterdir():
        if entry.name in kept_names:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    for name in [name for name in _parsed if name.startswith(f"{store}/") and not os.path.exists(name)]:
        del _parsed[name]  # what this process remembered of files now gone


def _list_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@contextmanager
def _locked(store: Path) -> Iterator[None]:
    """One export per OUT_DIR at a time: the second would delete the first's generation.

    flock is released by the kernel when the holder dies, even by SIGKILL.
    """
    with open(store / _LOCK_NAME, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(f"another export to {store.parent} is running") from None
        _held_locks.add(handle.fileno())
        try:
            yield
        finally:
            _held_locks.discard(handle.fileno())


# Lock descriptors this process holds. A forked render worker closes its copies, so
# an export killed with SIGKILL frees its lock at once even while a worker lingers.
_held_locks: set[int] = set()


def _close_inherited_locks() -> None:
    """In a forked render worker: drop the copies of the export's locks (see ``_held_locks``)."""
    for descriptor in _held_locks:
        os.close(descriptor)


@dataclass(frozen=True, slots=True)
class _Placed:
    """One file a generation received: its manifest entry, its [size, mtime_ns], and whether it is the live one's."""

    name: str
    info: FileInfo
    stat: list | None
    unchanged: bool


class _Generation:
    """Fills the next generation folder: a new one, or a recycled standby brought up to date.

    Files equal to the live (previous) generation's are hard links to them, so
    their bytes, inode and mtime stay as they were. Nothing is ever written into
    an existing file: a standby file may be a hard link to a live one, so it is
    unlinked first. Paths are plain strings here: an incremental export at 100,000
    articles walks tens of thousands of files, and pathlib's per-call overhead was
    a third of it. ``old_files`` is what the live generation holds (a file may have
    gone since: every use copes with that). ``stats`` records each placed file's
    [size, mtime_ns]; a hard link keeps both, so a linked file's stat is carried over.
    """

    def __init__(
        self,
        root: Path,
        previous: Path | None,
        old_files: set[str],
        walked: tuple[dict[str, int], list[str]] | None = None,
    ) -> None:
        self.root, self.previous, self.old_files = str(root), str(previous) if previous else None, old_files
        # files the folder holds now (``walked``: a recycled standby's) with their inodes, until
        # each is kept, replaced or removed; and its folders, to remove those left empty
        self.present, self._old_folders = walked if walked is not None else ({}, [])
        self.infos: dict[str, FileInfo] = {}
        self.stats: dict[str, list | None] = {}
        # [size, mtime_ns] of the live generation's file, for each file placed equal to it
        self.live_stats: dict[str, list | None] = {}
        self.written = self.unchanged = 0
        self._folders: set[str] = set()  # folders already made in this generation

    def _old(self, relative: str) -> str | None:
        if self.previous is None or relative not in self.old_files:
            return None
        return f"{self.previous}/{relative}"

    def _prepared(self, relative: str) -> str:
        """Where ``relative`` goes (checked to stay inside), its folder made and any file there removed.

        Changes no state but the folders made, so a forked render worker can place
        files too (see :meth:`place`); :meth:`absorb` forgets the file removed.
        """
        target = f"{self.root}/{_checked_relative(relative)}"
        parent = os.path.dirname(target)
        if parent not in self._folders:
            os.makedirs(parent, exist_ok=True)  # several workers may make the same folder
            self._folders.add(parent)
        if relative in self.present:
            _unlink(target)
        return target

    def _target(self, relative: str) -> str:
        target = self._prepared(relative)
        self.present.pop(relative, None)
        return target

    def _link_or_copy(self, old: str, target: str) -> None:
        try:
            os.link(old, target)
        except OSError:  # a file system without hard links: a copy keeps bytes and mtime
            _unlink(target)  # never copy into an existing file: it may be a live one's hard link
            shutil.copy2(old, target)

    def place(self, relative: str, data: bytes, sha256: str = "") -> _Placed:
        """Write (or link, when it equals the live generation's) one file; what happened, to :meth:`absorb`.

        Only the file system changes here, so a forked render worker places the
        documents it renders (their bytes never cross a pipe) and the export
        absorbs what it reports; in-process, :meth:`put` does both.
        """
        target = self._prepared(relative)
        old = self._old(relative)
        info = FileInfo(len(data), sha256) if sha256 else FileInfo.of(data)  # sha256: the renderer's
        if old is not None and _same_bytes(old, data):
            self._link_or_copy(old, target)
            return _Placed(relative, info, _stat_of(target), True)
        with open(target, "xb") as handle:  # x: never into an existing file (see the class)
            handle.write(data)
        return _Placed(relative, info, _stat_of(target), False)

    def absorb(self, placed: _Placed) -> bool:
        """Record a placed file (see :meth:`place`); True when it is the live generation's file, unchanged."""
        name = placed.name
        self.present.pop(name, None)
        self.infos[name] = placed.info
        self.stats[name] = placed.stat
        if placed.unchanged:
            self.live_stats[name] = placed.stat
            self.unchanged += 1
        else:
            self.written += 1
        return placed.unchanged

    def put(self, relative: str, data: bytes) -> bool:
        """Place one file; True when it is the live generation's file, unchanged."""
        return self.absorb(self.place(relative, data))

    def reuse(self, relative: str, old_infos: dict[str, FileInfo], old_stats: dict[str, list]) -> bool:
        """Keep a document (``relative`` and its encodings) unrendered: its signature is unchanged.

        False (and nothing placed) when one of the live generation's files is
        missing or is not as its export left it (size and mtime it recorded): a
        damaged or edited file is rendered again, never kept. Otherwise the live
        files are hard-linked, unless a recycled standby already holds them: the
        same inode under its own name (what it linked, or was linked from, before).
        """
        names = list(_with_encodings([relative]))
        olds = [self._old(name) for name in names]
        inodes = []
        for name, old in zip(names, olds, strict=True):
            try:
                found = os.stat(old) if old is not None else None
            except OSError:
                found = None
            if found is None or [found.st_size, found.st_mtime_ns] != old_stats.get(name):
                return False
            inodes.append(found.st_ino)
        for name, old, inode in zip(names, olds, inodes, strict=True):
            if self.present.get(name) == inode:
                del self.present[name]  # the live file itself, under the standby's name: keep it
            else:
                self._link_or_copy(old, self._target(name))
            self.infos[name] = old_infos.get(name) or FileInfo.of(_read(old))
            self.stats[name] = self.live_stats[name] = old_stats[name]
            self.unchanged += 1
        return True

    def place_document(self, relative: str, rendered: Rendered, encoded: dict[str, bytes]) -> list[_Placed]:
        """:meth:`place` a document and every encoding of it (suffix → bytes), the document first."""
        placed = [self.place(relative, rendered.body, rendered.sha256)]
        placed.extend(self.place(relative + e.suffix, encoded[e.suffix]) for e in ENCODINGS)
        return placed

    def remove_rest(self) -> None:
        """Remove what a standby held that the new site does not (a feed gone, a stray file), then its empty folders."""
        for relative in list(self.present):
            _unlink(f"{self.root}/{relative}")
        self.present.clear()
        for folder in sorted(self._old_folders, key=lambda name: name.count("/"), reverse=True):
            try:
                os.rmdir(f"{self.root}/{folder}")  # only succeeds when empty
            except OSError:
                pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _same_bytes(path: str, data: bytes) -> bool:
    """True when the file at ``path`` holds exactly ``data`` (False when it is gone)."""
    try:
        return os.stat(path).st_size == len(data) and _read(path) == data
    except OSError:
        return False


def unchanged_since(out_dir: Path, fingerprint: str) -> dict | None:
    """The inputs the live export recorded, when their ``fingerprint`` equals this one; else None.

    Equal means nothing the export depends on changed, so there is nothing to
    write. Leftovers of a killed run are cleaned up either way (under the export
    lock), and an export whose manifest is gone never counts as current.
    """
    out_dir = _real_out_dir(out_dir)
    store = _generations(out_dir)
    if not store.is_dir():
        return None
    with _locked(store):
        _restore_moved_aside(out_dir, store)
        live = _current_generation(out_dir)
        if live is None or live.parent != store:
            return None
        standby = _standby(store, live)
        _clean_leftovers(out_dir, {live, standby} if standby else {live})
        if not (live / cdn.MANIFEST_PATH).is_file():
            return None
        recorded = _read_json(_signatures_file(store, live))
    inputs, stats = recorded.get(_INPUTS_KEY), recorded.get(_FILES_KEY)
    if not isinstance(inputs, dict) or inputs.get("fingerprint") != fingerprint or not isinstance(stats, dict):
        return None
    if any(_stat_of(live / name) != stat for name, stat in stats.items()):
        return None  # a file was damaged or edited since: export for real, which repairs it
    if not _holds_exactly(live, set(stats)):
        return None  # a file was added by hand: export for real, which publishes the site without it
    return inputs


def export_site(
    catalog: Catalog,
    settings: Settings,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    inputs: dict | None = None,
    reuse: bool = True,
) -> ExportSummary:
    """Write the site to ``out_dir`` (a symlink to the newest complete generation).

    ``progress(done, total)`` is called after each site path (with its
    precompressed copies) is in place. ``inputs`` (JSON-able) is kept beside the
    generation and read back by :func:`unchanged_since`, so the next run can see
    that nothing changed without reading a single article. ``reuse=False``
    renders every file again, trusting nothing of the previous export.
    """
    out_dir = _real_out_dir(out_dir)
    if out_dir.exists() and not out_dir.is_symlink() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    store = _generations(out_dir)
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {store}: {exc.strerror}") from None
    with _locked(store):
        _restore_moved_aside(out_dir, store)
        legacy = _plain_export_folder(out_dir)
        previous = _current_generation(out_dir) or legacy
        kept = previous if previous and previous.parent == store else None
        old_signatures = _read_json(_signatures_file(store, previous)) if previous else {}
        old_stats = old_signatures.get(_FILES_KEY) if reuse else None
        old_stats = old_stats if isinstance(old_stats, dict) else {}  # nothing reusable without it
        # the files the previous export recorded (a walk only without that record: a walk costs
        # a stat per file, and each recorded file is stat'ed again before it is reused anyway)
        old_files = set(old_stats) if old_stats else _list_files(previous) if previous else set()
        documents = site_documents(catalog, settings)
        paths = [path for path, _ in documents]
        standby = _standby(store, kept) if reuse and kept is not None and old_stats else None
        walked = _walk_or_none(standby) if standby is not None else None
        if walked is not None:
            if _conflicts(walked, set(_with_encodings(paths)) | set(cdn.METADATA_PATHS)):
                walked = None  # a folder where a file goes, or the reverse: not worth mending, start afresh
        number = 1 + max((int(p.name[1:]) for p in store.glob("g[0-9]*") if p.name[1:].isdigit()), default=0)
        generation = store / f"g{number:06d}"
        if standby is not None and walked is not None:
            # Recycled: its record goes first (a killed run leaves a leftover to remove, never a
            # standby to trust), then the folder takes the new generation's name, so a reader
            # still copying it by its old path fails loudly (files vanish, as when it was
            # deleted) instead of copying a mix of two sites.
            _signatures_file(store, standby).unlink()
            os.rename(standby, generation)
        else:
            standby = walked = None
            generation.mkdir()
        new = _Generation(generation, previous, old_files, walked)
        types: dict[str, str] = {}
        # a feed whose signature is the previous export's keeps its files unrendered
        signer = Signer(catalog, settings)
        # digests of the live files, from its manifest, when the manifest is as its export left it
        manifest_intact = previous is not None and _stat_of(previous / cdn.MANIFEST_PATH) == old_stats.get(
            cdn.MANIFEST_PATH
        )
        old_infos = _manifest_infos(previous) if previous is not None and manifest_intact else {}
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
        for path, document in documents:  # document: a feed's current document or archive page
            if document is not None:
                feed, page, fmt = document
                signatures[path] = signer.document(feed, page, fmt.extension)
                if old_signatures.get(path) == signatures[path] and new.reuse(path, old_infos, old_stats):
                    types[path] = fmt.media_type
                    if path in old_over:
                        over.append(path)
                    advance()
                    continue
            to_render.append(path)
        document_of = dict(documents)
        placing = place_documents(
            to_render, catalog, settings, new, scratch=store, on_worker_start=_close_inherited_locks
        )
        try:
            with closing(placing):
                for path, media_type, over_limit, placed in placing:
                    document = document_of[path]
                    current = document is not None and document[1] == 0  # a feed's current document
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
        new.put(cdn.HEADERS_PATH, cdn.render_headers(types, settings))
        new.put(cdn.NGINX_PATH, cdn.render_nginx(types, settings))
        new.put(cdn.MANIFEST_PATH, cdn.render_manifest(types, new.infos, settings))
        manifest_infos = {name: new.infos[name] for name in _with_encodings(types) if name in new.infos}
        removed = len(old_files - set(new.infos))
        files = len(new.infos)
        signatures[_OVER_BUDGET_KEY] = over
        signatures[_FILES_KEY] = new.stats
        if inputs is not None:
            signatures[_INPUTS_KEY] = inputs
        unchanged = new.written == 0 and removed == 0 and legacy is None and previous is not None
        if unchanged and not _holds_exactly(previous, set(new.infos)):
            unchanged = False  # a file was added to the live site by hand: publish the site without it
        if unchanged:
            # nothing changed: the live generation stays; an updated standby stays one (it equals it)
            if standby is not None:
                _write_json(_signatures_file(store, generation), signatures)
            else:
                shutil.rmtree(generation)
            _write_json(_signatures_file(store, previous), {**signatures, _FILES_KEY: new.live_stats})
            _clean_leftovers(out_dir, {kept, generation} if standby else {kept} if kept else set())
            return ExportSummary(
                out_dir, len(catalog.feeds), files, 0, files, 0, False, previous, over_budget=tuple(over)
            )
        _write_json(_signatures_file(store, generation), signatures)
        _remember(generation / cdn.MANIFEST_PATH, (manifest_infos,))  # what _manifest_infos would parse
        _flip(out_dir, generation, legacy, store)
        # after the flip (the new site is visible by now): what killed runs left, and generations
        # older than the one live until just now, which a reader mid-flip may still be using
        _clean_leftovers(out_dir, {generation, kept} if kept else {generation})
    return ExportSummary(
        out_dir, len(catalog.feeds), files, new.written, new.unchanged, removed, True, generation,
        changed=tuple(changed), over_budget=tuple(over),
    )  # fmt: skip


def _stat_of(path: str | Path) -> list | None:
    """[size, mtime_ns] (a list: what JSON gives back), or None when the file is gone."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


# What this process last wrote or read of its own metadata files, by path: (identity, value).
# An export reads the previous one's signatures and manifest; `export --watch` wrote them
# itself a moment ago, so the parsed value is taken again as long as the file's identity
# (device, inode, size, mtime_ns, ctime_ns) is what it was. Values are shared: callers never change them.
_parsed: dict[str, tuple[tuple[int, ...], object]] = {}


def _identity(path: Path) -> tuple[int, ...] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    # ctime too: unlike mtime it cannot be set back (touch -r, cp -p, rsync --inplace)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _remember(path: Path, value: object) -> None:
    identity = _identity(path)
    if identity is not None:
        _parsed[str(path)] = (identity, value)


def _recall(path: Path) -> object | None:
    known = _parsed.get(str(path))
    return known[1] if known is not None and known[0] == _identity(path) else None


def _read_json(path: Path) -> dict:
    """A JSON object from a file of ours, or {} when it is missing or unreadable (then nothing is reused)."""
    known = _recall(path)
    if isinstance(known, dict):
        return known
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    _remember(path, data)
    return data


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_name(path.name + ".part")
    # unsorted: the file is ours alone (never published), and sort_keys doubled the cost of
    # its 1.8 MB at 100k articles, written after every change under `export --watch`
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)
    _remember(path, data)  # JSON-shaped already (lists, str keys): what reading it back gives


def _manifest_infos(generation: Path) -> dict[str, FileInfo]:
    """Sizes and digests the previous export already computed, so reused files are not hashed again."""
    path = generation / cdn.MANIFEST_PATH
    known = _recall(path)
    if isinstance(known, tuple):
        return known[0]
    infos: dict[str, FileInfo] = {}
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    for entry in files if isinstance(files, list) else []:
        try:
            infos[entry["path"]] = FileInfo(int(entry["size"]), str(entry["sha256"]))
            for encoded in entry.get("encodings", {}).values():
                infos[encoded["path"]] = FileInfo(int(encoded["size"]), str(encoded["sha256"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return {}
    _remember(path, (infos,))
    return infos


def _plain_export_folder(out_dir: Path) -> Path | None:
    """A plain (non-symlink) OUT_DIR that holds an earlier export, to be taken over; None when empty.

    Only a folder whose every file is listed in its ``_manifest.json`` (or is one
    of our metadata files) is taken over — a copy of an export, say. Any other
    non-empty folder is refused, never deleted, so a mistyped OUT_DIR (``.``, the
    articles folder, a folder that merely holds a ``_manifest.json``) cannot cost
    anyone a file.
    """
    if out_dir.is_symlink() or not out_dir.is_dir() or not any(out_dir.iterdir()):
        return None
    listed = set(_manifest_infos(out_dir)) | set(cdn.METADATA_PATHS)
    present = _list_files(out_dir)
    if not (out_dir / cdn.MANIFEST_PATH).is_file() or not present <= listed:
        strangers = sorted(present - listed)[:3]
        raise ExportError(
            f"{out_dir} is a folder with files that are not an export's ({', '.join(strangers) or 'no manifest'}); "
            "refusing to replace it (give an empty folder or a new path)"
        )
    return out_dir


def _restore_moved_aside(out_dir: Path, store: Path) -> None:
    """Undo a takeover killed between its two renames: put the old plain folder back."""
    if out_dir.exists() or out_dir.is_symlink():
        return
    for aside in sorted(store.glob(f"{_LEGACY_PREFIX}*")):
        if aside.is_dir():
            os.replace(aside, out_dir)
            return


def _flip(out_dir: Path, generation: Path, legacy: Path | None, store: Path) -> None:
    """Point ``out_dir`` at ``generation`` with one atomic rename of a symlink.

    The new link is made in the store (so a killed run's link is cleaned with
    its generation) and renamed over ``out_dir``: same file system, one rename(2).
    """
    link = store / f"{_LINK_PREFIX}{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(generation, out_dir.parent))
    if legacy is not None or (out_dir.is_dir() and not out_dir.is_symlink()):
        # a plain folder from before cannot be swapped atomically: move it aside first
        aside = store / f"{_LEGACY_PREFIX}{os.getpid()}"
        os.replace(out_dir, aside)
        os.replace(link, out_dir)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.replace(link, out_dir)
