"""One write transaction of the parse cache (:mod:`feeds.read.parsecache`): entries and their details.

A writer's entries are committed together with their details, so a reader sees both or
neither. The details an entry named are shared (keyed by the article's digest) and outlive it:
a transaction that replaces or deletes entries marks the details they named unused where no entry
names them any more, reading those entries inside the transaction (another writer may have stored
them since the caller looked), and deletes details unused for an hour, which another process may
still be rendering from. Each call is one ``BEGIN IMMEDIATE`` transaction: writers take turns.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator

UNUSED_DETAILS_KEPT_SECONDS = 3_600  # another process may still render an article a newer entry replaced


def write_entries(connection: sqlite3.Connection, rows: list, details: list, gone: Iterable[bytes]) -> None:
    """One transaction: store the entry ``rows`` (name, digest, CRC'd entry) and their ``details`` (digest,
    packed), delete the entries of the names ``gone``, and mark unused the details the replaced or deleted
    entries named where no entry names them any more; details unused for UNUSED_DETAILS_KEPT_SECONDS go.
    Rolled back whole on any failure. Raises sqlite3.Error."""
    connection.execute("BEGIN IMMEDIATE")  # one writer at a time; the others wait (the busy timeout)
    try:
        # what the entries about to be replaced or deleted name, read in this transaction: another
        # writer may have stored them since this load's lookup
        replaced = named_digests(connection, [row[0] for row in rows] + list(gone))
        connection.executemany(
            "INSERT INTO details(digest, packed) VALUES (?, ?) ON CONFLICT(digest) DO UPDATE SET unused_since = NULL",
            details,
        )
        connection.executemany(
            "INSERT INTO entries(name, digest, entry) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET digest = excluded.digest, entry = excluded.entry",
            rows,
        )
        connection.executemany("DELETE FROM entries WHERE name = ?", ((name,) for name in gone))
        now = int(time.time())
        connection.executemany(
            "UPDATE details SET unused_since = ? WHERE digest = ? AND unused_since IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM entries WHERE entries.digest = details.digest)",
            ((now, digest) for digest in replaced),
        )
        connection.execute("DELETE FROM details WHERE unused_since < ?", (now - UNUSED_DETAILS_KEPT_SECONDS,))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


MAX_PARAMETERS = 999  # bound parameters per statement: SQLITE_MAX_VARIABLE_NUMBER before SQLite 3.32


def rows_in(connection: sqlite3.Connection, query: str, values: list) -> Iterator[tuple]:
    """The rows of ``query``, whose ``{marks}`` stands in an ``IN (...)`` for ``values``, run in as many
    statements as SQLite's limit of bound parameters asks. The cache's reads use it too."""
    for start in range(0, len(values), MAX_PARAMETERS):
        group = values[start : start + MAX_PARAMETERS]
        # only the parameters' marks are formatted into the statement, never a value
        yield from connection.execute(query.format(marks=",".join("?" * len(group))), group)


def named_digests(connection: sqlite3.Connection, names: list[bytes]) -> list[bytes]:
    """The article digests the entries of ``names`` name now (inside the caller's transaction)."""
    query = "SELECT digest FROM entries WHERE name IN ({marks}) AND digest IS NOT NULL"
    return [digest for (digest,) in rows_in(connection, query, names)]
