"""An export's place on disk: ``OUT_DIR`` the live site itself, its generations in ``.OUT_DIR.d/``, lock and records.

The layout (see :mod:`feeds.folder.export` for how an export moves through it)::

    OUT_DIR                               the live generation: a real folder (find, cp -r, du see the site)
    .OUT_DIR.d/g000042                    the standby: the generation live before it
    .OUT_DIR.d/signatures.1234567.1234999-1733412345000000000-1733412345000000000.json
                                          each generation's record (never published), named by its folder's
                                          inode and its manifest's inode, mtime and ctime
    .OUT_DIR.d/.lock                      one export per OUT_DIR at a time

**The flip** (:mod:`feeds.folder.flip`): a new generation is built in the store, then swapped
with ``OUT_DIR`` in one atomic step, and the folder that held it now holds the old site — the
standby. A two-rename flip killed halfway is finished or undone by the next run
(:func:`restore_moved_aside`); an ``OUT_DIR`` no rename can replace is refused before anything is
rendered (:func:`check_replaceable`).

**Identity.** A folder keeps its inode across renames, so a generation is known by its
folder's inode and its manifest's, never by its name: its record is named by both
(:func:`feeds.folder.records.record_name` says why the manifest too). The live generation
is the one whose folder is ``OUT_DIR``, the standby a store folder with a record. Names
in the store only order folders (a higher number entered later). A record never outlives
its folder: it is deleted before its folder is (recycling, cleaning, a failed run), and
one that names no folder as it is now is dropped before anything new is made
(:func:`prepare`). The store and ``OUT_DIR`` are one file system (a rename between them
must work), so inodes name folders there. A store copied elsewhere (``rsync -aH``,
``cp -a``, a restore from backup) has new inodes: the next export trusts no record and
renders every file once (the same output, only slower).

**Upgrade.** An ``OUT_DIR`` that an earlier version left as a symlink into its store is
taken over by the same flip, its target folder exchanged with the link (live bytes,
inodes and mtimes unchanged, nothing rendered), and records named by generation get
their names by identity, so the standby survives too. (Records named by the folder's
inode alone, of the version before, are dropped: one export renders every file.)
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from feeds.folder import flip
from feeds.folder.generation import ExportError, ExportWriteError
from feeds.folder.listing import entry_stat, list_files, stat_of, walk_or_none
from feeds.folder.records import (
    FILES_KEY,
    INPUTS_KEY,
    RECORD_PREFIX,
    RECORD_SUFFIX,
    RecordMemo,
    drop_records,
    manifest_infos,
    read_json,
    record_name,
    record_of,
    recorded_files,
)
from feeds.site_paths import MANIFEST_PATH, METADATA_PATHS

LOCK_NAME = ".lock"
# OUT_DIR itself cannot be renamed: overlayfs refuses a lower-layer folder (EXDEV), a mount point is busy
_NOT_REPLACEABLE = (errno.EXDEV, errno.EBUSY)


def real_out_dir(out_dir: Path) -> Path:
    """``out_dir`` with its parent's symlinks resolved (not its own: an earlier version made it a symlink).

    The store must be spelled the same way whatever alias of the parent was given,
    or the lock and the generations would not be found.
    """
    out_dir = out_dir.absolute()
    return out_dir.parent.resolve() / out_dir.name


def store_of(out_dir: Path) -> Path:
    """The folder beside ``out_dir`` that holds its generations, their records and the lock."""
    return out_dir.parent / f".{out_dir.name}.d"


def current_generation(out_dir: Path) -> Path | None:
    """The folder the live site is read from: ``out_dir`` itself, or a symlink's target (a layout from before)."""
    if out_dir.is_symlink():
        target = (out_dir.parent / os.readlink(out_dir)).resolve()
        return target if target.is_dir() else None
    return out_dir if out_dir.is_dir() else None


def _real_folders(store: Path) -> dict[int, Path]:
    """The store's generation folders (``g…``, no symlink) by inode."""
    found: dict[int, Path] = {}
    with os.scandir(store) as entries:
        for entry in entries:
            if entry.name.startswith("g") and entry.is_dir(follow_symlinks=False):
                found[entry.inode()] = Path(entry.path)
    return found


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def standby(store: Path, live: Path) -> Path | None:
    """The newest store folder other than ``live`` with its export's record (signatures file), hence a manifest.

    The record is written whole (a rename) when its generation is complete, and an
    export that starts recycling a standby deletes it first, so a half-updated
    folder never qualifies. Its contents are not needed: recycling trusts a file
    only when it is the verified live file itself (same inode).
    """
    live_inode = _inode(live)
    candidates = sorted((g for i, g in _real_folders(store).items() if i != live_inode), key=lambda g: g.name)
    return next((g for g in reversed(candidates) if record_of(store, g) is not None), None)


