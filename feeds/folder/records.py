"""The exporter's own records beside its generations (signatures files) and in them (manifests), read back.

Never published: a generation's signatures file holds each document's render
signature, every file's [size, mtime_ns] and the inputs of the export; its
manifest holds every file's size and SHA-256. The next export reads both, so
nothing unchanged is rendered or hashed again. A missing or unreadable record
means nothing is reused, never a failure. A signatures file lies in the store
(see :mod:`feeds.folder.outdir`), named by its generation folder's identity.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

from feeds.folder.cdn import FileInfo
from feeds.site_paths import MANIFEST_PATH

RECORD_PREFIX, RECORD_SUFFIX = "signatures.", ".json"
# keys of a signatures file (no site path starts with "_"): what the no-change check reads back
INPUTS_KEY = "_inputs"
FILES_KEY = "_files"  # every file's [size, mtime_ns] as its export left it


class RecordMemo:
    """What its owner last wrote or read of the records, by path: (file identity, parsed value).

    An export reads the previous one's signatures and manifest; `export --watch`
    wrote them itself a moment ago, so the parsed value is taken again as long as
    the file's identity (device, inode, size, mtime_ns, ctime_ns) is what it was.
    Values are shared: callers never change them. Owned by an exporter (one per
    OUT_DIR, alive for `--watch`); a one-shot export uses a fresh one.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[tuple[int, ...], object]] = {}

    def remember(self, path: Path, value: object) -> None:
        identity = _identity(path)
        if identity is not None:
            self._parsed[str(path)] = (identity, value)

    def recall(self, path: Path) -> object | None:
        known = self._parsed.get(str(path))
        return known[1] if known is not None and known[0] == _identity(path) else None

    def forget_gone(self, folder: Path) -> None:
        """Forget what was remembered of files under ``folder`` that are gone now."""
        prefix = f"{folder}/"
        for name in [name for name in self._parsed if name.startswith(prefix) and not os.path.exists(name)]:
            del self._parsed[name]


def _identity(path: Path) -> tuple[int, ...] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    # ctime too: unlike mtime it cannot be set back (touch -r, cp -p, rsync --inplace)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def read_json(path: Path, memo: RecordMemo) -> dict:
    """A JSON object from a file of ours, or {} when it is missing or unreadable (then nothing is reused)."""
    known = memo.recall(path)
    if isinstance(known, dict):
        return known
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    memo.remember(path, data)
    return data


def write_json(path: Path, data: dict, memo: RecordMemo) -> None:
    temporary = path.with_name(path.name + ".part")
    # unsorted: the file is ours alone (never published), and sort_keys doubled the cost of
    # its 1.8 MB at 100k articles, written after every change under `export --watch`
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)
    memo.remember(path, data)  # JSON-shaped already (lists, str keys): what reading it back gives


def remember_manifest(generation: Path, infos: dict[str, FileInfo], memo: RecordMemo) -> None:
    """Record the manifest just written into ``generation``: what :func:`manifest_infos` would parse."""
    memo.remember(generation / MANIFEST_PATH, (infos,))


def manifest_infos(generation: Path, memo: RecordMemo) -> dict[str, FileInfo]:
    """Sizes and digests the previous export already computed, so reused files are not hashed again."""
    path = generation / MANIFEST_PATH
    known = memo.recall(path)
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
    memo.remember(path, (infos,))
    return infos


def record_name(folder: Path) -> str | None:
    """The name of the record of ``folder`` as it is now; None when it has no manifest file (never trusted).

    ``signatures.<folder inode>.<manifest inode>-<mtime_ns>-<ctime_ns>.json``, taken when
    the record is written, once the manifest is in place. The folder's inode alone is not
    enough: ext4 hands a just-freed folder inode to the next mkdir, so after ``rm -rf out;
    git clone … out`` the new folder has the old one's inode, but not its manifest (none,
    or a new file with another mtime), and is refused like any folder of someone else's.
    The ctime too: ``cp -a``, ``tar x`` and ``rsync -a`` keep a manifest's mtime, and the
    restored copy may get both freed inodes back, but no tool can set a ctime.
    """
    try:
        inode = os.stat(folder).st_ino
        manifest = os.lstat(folder / MANIFEST_PATH)
    except OSError:
        return None
    if not stat.S_ISREG(manifest.st_mode):
        return None
    return f"{RECORD_PREFIX}{inode}.{manifest.st_ino}-{manifest.st_mtime_ns}-{manifest.st_ctime_ns}{RECORD_SUFFIX}"


def record_of(store: Path, folder: Path) -> Path | None:
    """The record (signatures file) in ``store`` of the generation folder ``folder``, when it has one.

    The one lookup of a record: a folder is a generation of ours only while its inode
    and its manifest's are the ones its record was written with.
    """
    name = record_name(folder)
    return store / name if name is not None and (store / name).is_file() else None


def _records_of_inode(store: Path, inode: int) -> list[Path]:
    """Every record in ``store`` of the folder ``inode``, whatever manifest each names."""
    return list(store.glob(f"{RECORD_PREFIX}{inode}.*{RECORD_SUFFIX}"))


def drop_records(store: Path, inode: int, keep: str | None = None) -> None:
    """Delete every record of the folder ``inode`` but the one named ``keep``, before the folder changes or goes."""
    for entry in _records_of_inode(store, inode):
        if entry.name != keep:
            entry.unlink(missing_ok=True)


def write_record(store: Path, folder: Path, data: dict, memo: RecordMemo) -> Path:
    """Write ``folder``'s record once its manifest is in place (a record it had under another name goes); its path."""
    name = record_name(folder)
    if name is None:  # its manifest deleted from under us: the failed run's cleanup removes the folder
        raise FileNotFoundError(errno.ENOENT, "the manifest is missing", str(folder / MANIFEST_PATH))
    write_json(store / name, data, memo)
    drop_records(store, os.stat(folder).st_ino, keep=name)
    return store / name


def recorded_files(store: Path, inode: int | None, memo: RecordMemo) -> dict[str, list]:
    """Each file's [size, mtime_ns] as the records of the folder ``inode``, whatever manifest they name, say."""
    files: dict[str, list] = {}
    for entry in _records_of_inode(store, inode) if inode is not None else ():
        recorded = read_json(entry, memo).get(FILES_KEY)
        files.update(recorded if isinstance(recorded, dict) else {})
    return files
