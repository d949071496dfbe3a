"""An export's place on disk: ``OUT_DIR`` a symlink into ``.OUT_DIR.d/``, its generations, lock and records.

The layout (see :mod:`feeds.folder.export` for how an export moves through it)::

    OUT_DIR -> .OUT_DIR.d/g000042         the live generation (a symlink, flipped by one rename)
    .OUT_DIR.d/g000041                    the standby: the generation live before it
    .OUT_DIR.d/signatures.g000042.json    each generation's record (never published)
    .OUT_DIR.d/.lock                      one export per OUT_DIR at a time
"""

from __future__ import annotations

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
_LINK_PREFIX = ".link-"
_LEGACY_PREFIX = "legacy-"


def signatures_file(store: Path, generation: Path) -> Path:
    """Where the feed signatures of one generation are kept (beside it, never published)."""
    return store / f"signatures.{generation.name}.json"


def real_out_dir(out_dir: Path) -> Path:
    """``out_dir`` with its parent's symlinks resolved (not its own: it is the export's symlink).

    The live generation is found by resolving ``out_dir``; the store must be spelled
    the same way, or the live generation would not be recognised as one of its own.
    """
    out_dir = out_dir.absolute()
    return out_dir.parent.resolve() / out_dir.name


def store_of(out_dir: Path) -> Path:
    """The folder beside ``out_dir`` that holds its generations, their records and the lock."""
    return out_dir.parent / f".{out_dir.name}.d"


def current_generation(out_dir: Path) -> Path | None:
    if out_dir.is_symlink():
        target = (out_dir.parent / os.readlink(out_dir)).resolve()
        return target if target.is_dir() else None
    return None


def standby(store: Path, live: Path) -> Path | None:
    """The newest generation beside the live one with its export's record (signatures file) and manifest.

    The record is written whole (a rename) when its generation is complete, and an
    export that starts recycling a standby deletes it first, so a half-updated
    folder never qualifies. Its contents are not needed: recycling trusts a file
    only when it is the verified live file itself (same inode).
    """
    candidates = sorted((g for g in store.glob("g[0-9]*") if g.name != live.name and g.is_dir()), reverse=True)
    return next((g for g in candidates if signatures_file(store, g).is_file() and (g / MANIFEST_PATH).is_file()), None)


def clean_leftovers(out_dir: Path, keep: set[Path], memo: RecordMemo) -> None:
    """Remove generations (and their records) a killed or finished run left behind, except ``keep``.

    Whatever ``keep`` says, the generation ``out_dir`` points to is never removed.
    """
    store = store_of(out_dir)
    live = current_generation(out_dir)
    keep = keep | {live} if live is not None else keep
    kept_names = {LOCK_NAME} | {g.name for g in keep} | {signatures_file(store, g).name for g in keep}
    for entry in store.iterdir():
        if entry.name in kept_names:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
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
    """
    started: list[Path] = []
    try:
        yield started
    except OSError as exc:
        live = current_generation(out_dir)
        for generation in started:
            if generation.exists() and generation != live:
                shutil.rmtree(generation, ignore_errors=True)
                signatures_file(store, generation).unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise ExportWriteError(
            f"{out_dir}: cannot write the export ({reason}); the previous export is intact, the unfinished one removed"
        ) from None


def plain_export_folder(out_dir: Path, memo: RecordMemo) -> Path | None:
    """A plain (non-symlink) OUT_DIR that holds an earlier export, to be taken over; None when empty.

    Only a folder whose every file is listed in its ``_manifest.json`` (or is one
    of our metadata files) is taken over — a copy of an export, say. Any other
    non-empty folder is refused, never deleted, so a mistyped OUT_DIR (``.``, the
    articles folder, a folder that merely holds a ``_manifest.json``) cannot cost
    anyone a file.
    """
    if out_dir.is_symlink() or not out_dir.is_dir() or not any(out_dir.iterdir()):
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
    """Undo a takeover killed between its two renames: put the old plain folder back."""
    if out_dir.exists() or out_dir.is_symlink():
        return
    for aside in sorted(store.glob(f"{_LEGACY_PREFIX}*")):
        if aside.is_dir():
            os.replace(aside, out_dir)
            return


def flip(out_dir: Path, generation: Path, legacy: Path | None, store: Path) -> None:
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
        restore_moved_aside(out_dir, store)
        live = current_generation(out_dir)
        if live is None or live.parent != store:
            return None
        spare = standby(store, live)
        clean_leftovers(out_dir, {live, spare} if spare else {live}, records)
        if not (live / MANIFEST_PATH).is_file():
            return None
        recorded = read_json(signatures_file(store, live), records)
    inputs, stats = recorded.get(INPUTS_KEY), recorded.get(FILES_KEY)
    if not isinstance(inputs, dict) or inputs.get("fingerprint") != fingerprint or not isinstance(stats, dict):
        return None
    # one walk: a file damaged or edited since (export for real, which repairs it), or added by hand
    # (export for real, which publishes the site without it), or a symlink makes it differ
    walked = walk_or_none(live, entry_stat)
    if walked is None or walked[0] != stats:
        return None
    return inputs
