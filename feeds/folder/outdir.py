"""An export's place on disk: ``OUT_DIR`` the live site itself, its generations in ``.OUT_DIR.d/``, lock and records.

The layout (see :mod:`feeds.folder.export` for how an export moves through it)::

    OUT_DIR                               the live generation: a real folder (find, cp -r, du see the site)
    .OUT_DIR.d/g000042                    the standby: the generation live before it
    .OUT_DIR.d/signatures.1234567.json    each generation's record, named by its folder's inode (never published)
    .OUT_DIR.d/.lock                      one export per OUT_DIR at a time

**The flip.** A new generation is built in the store, then exchanged with ``OUT_DIR``
by one ``renameat2(RENAME_EXCHANGE)``: both names swap folders in one atomic step, so a
reader opening ``OUT_DIR/x`` gets the old site's file or the new one's, never neither
and never a mix, and the folder that held the new generation now holds the old site —
the standby, with nothing to move. (An earlier layout made ``OUT_DIR`` a symlink flipped
by ``rename(2)``; a walker that does not follow a top symlink — ``find``, ``cp -r``,
``du`` — saw no site at all.) A file system that refuses the exchange (EINVAL, ENOSYS,
EOPNOTSUPP: some network file systems) gets two renames instead, ``OUT_DIR`` aside into
the store then the generation in: between them, for a moment, ``OUT_DIR`` does not
exist (a reader gets a 404, never a mix); a run killed there is undone by the next
(:func:`restore_moved_aside`).

**Identity.** A folder keeps its inode across renames, so a generation is known by its
folder's inode, never by its name: its record is ``signatures.<inode>.json``, the live
generation is the one whose folder is ``OUT_DIR``, the standby a store folder with a
record. Names in the store only order folders (a higher number entered later). A
record never outlives its folder: it is deleted before its folder is (recycling,
cleaning, a failed run), and a record whose folder is gone (deleted by hand) is dropped
before any new folder is made, so an inode number the kernel reuses cannot inherit one.
The store and ``OUT_DIR`` are one file system (a rename between them must work), so the
inode alone names a folder there.

**Upgrade.** An ``OUT_DIR`` that an earlier version left as a symlink into its store is
taken over by the same flip, its target folder exchanged with the link (live bytes,
inodes and mtimes unchanged, nothing rendered), and records named by generation get
their inode names, so the standby survives too.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from feeds.folder.generation import ExportError, entry_stat, list_files, walk_or_none
from feeds.folder.records import RecordMemo, manifest_infos, read_json
from feeds.site_paths import MANIFEST_PATH, METADATA_PATHS

LOCK_NAME = ".lock"
_RECORD_PREFIX, _RECORD_SUFFIX = "signatures.", ".json"
# OUT_DIR moved aside by the two-rename flip ("legacy-": what the symlink layout called it)
_ASIDE_PREFIXES = ("aside-", "legacy-")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
_NO_EXCHANGE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)  # the file system (or kernel) cannot exchange


def record_of(store: Path, inode: int) -> Path:
    return store / f"{_RECORD_PREFIX}{inode}{_RECORD_SUFFIX}"


def signatures_file(store: Path, generation: Path) -> Path:
    """The record (signatures file) of the generation folder at ``generation``: named by its inode, never published."""
    return record_of(store, os.stat(generation).st_ino)


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
    """The newest store folder other than ``live`` with its export's record (signatures file) and manifest.

    The record is written whole (a rename) when its generation is complete, and an
    export that starts recycling a standby deletes it first, so a half-updated
    folder never qualifies. Its contents are not needed: recycling trusts a file
    only when it is the verified live file itself (same inode).
    """
    live_inode = _inode(live)
    candidates = sorted(((g.name, i, g) for i, g in _real_folders(store).items() if i != live_inode), reverse=True)
    return next((g for _, i, g in candidates if record_of(store, i).is_file() and (g / MANIFEST_PATH).is_file()), None)


def clean_leftovers(out_dir: Path, keep: set[Path], memo: RecordMemo) -> None:
    """Remove generations (and their records) a killed or finished run left behind, except the folders ``keep``.

    Whatever ``keep`` says, the live generation is never removed. Records and links
    go first, folders after: a record never outlives its folder.
    """
    store = store_of(out_dir)
    live = current_generation(out_dir)
    kept_inodes = {_inode(folder) for folder in (*keep, *([live] if live else []))} - {None}
    kept_records = {record_of(store, inode).name for inode in kept_inodes if inode is not None}
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


class ExportWriteError(ExportError):
    """Writing a generation failed (a full disk, an I/O error); it was removed, the live export is intact."""


@contextmanager
def removed_on_failure(out_dir: Path, store: Path) -> Iterator[list[Path]]:
    """Yields a list for the generation being written; on OSError it is removed and ExportWriteError names OUT_DIR.

    Issue 16: a full disk left the failed generation filling the disk until the next run, and
    the message named no path. Runs under the lock (a later export may not have started one).
    The export empties the list once its generation is live.
    """
    started: list[Path] = []
    try:
        yield started
    except OSError as exc:
        restore_moved_aside(out_dir, store)  # a two-rename flip that failed halfway
        live = _inode(out_dir)
        for generation in started:
            inode = _inode(generation)
            if inode is not None and inode != live and generation.is_dir() and not generation.is_symlink():
                record_of(store, inode).unlink(missing_ok=True)  # the record first: never outlive the folder
                shutil.rmtree(generation, ignore_errors=True)
        reason = exc.strerror or str(exc)
        raise ExportWriteError(
            f"{out_dir}: cannot write the export ({reason}); the previous export is intact, the unfinished one removed"
        ) from None


def plain_export_folder(out_dir: Path, memo: RecordMemo) -> Path | None:
    """A plain OUT_DIR that is no generation of ours (no record) but holds an export, to be taken over; None else.

    Only a folder whose every file is listed in its ``_manifest.json`` (or is one
    of our metadata files) is taken over — a copy of an export, say. Any other
    non-empty folder is refused, never deleted, so a mistyped OUT_DIR (``.``, the
    articles folder, a folder that merely holds a ``_manifest.json``) cannot cost
    anyone a file.
    """
    if out_dir.is_symlink() or not out_dir.is_dir() or signatures_file(store_of(out_dir), out_dir).is_file():
        return None
    if not any(out_dir.iterdir()):
        return None
    listed = set(manifest_infos(out_dir, memo)) | set(METADATA_PATHS)
    present = list_files(out_dir)
    if not (out_dir / MANIFEST_PATH).is_file() or not present <= listed:
        strangers = sorted(present - listed)[:3]
        raise ExportError(
            f"{out_dir} is a folder with files that are not an export's ({', '.join(strangers) or 'no manifest'}); "
            "refusing to replace it (give an empty folder or a new path)"
        )
    return out_dir


def restore_moved_aside(out_dir: Path, store: Path) -> None:
    """Finish a two-rename flip killed halfway: the old OUT_DIR back when the new one never arrived, else a standby."""
    asides = sorted(e for e in store.iterdir() if e.name.startswith(_ASIDE_PREFIXES))
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


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing names atomically (``renameat2(RENAME_EXCHANGE)``); False when the file system cannot.

    Through ctypes because Python's ``os`` has no ``renameat2`` (glibc has it since 2.28).
    The one place this workaround lives.
    """
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # a C library without it (old glibc): as a file system that refuses
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def flip(out_dir: Path, generation: Path, store: Path) -> None:
    """Make the folder ``generation`` (in ``store``) the live ``out_dir``; what was ``out_dir`` ends at ``generation``.

    One atomic exchange; where the file system refuses it, two renames with a moment
    without ``out_dir`` between them (see the module docstring), and a third that
    gives the old folder the generation's name, as the exchange would have.
    """
    if not os.path.lexists(out_dir):
        os.rename(generation, out_dir)  # the first export: nothing to swap with
        return
    if exchange(generation, out_dir):
        return
    aside = store / f"{_ASIDE_PREFIXES[0]}{os.getpid()}"
    os.replace(out_dir, aside)
    os.replace(generation, out_dir)
    os.replace(aside, generation)


