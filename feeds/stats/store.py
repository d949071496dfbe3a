"""The subscriber statistics database: one SQLite file (stdlib sqlite3, WAL), shared by every writer.

What it holds (and nothing else):

- ``fetches``: detail rows, one per (day, feed path, status, reader identity) and
  batch, with how many fetches and bytes they stand for. A reader's identity is
  the name from :mod:`feeds.stats.agents` (plus an aggregator's reported count and feed
  id), and for an individual reader a keyed hash of its address and User-Agent.
  Never an address, never a User-Agent string.
- ``day_keys``: the random key of each day's hash. Every process that writes a
  day uses the same row (``INSERT OR IGNORE`` then read it back), so one reader
  fetching from two gunicorn workers hashes alike and counts once. A day's key is
  deleted once the day after it is over (so late CDN logs of yesterday still
  match), and then it is gone: the hashes of that day can no longer be linked to
  any address, not even by whoever holds this file. The row stays with an empty
  key (a tombstone): fetches of that day that arrive later (a CDN log imported
  days late) count as fetches and bytes but add no individual readers, since a
  new key would count a reader already counted a second time.
- ``daily`` and ``daily_traffic``: the counts of days older than the detail
  window (``stats_detail_days``), when the detail is rolled up and deleted.
- ``log_reads``: which leading byte ranges of which access logs were read
  (SHA-256 digests and lengths), so a log read twice counts once.

Deleted rows are overwritten (``secure_delete``) and the WAL is truncated when
keys are forgotten, so a forgotten key does not linger in free pages.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from feeds.cache_dir import default_cache_dir
from feeds.config import Settings
from feeds.sqlite_wal import connect_wal
from feeds.stats.agents import AgentKind, classify_agent

BUSY_TIMEOUT_MS = 30_000  # several workers and a `feeds stats --log` may write at once; each waits its turn
READER_HASH_BYTES = 16
_AGGREGATOR, _READER = AgentKind.AGGREGATOR.value, AgentKind.READER.value
# a fetch that got the feed (200) or a 304 shows a subscription; a redirect does not (the reader then
# fetches the target too, which counts it: an alias path must not become a feed of its own); CloudFront
# logs 000 for an abort
SUBSCRIBED_STATUSES = "IN (200, 304)"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fetches (
    day TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL,
    agent TEXT NOT NULL, kind TEXT NOT NULL, subscribers INTEGER, feed_id TEXT, reader BLOB,
    fetches INTEGER NOT NULL, bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fetches_by_day ON fetches (day, path);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT NOT NULL, path TEXT NOT NULL, agent TEXT NOT NULL, subscribers INTEGER NOT NULL,
    PRIMARY KEY (day, path, agent)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily_traffic (
    day TEXT NOT NULL, path TEXT NOT NULL, fetches INTEGER NOT NULL, not_modified INTEGER NOT NULL,
    bytes INTEGER NOT NULL, PRIMARY KEY (day, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS day_keys (day TEXT PRIMARY KEY, key BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_reads (
    head BLOB NOT NULL, length INTEGER NOT NULL, digest BLOB NOT NULL, PRIMARY KEY (head, length)
) WITHOUT ROWID;
"""

# Per day, feed and reader name: an aggregator's largest reported count per feed id (summed over
# its feed ids), or the number of distinct individual readers (FeedPress's rule, issue 19).
_SUBSCRIBERS_SQL = f"""
SELECT day, path, agent, SUM(n) FROM (
    SELECT day, path, agent, MAX(subscribers) AS n FROM fetches
    WHERE kind = '{_AGGREGATOR}' AND status {SUBSCRIBED_STATUSES} AND day BETWEEN ? AND ?
    GROUP BY day, path, agent, feed_id
    UNION ALL
    SELECT day, path, agent, COUNT(DISTINCT reader) FROM fetches
    WHERE kind = '{_READER}' AND status {SUBSCRIBED_STATUSES} AND day BETWEEN ? AND ?
    GROUP BY day, path, agent
) GROUP BY day, path, agent
"""
_TRAFFIC_SQL = """
SELECT day, path, SUM(fetches), SUM(CASE WHEN status = 304 THEN fetches ELSE 0 END), SUM(bytes)
FROM fetches WHERE day BETWEEN ? AND ? GROUP BY day, path
"""


