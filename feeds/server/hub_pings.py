"""The WebSub pings of one live process: after a reload's swap, which feeds changed, told to the hub.

Each ping runs on a thread of its own, so the reload thread never waits for the hub. Only the
worker that claims the change pings (:func:`feeds.websub.claim_change`), and only after the other
workers had time to serve the new bytes; the first load of a process pings nothing: it changed
no feed a subscriber saw from it. ``last`` is the latest report, for /healthz.
"""

from __future__ import annotations

import threading

from feeds import websub
from feeds.config import Settings
from feeds.render.signature import SignatureMemo
from feeds.server.snapshot import Snapshot


class HubPings:
    """The pings of one :class:`~feeds.server.live.Live` (one process): in flight, and the latest report."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # the latest WebSub report of this process (None before any ping), for /healthz
        self.last: websub.PingReport | None = None
        # digests of unchanged articles, kept from one ping's comparison to the next
        self._signatures = SignatureMemo()
        self._threads: list[threading.Thread] = []

    def ping_later(self, old: Snapshot, new: Snapshot, stop: threading.Event) -> None:
        """Tell the hub which feeds the swap from ``old`` to ``new`` changed, on a thread of its own (the
        poller never waits); a ping still waiting when ``stop`` is set (its reload thread stopping) is not sent.

        Only the worker that claims the change pings (feeds.websub.claim_change);
        the first load of a process pings nothing: it changed no feed a subscriber saw from it.
        """
        if old.fingerprint is None:
            return

        def ping() -> None:
            # other workers poll on their own: give them two intervals to serve the new bytes
            # before the hub fetches them (it may reach any worker)
            if stop.wait(2 * self.settings.reload_interval):
                return
            paths = websub.changed_feed_paths(old.catalog, new.catalog, self.settings, self._signatures)
            if paths and websub.claim_change(self.settings, old.fingerprint, new.fingerprint):
                hub = self.settings.websub_hub or ""
                self.last = websub.ping_hub(hub, websub.feed_urls(paths, self.settings))

        thread = threading.Thread(target=ping, name="feeds-websub", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for this process's pings in flight (tests and orderly shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)
