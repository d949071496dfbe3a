"""Parsing the files a load misses: in batches, on every core for many, each batch stored by its reader.

A batch is read by one process, which then stores the records of its settled files in the parse
cache itself, through its own connection, in its own transaction (SQLite's write lock lets one
batch in at a time; the others go on reading meanwhile), together with the marks on the details
the files' previous versions named. A stored article's record comes back without its packed
details, which the loading process points at the database instead (as for an entry it found
there): the ~2 KB of details per article neither cross the pool's pipe nor wait for one process
to write them all after the reading (issue 20: 2.5 s on one core of a 100,000-file cold export).
The records and the entries stored are the same, whatever the number of workers.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sqlite3
import sys
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple

from feeds.config import Settings
from feeds.read.mojibake import prepare_repair
from feeds.read.parsecache import ParseCache, is_settled, not_written, result_record
from feeds.read.reader import read_named

PARALLEL_THRESHOLD = 400  # fewer misses than this are read in-process: a pool costs more
# Files per batch: about four a worker, within these bounds. A batch is one write transaction, and its
# details' digests land all over two indexes, so a small one rewrites most of their pages for a few rows
# (at 100,000 files, 256 a batch cost 3.8 CPU-s of writing and 4.4 of the kernel's; 2,048 1.9 and 1.9).
_MIN_BATCH = 256
_MAX_BATCH = 2_048


class Parsed(NamedTuple):
    """What :func:`parse_files` gives: a record per file (as :func:`~feeds.read.parsecache.result_record`
    makes them, but ``(head, None, digest, problems)`` for an article whose details were stored), the
    indexes of the files stored in the cache, and the first warning a batch's store gave."""

    records: list[tuple]
    stored: list[int]
    warning: str | None


def die_with_parent() -> None:
    """A worker's initializer: be killed when the process that forked it dies.

    A pool worker blocks reading its task pipe, which it holds open itself, so
    it would outlive a parent killed with SIGKILL forever. Linux's
    PR_SET_PDEATHSIG ends it instead; elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def read_batch(job: tuple[Path, list[str], Settings]) -> list[tuple]:
    """The record of each named file under ``root``, in order (the reading alone, nothing stored)."""
    root, names, settings = job
    return [result_record(read_named(root, name, settings)) for name in names]


class _Job(NamedTuple):
    """One batch: the files' names under ``root`` and their scanned identities, and where to store
    them: the cache's database (None: nowhere) and :func:`~feeds.read.parsecache.settled_before`'s bound."""

    root: Path
    names: list[str]
    identities: list
    settings: Settings
    cache_path: Path | None
    before_ns: int


def _read_and_store(job: _Job) -> Parsed:
    """One batch: its records, the settled files' ones stored (see :func:`~feeds.read.parsecache.is_settled`)
    through a connection of this call's own, closed before it returns."""
    records = read_batch((job.root, job.names, job.settings))
    if job.cache_path is None:
        return Parsed(records, [], None)
    identities, before_ns = job.identities, job.before_ns
    stored = [i for i, identity in enumerate(identities) if identity is not None and is_settled(identity, before_ns)]
    if not stored:
        return Parsed(records, [], None)
    cache = ParseCache(job.cache_path, job.root, job.settings)
    try:
        cache.save([(job.names[i], identities[i], records[i]) for i in stored])
    except sqlite3.Error as exc:
        return Parsed(records, [], not_written(job.cache_path, exc))
    finally:
        cache.close()
    for i in stored:
        head, _, digest, problems = records[i]
        if head is not None:
            records[i] = (head, None, digest, problems)  # the loading process finds the details in the database
    return Parsed(records, stored, None)


def parse_files(
    root: Path, names: list[str], identities: list, settings: Settings, workers: int, cache: ParseCache | None,
    before_ns: int,
) -> Parsed:  # fmt: skip
    """Read the named files (their scanned ``identities`` beside them), store those settled before
    ``before_ns`` in ``cache`` (when one is given), and give every record in order (see :class:`Parsed`).
    Few files are read in this process; many in batches on a pool of ``workers`` processes (forked on Linux)."""
    if not names:
        return Parsed([], [], None)
    cache_path = cache.path if cache is not None else None
    if workers <= 1 or len(names) < PARALLEL_THRESHOLD:
        return _read_and_store(_Job(root, names, identities, settings, cache_path, before_ns))
    size = min(max(_MIN_BATCH, -(-len(names) // (workers * 4))), _MAX_BATCH)
    starts = range(0, len(names), size)
    jobs = [_Job(root, names[i : i + size], identities[i : i + size], settings, cache_path, before_ns) for i in starts]
    if cache is not None:
        # A forked child inherits SQLite's record of this process's open database and locks, and a
        # connection it opens then shares that record: it would take no lock of its own on the file
        # or its -shm (only the write lock), leaning on this process's. Closed, the children's are real
        # (unless another connection of this process is still open to it, an earlier load's articles':
        # then, as for the render pool's workers, they lean on this process's locks while it lives).
        cache.close()
    prepare_repair()  # imported once here, shared by the forked readers
    context = get_context("fork" if sys.platform.startswith("linux") else "spawn")
    records: list[tuple] = []
    stored: list[int] = []
    warning = None
    with context.Pool(processes=min(workers, len(jobs)), initializer=die_with_parent) as pool:
        # The readers are forked: with a connection open here, a reader's close is never the last one,
        # which folds the WAL into the database and deletes it (a worker the pool forks again to replace
        # one that died would share this connection's record, as above).
        if cache is not None:
            cache.keep_open()
        for start, batch in zip(starts, pool.imap(_read_and_store, jobs), strict=True):
            records += batch.records
            stored += [start + i for i in batch.stored]
            warning = warning or batch.warning
    return Parsed(records, stored, warning)
