"""WebSub publishing: tell the hub which feeds changed, so subscribers get them at once.

W3C WebSub (§5, Publishing) leaves how a publisher tells its hub about new
content to the hub. The form hubs accept in practice is PubSubHubbub 0.3's
§7.1: a form-encoded POST of ``hub.mode=publish`` and ``hub.url=<topic URL>``.
0.3 lets ``hub.url`` repeat in one request, but hubs written against WebSub
need not read more than one, so we send **one POST per changed feed URL**: it
works with every hub that takes the form, and a change touches tens of feeds,
not thousands (a reload or export that changes one article: the all feed, its
topics and its provider, in each format).

IO, at the outlet stage, and never raising: a hub that is down, slow or
refuses costs the export or the live app nothing but a report line.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from feeds.cache_dir import default_cache_dir
from feeds.config import Settings
from feeds.index.catalog import Catalog
from feeds.render.signature import SignatureMemo, Signer
from feeds.render.site import enabled_formats

TIMEOUT = 5.0
RETRIES = 3
BACKOFF = 0.5
USER_AGENT = "feeds-websub/1"
# a change claimed by one worker within this many seconds is not pinged again by the others
CLAIM_SECONDS = 60.0
_CLAIM_KEEP_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class PingReport:
    """What one round of pings did: ``ok`` only when the hub accepted every feed URL."""

    hub: str
    feeds: int
    ok: bool
    reason: str | None = None
    requests: int = 0  # HTTP requests sent, retries included

    def line(self) -> str:
        """The one-line report: ``websub: pinged HUB for N feeds (ok|failed: reason)``."""
        outcome = "ok" if self.ok else f"failed: {self.reason}"
        return f"websub: pinged {self.hub} for {self.feeds} feeds ({outcome})"


def _retryable_status(status: int) -> bool:
    return status >= 500 or status == 429  # the hub's trouble, or "slow down": try again later


def _post_once(hub_url: str, feed_url: str, timeout: float) -> tuple[int | None, str]:
    """(status, reason) of one publish POST; status None for a network error or timeout."""
    body = urllib.parse.urlencode([("hub.mode", "publish"), ("hub.url", feed_url)]).encode("ascii")
    request = urllib.request.Request(
        hub_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65_536)
            return response.status, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return None, " ".join(str(exc.reason).split()) or type(exc.reason).__name__
    except TimeoutError:
        return None, f"no answer in {timeout:g}s"
    except (OSError, http.client.HTTPException) as exc:
        return None, " ".join(str(exc).split()) or type(exc).__name__


def ping_hub(
    hub_url: str,
    feed_urls: Iterable[str],
    *,
    timeout: float = TIMEOUT,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> PingReport:
    """POST ``hub.mode=publish`` for each feed URL; never raises.

    A network error, a timeout, a 5xx or a 429 is retried up to ``retries``
    times, waiting ``backoff``, 2×``backoff``, 4×``backoff``... seconds; any
    other non-2xx answer is final. After a URL fails for good the rest are not
    tried (the hub is down; hammering it helps nobody) and the report says why.
    """
    urls = list(dict.fromkeys(feed_urls))  # each once, in the given order
    sent = 0
    for url in urls:
        for attempt in range(retries + 1):
            status, reason = _post_once(hub_url, url, timeout)
            sent += 1
            if status is not None and 200 <= status < 300:
                break
            if (status is not None and not _retryable_status(status)) or attempt == retries:
                tries = f" after {attempt + 1} tries" if attempt else ""
                return PingReport(hub_url, len(urls), False, f"{reason}{tries} for {url}", sent)
            sleep(backoff * 2**attempt)
    return PingReport(hub_url, len(urls), True, None, sent)


def feed_urls(paths: Sequence[str], settings: Settings) -> tuple[str, ...]:
    """Absolute URLs of site paths (``topics/ai.rss``), from the base URL as the feeds' self links."""
    return tuple(f"{settings.site_url}{path}" for path in paths)


def changed_feed_paths(
    old: Catalog, new: Catalog, settings: Settings, memo: SignatureMemo | None = None
) -> tuple[str, ...]:
    """Site paths of the feeds whose bytes differ between two catalogs (new feeds too), in site order.

    Compared by render signature (every field of every item, the feed's identity),
    so nothing is rendered. A feed that disappeared is not listed: it has no URL to fetch.
    ``memo``: the caller's digests from earlier calls (a server keeps one), so only what changed is digested.
    """
    old_signer, new_signer = Signer(old, settings, memo), Signer(new, settings, memo)
    formats = enabled_formats(settings)
    changed = []
    for feed in new.feeds:
        before = old.get(feed.path)
        for fmt in formats:
            signature = new_signer.feed(feed, fmt.extension)
            if before is None or old_signer.feed(before, fmt.extension) != signature:
                changed.append(f"{feed.path}.{fmt.extension}")
    return tuple(changed)


def claim_change(settings: Settings, old_mark: str | None, new_mark: str | None) -> bool:
    """True for the one process of a server that should ping for this change of the articles folder.

    Every gunicorn worker polls the folder and sees the same change; the first
    to create a claim file (``O_EXCL``, atomic) named after the hub, the
    folder and the two fingerprints pings, the others see a fresh claim and
    stay quiet. A claim older than CLAIM_SECONDS no longer counts, so a
    folder that flips back and forth is announced every time. When the cache
    folder is not writable every worker pings: a duplicate publish is harmless
    (hubs fetch the feed and deliver only new content), a missed one is not.
    """
    key = repr((settings.websub_hub, str(settings.articles_dir.resolve()), old_mark, new_mark))
    folder = (settings.cache_dir or default_cache_dir()) / "websub"
    path = folder / f"claim-{hashlib.sha256(key.encode()).hexdigest()[:32]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        try:
            if now - path.stat().st_mtime < CLAIM_SECONDS:
                return False
            path.unlink(missing_ok=True)  # stale: this is a new change to the same state
        except FileNotFoundError:
            pass
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        _prune(folder, now)
    except FileExistsError:
        return False
    except OSError:
        return True
    return True


def _prune(folder: Path, now: float) -> None:
    for entry in folder.glob("claim-*"):
        try:
            if now - entry.stat().st_mtime > _CLAIM_KEEP_SECONDS:
                entry.unlink()
        except OSError:
            continue
