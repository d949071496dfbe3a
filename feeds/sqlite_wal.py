"""Opening an SQLite database in WAL mode when other processes may be opening it at the same moment.

The parse cache and the statistics store are shared by processes that start together (the
live app's workers, an export beside ``feeds check``), and the first of them creates the file.
Switching a new database to WAL needs an exclusive lock, and SQLite may answer SQLITE_BUSY
at once instead of calling the busy handler while another connection holds a lock on the
still rollback-journal file (sqlite3_busy_handler's documentation: "If SQLite determines that
invoking the busy handler could result in a deadlock, it will go ahead and return SQLITE_BUSY").
Four processes creating one database together failed so ~1 time in 60 (SQLite 3.40). This is
the one place that works around it: the switch is tried again until the busy timeout runs out.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_SQLITE_BUSY = 5
_RETRY_SECONDS = 0.005  # a rival's creation transaction takes about a millisecond


def connect_wal(
    path: Path, *, timeout: float, pragmas: tuple[str, ...] = (), check_same_thread: bool = True
) -> sqlite3.Connection:
    """A connection to ``path`` (created when missing) in WAL mode, in autocommit
    (``isolation_level=None``), waiting up to ``timeout`` seconds for other connections' locks.

    ``pragmas`` run before the switch to WAL (``page_size`` can only change before it).
    Raises sqlite3.Error as :func:`sqlite3.connect` and the statements do; SQLITE_BUSY only once
    ``timeout`` has passed (up to twice that in all: the last try may wait out the busy handler)."""
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=check_same_thread)
    try:
        for pragma in pragmas:
            connection.execute(pragma)
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return connection
            except sqlite3.OperationalError as exc:
                busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(_RETRY_SECONDS)
    except BaseException:
        connection.close()
        raise