def prepare(out_dir: Path, store: Path) -> None:
    """Under the lock, before anything reads the layout: finish what a killed run or an earlier version left.

    A two-rename flip killed halfway is completed or undone; records named by
    generation (the symlink layout) get their inode names; a symlink ``out_dir``
    to a generation of the store is replaced by its target folder (one flip: nothing rendered);
    a record whose folder is gone is dropped, before any new folder could reuse its inode.
    """
    restore_moved_aside(out_dir, store)
    folders = _real_folders(store)
    for inode, folder in folders.items():
        named = store / f"{_RECORD_PREFIX}{folder.name}{_RECORD_SUFFIX}"
        if named.is_file():
            os.replace(named, record_of(store, inode))
    target = current_generation(out_dir)
    ours = target is not None and target.parent == store and signatures_file(store, target).is_file()
    if out_dir.is_symlink() and ours:  # without a record, the link is replaced at the flip, as a foreign one is
        flip(out_dir, target, store)
        target.unlink()  # the link, which the flip put where the folder was
        folders = _real_folders(store)
    alive = {*folders, _inode(out_dir)}
    for entry in store.glob(f"{_RECORD_PREFIX}*{_RECORD_SUFFIX}"):
        inode = entry.name.removeprefix(_RECORD_PREFIX).removesuffix(_RECORD_SUFFIX)
        if not inode.isdigit() or int(inode) not in alive:
            entry.unlink(missing_ok=True)


# keys of a generation's signatures file (no site path starts with "_"): what :func:`unchanged_since` reads back
INPUTS_KEY = "_inputs"
FILES_KEY = "_files"  # every file's [size, mtime_ns] as this export left it


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
        if out_dir.is_symlink() or not out_dir.is_dir() or not signatures_file(store, out_dir).is_file():
            return None  # no generation of ours is live (a plain folder to take over, a foreign link)
        spare = standby(store, out_dir)
        clean_leftovers(out_dir, {spare} if spare else set(), records)
        if not (out_dir / MANIFEST_PATH).is_file():
            return None
        recorded = read_json(signatures_file(store, out_dir), records)
    inputs, stats = recorded.get(INPUTS_KEY), recorded.get(FILES_KEY)
    if not isinstance(inputs, dict) or inputs.get("fingerprint") != fingerprint or not isinstance(stats, dict):
        return None
    # one walk: a file damaged or edited since (export for real, which repairs it), or added by hand
    # (export for real, which publishes the site without it), or a symlink makes it differ
    walked = walk_or_none(out_dir, entry_stat)
    if walked is None or walked[0] != stats:
        return None
    return inputs
