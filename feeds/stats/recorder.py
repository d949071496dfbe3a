"""Recording the live app's feed fetches off the request path: a queue per process, drained by a writer thread.

A request pays for one tuple and one ``SimpleQueue.put``; classifying the
User-Agent, hashing the address and writing SQLite happen in the writer thread,
which takes everything queued since its last write and writes it as one
transaction (under load, hundreds of fetches a commit). Several gunicorn
workers each have their own writer and share the database file (WAL, each
transaction waits its turn). The recorder is made before gunicorn forks; each
process starts its own writer at its first fetch, so no thread ever runs in the
pre-forking master, and flushes what is queued when it exits.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import queue
import sqlite3
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds.config import Settings
from feeds.stats.store import Fetch, StatsStore, stats_db_path, utc_day

BATCH_LIMIT = 20_000  # fetches per transaction at most
# While writes keep failing, at most this many fetches wait in memory; the oldest beyond it are dropped
# (and counted in ``dropped``) so that a long outage of the database cannot grow a worker without bound
PENDING_LIMIT = 10 * BATCH_LIMIT
# After the first fetch of a batch the writer waits this long for more: one transaction per worker and
# interval however busy the server (a transaction per fetch cost a loaded server a third of its requests/s)
BATCH_SECONDS = 0.5
RETRY_SECONDS = 1.0  # after a failed write (the file busy past the timeout, disk full), try again this late
_STOP = None
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(remote: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address: ``remote``, unless it is a trusted proxy; then the nearest untrusted hop of
    ``X-Forwarded-For`` (read from the right, as each proxy appends the address it saw).

    An address a trusted proxy did not add (anything left of the first untrusted hop) is
    the client's own claim and never believed; a malformed hop ends the walk at the last
    address that was known.
    """
    address = remote
    if not forwarded_for or not _is_trusted(address, trusted):
        return address
    for hop in reversed(forwarded_for.split(",")):
        candidate = hop.strip()
        if not _parse_ip(candidate):
            return address
        address = candidate
        if not _is_trusted(address, trusted):
            return address
    return address


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    ip = _parse_ip(address)
    return ip is not None and any(ip in network for network in trusted)


def recorder_for(settings: Settings) -> StatsRecorder | None:
    """The recorder ``settings`` ask for, or None when statistics are off (``stats: false``)."""
    if not settings.stats:
        return None
    return StatsRecorder(
        stats_db_path(settings), trusted_proxies=settings.trusted_proxies, detail_days=settings.stats_detail_days
    )


class StatsRecorder:
    """Queues the live app's feed fetches and writes them in batches from a thread of each process."""

    def __init__(
        self,
        db_path: Path,
        *,
        trusted_proxies: tuple[str, ...] = (),
        detail_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db_path, self.detail_days, self.clock = db_path, detail_days, clock
        self.trusted = tuple(ipaddress.ip_network(net) for net in trusted_proxies)
        self._pid: int | None = None  # the process whose writer runs
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.failures = 0  # failed writes so far (each retried)
        self.dropped = 0  # fetches dropped while writes kept failing (over PENDING_LIMIT)
        self._closing = threading.Event()  # set by close(): no more waiting for a batch to fill, or to retry

    def record(self, path: str, status: int, size: int, environ: dict[str, Any]) -> None:
        """Queue one fetch (the request path's whole cost: a tuple and a put)."""
        if self._pid != os.getpid():
            self._start()
        self._queue.put(
            (self.clock(), path, status, size, environ.get("REMOTE_ADDR", ""),
             environ.get("HTTP_X_FORWARDED_FOR"), environ.get("HTTP_USER_AGENT", ""))
        )  # fmt: skip

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            # a fresh queue and writer in this process (a forked worker inherits neither thread nor lock)
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._write_forever, name="feeds-stats-writer", daemon=True)
            self._pid = os.getpid()
            self._writer.start()
            atexit.register(self.close)

    def close(self) -> None:
        """Write what is queued and stop this process's writer (registered with atexit)."""
        writer = self._writer
        if writer is None or self._pid != os.getpid() or not writer.is_alive():
            return
        self._queue.put(_STOP)
        self._closing.set()  # a writer waiting for more fetches or to retry writes now, then stops
        writer.join()

    def _write_forever(self) -> None:
        store: StatsStore | None = None
        pending: list[Fetch] = []
        day = None
        try:
            while True:
                stop = self._take(pending)
                today = utc_day(self.clock())
                try:
                    if store is None:
                        store = StatsStore(self.db_path)
                    if today != day:  # once a day per process: forget old keys, roll up old detail
                        store.forget_keys(today)
                        store.roll_up(today, self.detail_days)
                        day = today
                    store.add(pending)
                    pending.clear()
                except (sqlite3.Error, OSError) as exc:  # kept and retried: a busy or full disk must not lose fetches
                    self.failures += 1
                    print(f"feeds: warning: statistics not written to {self.db_path} ({exc}); retrying",
                          file=sys.stderr, flush=True)  # fmt: skip
                    if stop:
                        return
                    self._closing.wait(RETRY_SECONDS)
                    continue
                if stop:
                    return
        finally:
            if store is not None:
                store.close()

    def _take(self, pending: list[Fetch]) -> bool:
        """Wait for a fetch (unless ``pending`` holds a retry) and BATCH_SECONDS more, then take what is
        queued, up to BATCH_LIMIT, into ``pending``; True when the stop mark was among them."""
        items = [] if pending else [self._queue.get()]
        self._closing.wait(BATCH_SECONDS)
        while len(items) < BATCH_LIMIT:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        stop = False
        for item in items:
            if item is _STOP:
                stop = True
                continue
            when, path, status, size, remote, forwarded_for, user_agent = item
            address = client_address(remote, forwarded_for, self.trusted)
            pending.append(Fetch(when, path, status, size, address, user_agent))
        if len(pending) > PENDING_LIMIT:
            self.dropped += len(pending) - PENDING_LIMIT
            del pending[: len(pending) - PENDING_LIMIT]
        return stop
