"""The parse cache's files on disk: deleting a database safely, and which databases are dead weight.

A database is three files (the database, its WAL and its shared-memory index).
Deleting one is always safe for correctness (every entry is checked against
its file before use); these rules only keep the cache folder from growing with
databases no process will open again.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import time
from pathlib import Path

OUTDATED_AFTER_SECONDS = 7 * 86_400
ORPHANED_AFTER_SECONDS = 3_600  # a folder gone this long (its cache untouched as long) is not being moved
# SQLite's unix VFS: every connection to a WAL database holds a shared lock on this byte of the
# "-shm" file for as long as it is open (https://www.sqlite.org/walformat.html §2.3.1, the DMS lock)
_DMS_BYTE = 128


def delete_database(path: Path) -> None:
    """Delete a database's WAL and shared-memory files, then the database.

    The WAL and index go first: a process opening the database meanwhile then finds the old
    file without its WAL (and rebuilds it itself when damaged), never a new file with an old WAL.
    Processes that have it open keep reading their copy until they close it.
    """
    for suffix in ("-wal", "-shm", ""):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def is_held(path: Path) -> bool:
    """Whether any process has the WAL database ``path`` open: it holds a shared lock on the DMS byte
    of the "-shm" file, which a test for an exclusive lock (taken and given back at once) then finds.

    POSIX locks belong to a process: never ask about a database this process has open (its own
    locks never conflict, and closing the probe's descriptor would drop them)."""
    try:
        descriptor = os.open(f"{path}-shm", os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return False  # the last connection to close removes it; none can be open without it
    except OSError:
        return True  # cannot tell: keep it
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _DMS_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, _DMS_BYTE)
        return False
    finally:
        os.close(descriptor)


def _opened_here(path: Path) -> bool:
    """Whether this process has ``path`` (or its -wal / -shm file) open, by /proc/self/fd (Linux).

    :func:`is_held` cannot see this process's own locks, and its probe would drop them: a
    long-running server whose articles folder (a symlink to a release) was re-pointed still
    has the old folder's cache open. Without /proc this cannot be told and is taken as no."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(f"/proc/self/fd/{descriptor}") in names:
                return True
        except OSError:  # closed since it was listed (the listing's own descriptor, another thread's)
            continue
    return False


def _idle_seconds(path: Path, now: float) -> float:
    """Seconds since the database or its WAL was last written (reads leave no trace)."""
    newest = 0.0
    for suffix in ("", "-wal"):
        try:
            newest = max(newest, os.stat(f"{path}{suffix}").st_mtime)
        except OSError:
            continue
    return now - newest


def _folder_gone(folder: str) -> bool:
    try:
        os.stat(folder)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False  # e.g. a parent we may not enter: not known to be gone
    return not os.path.isdir(folder)


def remove_outdated(path: Path) -> None:
    """Caches of the same articles folder for other reader code or settings (and the shard folders
    of older versions), unused for a week, are dead weight: delete them. (A second config on the
    same folder, used now and then, keeps its own.)"""
    place = path.name.split(".", 1)[0].rsplit("-", 1)[0]
    now = time.time()
    for outdated in path.parent.glob(f"{place}-*"):
        try:
            idle = now - outdated.stat().st_mtime
        except OSError:
            continue
        if not outdated.name.startswith(path.name) and idle > OUTDATED_AFTER_SECONDS:
            if outdated.is_dir() and not outdated.is_symlink():
                shutil.rmtree(outdated, ignore_errors=True)
            else:
                outdated.unlink(missing_ok=True)


def recorded_folder(path: Path) -> str | None:
    """The articles folder a parse cache database was made for (its ``meta`` table's "folder"); None
    when it records none (older code wrote it) or cannot be read. Opens no database another process
    could not open too."""
    try:
        # read-only: a database deleted since it was listed is not made again, empty
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", timeout=1, isolation_level=None, uri=True)
    except sqlite3.Error:
        return None
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'folder'").fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return row[0].decode("utf-8", "surrogateescape") if row is not None and type(row[0]) is bytes else None


def remove_orphaned(path: Path) -> list[Path]:
    """Delete the other parse caches beside ``path`` whose articles folder no longer exists; the deleted.

    A database goes when no process holds it open (:func:`is_held`), it was not
    written for ORPHANED_AFTER_SECONDS, and the folder it records (:func:`recorded_folder`)
    does not exist; one that records no folder (written by older code) goes once
    it was not written for OUTDATED_AFTER_SECONDS. A folder that comes back later
    only finds its cache cold. A process can open a cache only while its folder
    exists, so one gone folder's cache cannot be in use between the check and
    the deletion unless the folder came back in that instant; even then that
    process keeps its open files and every entry is still checked before use.
    """
    now = time.time()
    deleted = []
    for other in sorted(path.parent.glob("parse-*.sqlite3")):
        if other.name == path.name or not other.is_file():
            continue
        idle = _idle_seconds(other, now)
        if idle <= ORPHANED_AFTER_SECONDS or _opened_here(other) or is_held(other):
            continue
        folder = recorded_folder(other)
        if folder is None and idle <= OUTDATED_AFTER_SECONDS:
            continue
        if folder is None or _folder_gone(folder):
            delete_database(other)
            deleted.append(other)
    return deleted
