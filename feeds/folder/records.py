"""The exporter's own records beside its generations (signatures files) and in them (manifests), read back.

Never published: a generation's signatures file holds each document's render
signature, every file's [size, mtime_ns] and the inputs of the export; its
manifest holds every file's size and SHA-256. The next export reads both, so
nothing unchanged is rendered or hashed again. A missing or unreadable record
means nothing is reused, never a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from feeds.folder.cdn import FileInfo
from feeds.site_paths import MANIFEST_PATH


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