@dataclass(frozen=True, slots=True)
class Fetch:
    """One request for a feed as the web app or an access log saw it; the address is only ever hashed."""

    when: datetime  # timezone-aware
    path: str
    status: int
    size: int
    address: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class DayCounts:
    """One feed on one day: subscribers by reader name, and its traffic."""

    day: str
    path: str
    by_reader: dict[str, int]
    fetches: int
    not_modified: int
    bytes: int

    @property
    def subscribers(self) -> int:
        return sum(self.by_reader.values())


def stats_db_path(settings: Settings) -> Path:
    """``stats_db`` from the config, else ``stats.sqlite3`` in the cache folder."""
    if settings.stats_db is not None:
        return settings.stats_db
    return (settings.cache_dir or default_cache_dir()) / "stats.sqlite3"


def is_feed_path(path: str, extensions: frozenset[str]) -> bool:
    """A path worth counting: it names a feed document (its extension is an enabled format's)."""
    return path.rpartition(".")[2] in extensions


def _canonical(address: str) -> str:
    """One spelling per address (``2001:DB8::1`` and ``2001:db8:0::1`` are one reader); other text as it is."""
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address


def utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def _shift(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


class StatsStore:
    """One connection to the statistics database, used by one thread; its day keys memo lives as long as it.

    Every write is its own ``BEGIN IMMEDIATE`` transaction unless grouped with
    :meth:`transaction`, so writers in other processes never see half a batch.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = connect_wal(path, timeout=BUSY_TIMEOUT_MS / 1000)  # readers never block the writers, nor writers them
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit is durable at the next checkpoint
        self.db.execute("PRAGMA secure_delete=ON")  # a forgotten key is overwritten, not left in a free page
        self._depth = 0
        with self.transaction():  # executescript would commit first; one statement at a time instead
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
        self._keys: dict[str, bytes] = {}

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (nested calls join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    def day_key(self, day: str) -> bytes:
        """The day's hash key: made by the first writer of the day, read by every other."""
        key = self._keys.get(day)
        if key is None:
            with self.transaction():  # a forgotten day keeps its tombstone (an empty key): no new key for it
                self.db.execute("INSERT OR IGNORE INTO day_keys VALUES (?, ?)", (day, secrets.token_bytes(32)))
                (key,) = self.db.execute("SELECT key FROM day_keys WHERE day = ?", (day,)).fetchone()
            self._keys[day] = key
        return key

    def forget_keys(self, today: str) -> int:
        """Forget the keys of days before yesterday, in the file (each becomes an empty tombstone) and in
        memory; how many went."""
        oldest_kept = _shift(today, -1)
        with self.transaction():
            gone = self.db.execute(
                "UPDATE day_keys SET key = x'' WHERE day < ? AND length(key) > 0", (oldest_kept,)
            ).rowcount
        self._keys = {day: key for day, key in self._keys.items() if day >= oldest_kept}
        if gone:
            # the WAL still holds the pages the keys were on until it is reset
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return gone

    def add(self, fetches: Iterable[Fetch]) -> int:
        """Record fetches in one transaction, fetches of one identity merged into one row; how many."""
        rows: Counter[tuple] = Counter()
        sizes: Counter[tuple] = Counter()
        for fetch in fetches:
            agent = classify_agent(fetch.user_agent)
            day = utc_day(fetch.when)
            reader = None
            if agent.kind is AgentKind.READER and (day_key := self.day_key(day)):  # no key: a forgotten day
                identity = f"{_canonical(fetch.address)}\n{fetch.user_agent}".encode("utf-8", "surrogateescape")
                reader = hmac.digest(day_key, identity, hashlib.sha256)[:READER_HASH_BYTES]
            key = (day, fetch.path, fetch.status, agent.name, agent.kind.value, agent.subscribers, agent.feed_id,
                   reader)  # fmt: skip
            rows[key] += 1
            sizes[key] += max(0, fetch.size)
        with self.transaction():
            self.db.executemany(
                "INSERT INTO fetches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*key, count, sizes[key]) for key, count in rows.items()],
            )
        return rows.total()

    def roll_up(self, today: str, detail_days: int) -> int:
        """Turn the detail of days at least ``detail_days`` before ``today`` into daily counts; days rolled up.

        A day that was rolled up before (a late access log) is merged: the larger
        count per reader name, the sum of the traffic.
        """
        before = _shift(today, -detail_days + 1)
        with self.transaction():
            days = [d for (d,) in self.db.execute("SELECT DISTINCT day FROM fetches WHERE day < ?", (before,))]
            if not days:
                return 0
            first, last = min(days), max(days)
            for day, path, agent, count in self.db.execute(_SUBSCRIBERS_SQL, (first, last, first, last)).fetchall():
                self.db.execute(
                    "INSERT INTO daily VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE "
                    "SET subscribers = MAX(subscribers, excluded.subscribers)",
                    (day, path, agent, count),
                )
            for row in self.db.execute(_TRAFFIC_SQL, (first, last)).fetchall():
                self.db.execute(
                    "INSERT INTO daily_traffic VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "fetches = fetches + excluded.fetches, not_modified = not_modified + excluded.not_modified, "
                    "bytes = bytes + excluded.bytes",
                    row,
                )
            self.db.execute("DELETE FROM fetches WHERE day < ?", (before,))
        return len(days)

    def newest_day(self) -> str | None:
        (day,) = self.db.execute(
            "SELECT MAX(day) FROM (SELECT MAX(day) AS day FROM fetches UNION ALL SELECT MAX(day) FROM daily_traffic)"
        ).fetchone()
        return day

    def counts(self, first: str, last: str) -> list[DayCounts]:
        """Every feed's counts on every day from ``first`` to ``last`` (ISO dates), detail and rolled up alike."""
        readers: dict[tuple[str, str], dict[str, int]] = {}
        rolled = self.db.execute(
            "SELECT day, path, agent, subscribers FROM daily WHERE day BETWEEN ? AND ?", (first, last)
        ).fetchall()
        for day, path, agent, count in [*rolled, *self.db.execute(_SUBSCRIBERS_SQL, (first, last, first, last))]:
            by_reader = readers.setdefault((day, path), {})
            by_reader[agent] = max(by_reader.get(agent, 0), count)
        traffic: Counter[tuple[str, str, str]] = Counter()
        rolled_traffic = self.db.execute(
            "SELECT day, path, fetches, not_modified, bytes FROM daily_traffic WHERE day BETWEEN ? AND ?", (first, last)
        ).fetchall()
        for day, path, fetches, not_modified, size in [*rolled_traffic, *self.db.execute(_TRAFFIC_SQL, (first, last))]:
            traffic[day, path, "fetches"] += fetches
            traffic[day, path, "not_modified"] += not_modified
            traffic[day, path, "bytes"] += size
        keys = sorted(set(readers) | {(day, path) for day, path, _ in traffic})
        return [
            DayCounts(
                day, path, {name: n for name, n in sorted(readers.get((day, path), {}).items()) if n},
                traffic[day, path, "fetches"], traffic[day, path, "not_modified"], traffic[day, path, "bytes"],
            )  # fmt: skip
            for day, path in keys
        ]

    # access logs: which leading byte ranges were read already

    def read_ranges(self, head: bytes) -> list[tuple[int, bytes]]:
        """(length, digest of the first ``length`` bytes) of every earlier read of a log starting with ``head``."""
        rows = self.db.execute("SELECT length, digest FROM log_reads WHERE head = ? ORDER BY length DESC", (head,))
        return rows.fetchall()

    def mark_read(self, head: bytes, length: int, digest: bytes) -> None:
        """Remember that the log named ``head`` was read up to ``length`` (a shorter read of it is superseded)."""
        with self.transaction():
            self.db.execute("DELETE FROM log_reads WHERE head = ? AND length < ?", (head, length))
            self.db.execute("INSERT OR REPLACE INTO log_reads VALUES (?, ?, ?)", (head, length, digest))