def clean_leftovers(out_dir: Path, keep: set[Path], memo: RecordMemo) -> None:
    """Remove generations (and their records) a killed or finished run left behind, except the folders ``keep``.

    Whatever ``keep`` says, the live generation is never removed. Records and links
    go first, folders after: a record never outlives its folder.
    """
    store = store_of(out_dir)
    live = current_generation(out_dir)
    kept = (*keep, *([live] if live else []))
    kept_inodes = {_inode(folder) for folder in kept} - {None}
    kept_records = {record_name(folder) for folder in kept} - {None}  # the other records name no folder as it is
    folders = []
    for entry in store.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            if _inode(entry) not in kept_inodes:
                folders.append(entry)
        elif entry.name not in kept_records:
            entry.unlink(missing_ok=True)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    memo.forget_gone(store)  # what its owner remembered of files now gone


@contextmanager
def locked(store: Path) -> Iterator[int]:
    """One export per OUT_DIR at a time: the second would delete the first's generation.

    Yields the lock's file descriptor: a forked render worker closes its copy (see
    :func:`feeds.folder.export.export_site`), so an export killed with SIGKILL frees its lock at once even
    while a worker lingers. flock is released by the kernel when the holder dies.
    """
    with open(store / LOCK_NAME, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            out_dir = store.parent / store.name[1:].removesuffix(".d")  # store_of's inverse
            raise ExportError(f"another export to {out_dir} is running") from None
        yield handle.fileno()


@contextmanager
def removed_on_failure(out_dir: Path, store: Path) -> Iterator[list[Path]]:
    """Yields a list for the generation being written; on OSError it is removed and ExportWriteError names OUT_DIR.

    Issue 16: a full disk left the failed generation filling the disk until the next run, and
    the message named no path. Runs under the lock (a later export may not have started one).
    The export empties the list once its generation is live (:func:`feeds.folder.flip.flip` does). A flip
    refused because OUT_DIR cannot be renamed here (EXDEV, EBUSY) says so instead.
    """
    started: list[Path] = []
    try:
        yield started
    except OSError as exc:
        live = _inode(out_dir)
        for generation in started:
            inode = _inode(generation)
            if inode is not None and inode != live and generation.is_dir() and not generation.is_symlink():
                drop_records(store, inode)  # the record first: never outlive the folder
                shutil.rmtree(generation, ignore_errors=True)
        reason = exc.strerror or str(exc)
        if exc.errno in _NOT_REPLACEABLE:
            raise not_replaceable(out_dir, reason) from None
        raise ExportWriteError(
            f"{out_dir}: cannot write the export ({reason}); the previous export is intact, the unfinished one removed"
        ) from None


def not_replaceable(out_dir: Path, reason: str) -> ExportError:
    """The error for an OUT_DIR that no rename can replace: what it may be, and what to do instead."""
    intact = "; the previous export is intact" if out_dir.is_dir() else ""
    return ExportError(
        f"{out_dir} cannot be replaced on this file system ({reason}): it is a folder from a container image's "
        f"lower layer or a mount point; export to a new folder, or to a folder inside a mounted volume{intact}"
    )


def check_replaceable(out_dir: Path) -> None:
    """Before anything is rendered: refuse an OUT_DIR that no flip could replace.

    A mount point (an export swaps the folder itself: ``ismount`` compares its device
    with its parent's; a bind mount within one file system is not seen here, its flip
    fails with EBUSY and :func:`not_replaceable`), or a store on another file system
    than OUT_DIR (a symlink to another disk: no rename works between the two).
    """
    if not out_dir.is_symlink() and out_dir.is_dir() and os.path.ismount(out_dir):
        raise ExportError(
            f"{out_dir} is a mount point: an export swaps the folder itself; "
            "mount its parent folder and export to a folder inside it"
        )
    store = store_of(out_dir)
    if store.is_dir() and os.stat(store).st_dev != os.stat(out_dir.parent).st_dev:  # a symlink to another disk
        raise ExportError(
            f"{store} is on another file system than {out_dir}: an export renames folders between the two; "
            f"make {store} a folder beside {out_dir}"
        )


def plain_export_folder(out_dir: Path, memo: RecordMemo) -> Path | None:
    """A plain OUT_DIR that is no generation of ours (no record) but holds an export, to be taken over; None else.

    Only a folder whose every file is listed in its ``_manifest.json`` (or is one
    of our metadata files) is taken over — a copy of an export, say — or, without
    one, whose every file is as a record of its inode describes it (same size and
    mtime_ns: the live export, its manifest deleted or touched by hand). Any other
    non-empty folder is refused, never deleted, so a mistyped OUT_DIR (``.``, the
    articles folder, a folder that merely holds a ``_manifest.json``, a folder made
    where the export was, with its inode) cannot cost anyone a file.
    """
    store = store_of(out_dir)
    if out_dir.is_symlink() or not out_dir.is_dir() or record_of(store, out_dir) is not None:
        return None
    if not any(out_dir.iterdir()):
        return None
    manifest = (out_dir / MANIFEST_PATH).is_file()
    infos = manifest_infos(out_dir, memo) if manifest else {}  # {} too when it cannot be read
    listed = (set(infos) | set(METADATA_PATHS)) if manifest else set()
    recorded = recorded_files(store, _inode(out_dir), memo)  # none trusted (see :func:`prepare`)
    strangers = sorted(p for p in list_files(out_dir) if p not in listed and stat_of(out_dir / p) != recorded.get(p))
    if strangers or not (manifest or recorded):
        unlisted = f"; its {MANIFEST_PATH} cannot be read or lists no file" if manifest and not infos else ""
        raise ExportError(
            f"{out_dir} is a folder with files that are not an export's ({', '.join(strangers[:3]) or 'no manifest'})"
            f"{unlisted}; refusing to replace it (give an empty folder or a new path)"
        )
    return out_dir


def restore_moved_aside(out_dir: Path, store: Path) -> None:
    """Finish a two-rename flip killed halfway: the old OUT_DIR back when the new one never arrived, else a standby."""
    asides = sorted(e for e in store.iterdir() if e.name.startswith(flip.ASIDE_PREFIXES))
    for aside in asides:
        if not os.path.lexists(out_dir):
            os.replace(aside, out_dir)  # killed between the renames: the old site back, whole
        elif aside.is_dir() and not aside.is_symlink():
            os.replace(aside, next_generation(store))  # killed after both: the old site is the standby
        else:
            aside.unlink()  # a symlink OUT_DIR of the layout from before, replaced


def next_generation(store: Path) -> Path:
    """A new generation folder's path: numbered one above every name in the store (names only order folders)."""
    number = 1 + max((int(p.name[1:]) for p in store.glob("g[0-9]*") if p.name[1:].isdigit()), default=0)
    return store / f"g{number:06d}"


def prepare(out_dir: Path, store: Path) -> None:
    """Under the lock, before anything reads the layout: finish what a killed run or an earlier version left.

    A two-rename flip killed halfway is completed or undone; records named by
    generation (the symlink layout) get their names by identity; a symlink ``out_dir``
    to a generation of the store is replaced by its target folder (one flip: nothing rendered);
    a record that names no folder as it is now is dropped, before any new folder could
    reuse an inode — but for one of the folder at OUT_DIR, its manifest gone or changed:
    never trusted, it says which files its export left (:func:`plain_export_folder`).
    Failures are ExportErrors naming OUT_DIR (this runs outside an export's cleanup
    too, in :func:`unchanged_since`).
    """
    try:
        _prepare(out_dir, store)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno in _NOT_REPLACEABLE:
            raise not_replaceable(out_dir, reason) from None
        raise ExportWriteError(f"{out_dir}: cannot set its store {store} in order ({reason})") from None


def _prepare(out_dir: Path, store: Path) -> None:
    restore_moved_aside(out_dir, store)
    folders = list(_real_folders(store).values())
    for folder in folders:
        named = store / f"{RECORD_PREFIX}{folder.name}{RECORD_SUFFIX}"  # the symlink layout's record
        if named.is_file():
            name = record_name(folder)
            if name is None:
                named.unlink()  # a generation without a manifest: never trusted
            else:
                os.replace(named, store / name)
    target = current_generation(out_dir)
    ours = target is not None and target.parent == store and record_of(store, target) is not None
    if out_dir.is_symlink() and ours:  # without a record, the link is replaced at the flip, as a foreign one is
        flip.flip(out_dir, target, store)
        target.unlink()  # the link, which the flip put where the folder was
        folders = list(_real_folders(store).values())
    alive = {record_name(folder) for folder in folders}
    at_out_dir = f"{RECORD_PREFIX}{_inode(out_dir)}."  # its own, or one only plain_export_folder reads
    for entry in store.glob(f"{RECORD_PREFIX}*{RECORD_SUFFIX}"):
        if entry.name not in alive and not entry.name.startswith(at_out_dir):  # its folder is gone or changed
            entry.unlink(missing_ok=True)


def unchanged_since(out_dir: Path, fingerprint: str, records: RecordMemo | None = None) -> dict | None:
    """The inputs the live export recorded, when their ``fingerprint`` equals this one; else None.

    Equal means nothing the export depends on changed, so there is nothing to
    write. Leftovers of a killed run are cleaned up either way (under the export
    lock), and an export whose manifest is gone never counts as current.
    """
    records = records if records is not None else RecordMemo()
    out_dir = real_out_dir(out_dir)
    store = store_of(out_dir)
    if not store.is_dir():
        return None
    with locked(store):
        prepare(out_dir, store)
        record = None if out_dir.is_symlink() or not out_dir.is_dir() else record_of(store, out_dir)
        if record is None:
            return None  # no generation of ours is live (a plain folder to take over, a foreign link, no manifest)
        spare = standby(store, out_dir)
        clean_leftovers(out_dir, {spare} if spare else set(), records)
        recorded = read_json(record, records)
    inputs, stats = recorded.get(INPUTS_KEY), recorded.get(FILES_KEY)
    if not isinstance(inputs, dict) or inputs.get("fingerprint") != fingerprint or not isinstance(stats, dict):
        return None
    # one walk: a file damaged or edited since (export for real, which repairs it), or added by hand
    # (export for real, which publishes the site without it), or a symlink makes it differ
    walked = walk_or_none(out_dir, entry_stat)
    if walked is None or walked[0] != stats:
        return None
    return inputs
