"""``feeds publish``: an export folder → an S3-compatible bucket, then the CDNs purged, then WebSub.

One :class:`Publisher` per target, alive as long as its caller (one run of
``feeds publish``, or every export of ``feeds export --watch --publish``): it
owns the S3 client (and its connections) and the request count.

A publish (issue 17):

1. reads the export's ``_manifest.json`` and the bucket's state object (one GET);
2. plans the difference (:func:`feeds.bucket.plan.make_plan`); nothing to do: done, no write;
3. stores the *intent* (the state with every path about to change marked unknown), so a run
   killed from here on is completed by the next one, whatever the export does meanwhile;
4. uploads tier by tier (what feeds link to, the feeds, the lists of feeds), each tier
   ``workers`` wide, each file's bytes checked against the manifest's SHA-256 as they are read;
5. deletes what the manifest dropped, only when every upload succeeded and never more than
   ``max_deletes`` without being told;
6. stores the new state (last), purges the CDNs, pings the WebSub hub (so hubs fetch the new bytes).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from feeds.bucket.plan import (
    STATE_NAME,
    Entry,
    Manifest,
    Plan,
    PlanError,
    PublishUnusable,
    decode_state,
    encode_state,
    make_plan,
    parse_manifest,
    parse_target,
    public_urls,
)
from feeds.bucket.purge import PURGERS, CdnPurger, PurgeTarget
from feeds.bucket.s3_store import Bucket, RequestCounter
from feeds.config import PublishSettings
from feeds.site_paths import MANIFEST_PATH


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """Everything one publish needs, checked: the config's ``publish:`` section with options applied."""

    settings: PublishSettings
    dry_run: bool = False
    verify: bool = False
    websub_hub: str | None = None

    @property
    def cdns(self) -> list[tuple[CdnPurger, PurgeTarget]]:
        found = []
        for purger in PURGERS:
            ident = getattr(self.settings, purger.setting)
            if ident is not None:
                found.append((purger, PurgeTarget(ident, self.settings.cloudflare_api_url)))
        return found


