"""Opening a database in WAL mode while another connection holds a lock on the new file.

The race it stands for: processes that create one database together (the parse cache of
workers started at once). A connection holding a write lock on the still rollback-journal
file makes SQLite answer the switch to WAL with SQLITE_BUSY at once, busy timeout or not.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from feeds.sqlite_wal import connect_wal


def _held_new_database(path: Path) -> sqlite3.Connection:
    """A new rollback-journal database with a write transaction open on it (what a rival
    creator holds while it makes the file)."""
    rival = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    rival.execute("BEGIN IMMEDIATE")
    rival.execute("CREATE TABLE made_by_the_rival(x)")
    return rival


def test_sqlite_answers_busy_at_once_without_the_workaround(tmp_path: Path) -> None:
    """The SQLite behaviour connect_wal exists for: when this starts passing, the retry may go."""
    rival = _held_new_database(tmp_path / "new.sqlite3")
    plain = sqlite3.connect(tmp_path / "new.sqlite3", timeout=10, isolation_level=None)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        plain.execute("PRAGMA journal_mode=WAL")
    assert time.monotonic() - started < 5  # the 10 s busy timeout was never waited
    plain.close(), rival.close()


def test_the_switch_waits_for_a_rival_creator_and_sees_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    rival = _held_new_database(path)
    release = threading.Timer(0.3, lambda: rival.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    connection = connect_wal(path, timeout=10, pragmas=("PRAGMA page_size=16384",))
    assert time.monotonic() - started >= 0.25
    release.join()
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("SELECT name FROM sqlite_schema").fetchall() == [("made_by_the_rival",)]
    assert connection.in_transaction is False  # autocommit, as the callers' BEGIN IMMEDIATE expects
    connection.close(), rival.close()


def test_a_lock_held_past_the_timeout_is_reported_busy(tmp_path: Path) -> None:
    rival = _held_new_database(tmp_path / "new.sqlite3")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked") as raised:
        connect_wal(tmp_path / "new.sqlite3", timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 5
    assert raised.value.sqlite_errorcode & 0xFF == 5  # SQLITE_BUSY
    rival.close()


def test_page_size_is_set_before_the_switch(tmp_path: Path) -> None:
    connection = connect_wal(tmp_path / "new.sqlite3", timeout=1, pragmas=("PRAGMA page_size=16384",))
    connection.execute("CREATE TABLE t(x)")
    assert connection.execute("PRAGMA page_size").fetchone() == (16384,)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_another_error_is_raised_at_once(tmp_path: Path) -> None:
    (tmp_path / "a-folder").mkdir()
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        connect_wal(tmp_path / "a-folder", timeout=10)
    assert time.monotonic() - started < 5