@dataclass(frozen=True, slots=True)
class PublishSummary:
    """What a publish did; ``failures`` (one line each) make it exit 1."""

    target: str
    uploaded: int
    unchanged: int
    deleted: int
    purged: int
    requests: int
    seconds: float
    failures: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()  # purge and WebSub lines, held-back deletions
    dry_run: bool = False

    def line(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (
            f"{self.uploaded} {verb}uploaded, {self.unchanged} unchanged, {self.deleted} {verb}deleted, "
            f"{self.purged} paths {verb}purged, {self.requests} requests, {self.seconds:.2f} s → {self.target}"
        )


class _Progress:
    """A progress line on a terminal for long uploads: files and MB done, rate. Silent elsewhere."""

    def __init__(self, stream: TextIO | None, files: int, size: int) -> None:
        self._stream = stream if stream is not None and stream.isatty() and files > 100 else None
        self._lock = threading.Lock()
        self._files, self._size, self._done, self._bytes = files, size, 0, 0
        self._started = self._shown = time.monotonic()

    def add(self, size: int) -> None:
        if self._stream is None:
            return
        with self._lock:
            self._done, self._bytes = self._done + 1, self._bytes + size
            now = time.monotonic()
            if now - self._shown < 0.25 and self._done < self._files:
                return
            self._shown = now
            rate = self._bytes / max(now - self._started, 1e-6) / 1e6
            self._stream.write(
                f"\rpublish: {self._done}/{self._files} files, {self._bytes / 1e6:.1f}/{self._size / 1e6:.1f} MB, "
                f"{rate:.1f} MB/s\033[K"
            )
            if self._done == self._files:
                self._stream.write("\r\033[K")
            self._stream.flush()


def _read_checked(root: Path, entry: Entry) -> bytes:
    """The file's bytes, refused unless they are the ones the manifest names (an export ran meanwhile)."""
    data = (root / entry.path).read_bytes()
    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise ValueError("its bytes differ from the manifest's (an export ran during the publish?); publish again")
    return data


@contextmanager
def pinned(out_dir: Path) -> Iterator[Path]:
    """A path naming ``out_dir``'s folder as it is now, for as long as the publish runs: one export's files.

    An export swaps its new folder in under OUT_DIR's name (:mod:`feeds.folder.outdir`), so
    reading each file by that name would mix two exports when one runs meanwhile. An open
    descriptor holds the folder itself: ``/proc/self/fd/N`` names it wherever the flip moves
    it (the standby, whole until the export after next recycles it; a file changed then
    fails the manifest check, never goes up). Without /proc: OUT_DIR resolved once.
    """
    try:
        descriptor: int | None = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        descriptor = None  # no folder there: read_manifest says so
    held = Path(f"/proc/self/fd/{descriptor}") if descriptor is not None else None
    try:
        yield held if held is not None and held.is_dir() else out_dir.resolve()
    finally:
        if descriptor is not None:
            os.close(descriptor)


def read_manifest(root: Path, out_dir: Path) -> Manifest:
    """The manifest of the export in ``root`` (:func:`pinned`), named in messages by ``out_dir``."""
    where = out_dir / MANIFEST_PATH
    try:
        data = (root / MANIFEST_PATH).read_bytes()
    except OSError as exc:
        raise PublishUnusable(f"{where}: cannot read the export's manifest ({exc.strerror or exc})") from None
    try:
        return parse_manifest(data, str(where))
    except PlanError as exc:
        raise PublishUnusable(str(exc)) from None


class Publisher:
    """Publishes export folders to one target; see the module's docstring for the order of things."""

    def __init__(self, options: PublishOptions, *, progress: TextIO | None = None) -> None:
        if options.settings.target is None:
            raise PublishUnusable("no target: give s3://BUCKET[/PREFIX] or set publish.target in the config")
        try:
            self.target = parse_target(options.settings.target)
        except PlanError as exc:
            raise PublishUnusable(str(exc)) from None
        for purger, _ in options.cdns:
            if purger.secret_variable is not None and not os.environ.get(purger.secret_variable):
                raise PublishUnusable(f"{purger.name} purge needs {purger.secret_variable} in the environment")
        self.options = options
        self.counter = RequestCounter()
        settings = options.settings
        self.bucket = Bucket(
            self.target,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
            workers=settings.workers,
            counter=self.counter,
        )
        self._progress_stream = progress

    def publish(self, out_dir: Path, *, describe: Callable[[str], None] | None = None) -> PublishSummary:
        """Bring the bucket to ``out_dir``'s export. Raises PublishUnusable/StoreUnusable (exit 2).

        ``describe``: called with one line per planned change (``--dry-run``).
        """
        with pinned(out_dir) as root:
            return self._publish(root, out_dir, describe)

    def _publish(self, root: Path, out_dir: Path, describe: Callable[[str], None] | None) -> PublishSummary:
        started, requests_before = time.monotonic(), self.counter.count
        manifest = read_manifest(root, out_dir)
        stored = self.bucket.read_state()
        reports: list[str] = []
        try:
            state = decode_state(stored) if stored is not None else {}
        except PlanError as exc:
            reports.append(f"publish: warning: {exc}; uploading everything (--verify also deletes strays)")
            state = {}
        drifted, strangers = self._verify(root, manifest) if self.options.verify else ((), ())
        plan = make_plan(manifest, state, drifted=drifted, strangers=strangers)

        def summary(uploaded: int, deleted: int, purged: int, failures: Sequence[str] = ()) -> PublishSummary:
            return PublishSummary(
                str(self.target), uploaded, plan.unchanged, deleted, purged, self.counter.count - requests_before,
                time.monotonic() - started, tuple(failures), tuple(reports), self.options.dry_run,
            )  # fmt: skip

        if self.options.dry_run:
            for tier in plan.uploads:
                for entry in tier:
                    (describe or print)(f"upload {entry.path} ({entry.content_type}; {entry.cache_control})")
            for path in plan.deletions:
                (describe or print)(f"delete {path}")
            return summary(plan.upload_count, len(plan.deletions), len(self._urls(plan, plan.deletions)))
        if plan.is_empty:
            return summary(0, 0, 0)
        failures = self._upload(root, out_dir, plan, state)
        if failures:
            return summary(0, 0, 0, failures)
        deleted, kept, failures = self._delete(plan.deletions, reports)
        final = encode_state(plan.done(kept, state))
        if final != stored:
            error = self.bucket.write_state(final)
            if error is not None:
                failures.append(f"{self.target.key(STATE_NAME)}: error: the state object was not stored ({error})")
        purged = self._purge(plan, deleted, reports, failures)
        self._ping(plan, reports)
        return summary(plan.upload_count, len(deleted), purged, failures)

    def _verify(self, root: Path, manifest: Manifest) -> tuple[list[str], list[str]]:
        """``--verify``: list the bucket; paths missing or with other bytes, and objects nobody listed."""
        listed = self.bucket.list_objects()
        drifted = []
        for path, entry in manifest.entries.items():
            found = listed.get(path)
            # S3's ETag of a single-part upload is the MD5 of its bytes; reading every file is what --verify is for
            if found is None or found.size != entry.size or found.etag != _md5(root / path):
                drifted.append(path)
        strangers = [path for path in listed if path not in manifest.entries and path != STATE_NAME]
        return drifted, strangers

    def _upload(self, root: Path, out_dir: Path, plan: Plan, state) -> list[str]:
        """Upload tier by tier after storing the intent; the failures, one line each (none: all stored)."""
        error = self.bucket.write_state(encode_state(plan.intent(state)))
        if error is not None:
            return [f"{self.target.key(STATE_NAME)}: error: the state object was not stored ({error})"]
        total = sum(entry.size for tier in plan.uploads for entry in tier)
        progress = _Progress(self._progress_stream, plan.upload_count, total)

        def send(entry: Entry) -> str | None:
            try:
                data = _read_checked(root, entry)
            except (OSError, ValueError) as exc:
                return f"{out_dir / entry.path}: error: {getattr(exc, 'strerror', None) or exc}"
            reason = self.bucket.upload(entry, data)
            progress.add(entry.size)
            return None if reason is None else f"{self.target.key(entry.path)}: error: upload failed ({reason})"

        with ThreadPoolExecutor(max_workers=self.options.settings.workers) as pool:
            for tier in plan.uploads:
                failures = [line for line in pool.map(send, tier) if line is not None]
                if failures:  # the next tiers link to what failed: they wait for the next run
                    return failures
        return []

    def _delete(self, paths: Sequence[str], reports: list[str]) -> tuple[list[str], list[str], list[str]]:
        """(deleted, kept, failure lines): deletions only within ``max_deletes``; hugo deploy's rule and default."""
        limit = self.options.settings.max_deletes
        if len(paths) > limit:
            reports.append(
                f"publish: warning: {len(paths)} objects to delete, more than --max-deletes {limit}: none deleted "
                f"(run again with --max-deletes {len(paths)} to delete them)"
            )
            return [], list(paths), [f"{self.target}: error: {len(paths)} deletions held back (--max-deletes)"]
        failed = self.bucket.delete(list(paths))
        lines = [f"{self.target.key(path)}: error: not deleted ({why})" for path, why in failed.items()]
        return [path for path in paths if path not in failed], list(failed), lines

    def _urls(self, plan: Plan, deleted: Sequence[str]) -> list[str]:
        return public_urls(plan.manifest.base_url, plan.changed_paths(deleted))

    def _purge(self, plan: Plan, deleted: Sequence[str], reports: list[str], failures: list[str]) -> int:
        urls = self._urls(plan, deleted)
        purged = 0
        for purger, where in self.options.cdns if urls else ():
            report = purger.purge(where, plan.manifest.base_url, urls)
            reports.append(report.line())
            if report.error is not None:
                failures.append(f"{purger.name} {where.ident}: error: purge failed ({report.error})")
            purged = max(purged, report.purged)
        return purged

    def _ping(self, plan: Plan, reports: list[str]) -> None:
        feeds = plan.feed_paths()
        if self.options.websub_hub is not None and feeds:
            from feeds import websub  # the hub client imports the render stack, which a publish otherwise never needs

            report = websub.ping_hub(self.options.websub_hub, public_urls(plan.manifest.base_url, feeds))
            reports.append(report.line())


def _md5(path: Path) -> str:
    try:
        return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    except OSError:
        return ""
