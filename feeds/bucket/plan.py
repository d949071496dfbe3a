"""What a publish must do: an export's manifest and the last publish's state → uploads, deletions, purges.

Sans-IO: bytes in, values out. :mod:`feeds.bucket.publish` reads the files and talks
to the bucket and the CDNs.

The export's ``_manifest.json`` already holds every served path's SHA-256,
Content-Type and Cache-Control, so nothing local is hashed again and nothing
remote is listed: the bucket keeps one small state object of ours (the same
three facts per path, as of the last publish) and the plan is the difference
of the two. A path whose bytes *or* headers differ is uploaded again: S3 keeps
headers per object, so a new cache rule is a new upload (hugo deploy needs
``--force`` to notice one).

**Order** (issue 17): what a feed links to goes up before the feed, the feeds
before the lists of feeds (index page, OPML), the state object last. Each step
is a :class:`Tier`; a tier starts only after the one before it succeeded, so a
publish killed at any point never leaves a feed in the bucket whose links lead
to objects not yet there.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from feeds.site_paths import ARCHIVE_FOLDER, INDEX_PATH, MANIFEST_PATH, METADATA_PATHS, OPML_PATH

# The state object, beside the published site under the prefix. Its name starts with '_' like the
# export's own metadata (no site path does), so it can never collide with a served path.
STATE_NAME = "_feeds-publish-state.json.gz"
STATE_VERSION = 1

# S3's bucket naming rules (also R2's, MinIO's): 3-63 of a-z 0-9 . -, a letter or digit at each end.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")  # a CR or LF in a header value would split the request
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class PlanError(ValueError):
    """A target URL, manifest or state object we cannot use; the message names it and says why."""


class PublishUnusable(Exception):
    """Nothing can be published (bad target, no export, no bucket, credentials refused...): exit 2, one line."""


@dataclass(frozen=True, slots=True)
class Target:
    """``s3://BUCKET[/PREFIX]``: where the site goes. ``prefix`` is empty or ends in one '/'."""

    bucket: str
    prefix: str = ""

    def key(self, path: str) -> str:
        return self.prefix + path

    @property
    def state_key(self) -> str:
        return self.prefix + STATE_NAME

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_target(text: str) -> Target:
    """``s3://my-bucket/news`` → Target("my-bucket", "news/"); PlanError naming what is wrong."""
    if _HEADER_UNSAFE.search(text):  # before urlsplit, which silently drops tabs and newlines (WHATWG)
        raise PlanError(f"{text!r}: a target URL must not hold control characters")
    parts = urlsplit(text)
    if parts.scheme != "s3" or parts.query or parts.fragment:
        raise PlanError(f"{text!r} is not an s3://BUCKET[/PREFIX] URL")
    if not _BUCKET.fullmatch(parts.netloc) or ".." in parts.netloc:
        raise PlanError(f"{text!r}: {parts.netloc!r} is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')")
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") or _HEADER_UNSAFE.search(s) for s in segments):
        raise PlanError(f"{text!r}: the prefix must not hold '.', '..' or control characters")
    return Target(parts.netloc, "".join(f"{s}/" for s in segments))


@dataclass(frozen=True, slots=True)
class Entry:
    """One served file as the export's manifest describes it."""

    path: str
    content_type: str
    cache_control: str
    size: int
    sha256: str

    @property
    def facts(self) -> tuple[str, str, str]:
        """What the published object must match: bytes (by digest) and the two headers S3 keeps."""
        return (self.sha256, self.content_type, self.cache_control)


@dataclass(frozen=True, slots=True)
class Manifest:
    base_url: str
    entries: Mapping[str, Entry]


def _checked_path(value: object, where: str) -> str:
    """A manifest path that can only name a served file of the site (never metadata, never outside it)."""
    if not isinstance(value, str) or not value or value.startswith(("/", "_")) or _HEADER_UNSAFE.search(value):
        raise PlanError(f"{where}: bad path {value!r}")
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise PlanError(f"{where}: bad path {value!r}")
    return value


def _checked_text(entry: dict, field: str, where: str, usable: set[str]) -> str:
    """A header value; ``usable`` holds the values already checked (a site has a handful, repeated)."""
    value = entry.get(field)
    if isinstance(value, str) and value in usable:  # a list or mapping there is unhashable: checked below
        return value
    if not isinstance(value, str) or not value or _HEADER_UNSAFE.search(value):
        raise PlanError(f"{where}: {entry.get('path')!r} has no usable {field}")
    usable.add(value)
    return value


def parse_manifest(data: bytes, where: str) -> Manifest:
    """The export's ``_manifest.json`` (see :func:`feeds.folder.cdn.render_manifest`) → a Manifest.

    ``.gz`` twins listed under ``encodings`` are ignored on purpose: S3 cannot negotiate
    encodings, so the identity bytes go up and the CDN compresses.
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("version") != 1 or not isinstance(document.get("files"), list):
        raise PlanError(f"{where}: not a version 1 export manifest")
    base_url = document.get("base_url")
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        raise PlanError(f"{where}: no absolute base_url")
    entries: dict[str, Entry] = {}
    usable: set[str] = set()
    for item in document["files"]:
        if not isinstance(item, dict):
            raise PlanError(f"{where}: a files entry is not an object")
        path = _checked_path(item.get("path"), where)
        size, sha256 = item.get("size"), item.get("sha256")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise PlanError(f"{where}: {path!r} has no usable size")
        if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
            raise PlanError(f"{where}: {path!r} has no usable sha256")
        if path in entries:
            raise PlanError(f"{where}: {path!r} is listed twice")
        content_type = _checked_text(item, "content_type", where, usable)
        entries[path] = Entry(path, content_type, _checked_text(item, "cache_control", where, usable), size, sha256)
    return Manifest(base_url.rstrip("/") + "/", entries)


# The state: path → (sha256, content type, cache control) of the object as published, or None for
# "may be in the bucket, bytes unknown" (an upload was started and not confirmed: see Plan.intent).
State = Mapping[str, tuple[str, str, str] | None]


def encode_state(state: State) -> bytes:
    """The state object's bytes: gzipped JSON, sorted, header strings stored once (10 bytes a path less)."""
    headers = sorted({facts[1:] for facts in state.values() if facts is not None})
    index = {pair: n for n, pair in enumerate(headers)}
    files = {
        path: None if facts is None else [facts[0], index[facts[1:]]] for path, facts in sorted(state.items())
    }
    text = json.dumps({"version": STATE_VERSION, "headers": headers, "files": files}, separators=(",", ":"))
    # level 1: the state is mostly SHA-256 digests in hex, which no level packs much further (10k paths: 120 kB
    # at level 1, 115 kB at 6), and level 6 took ~40× as long: ~0.1 s of every publish, twice (intent, result)
    return gzip.compress(text.encode("utf-8"), compresslevel=1, mtime=0)  # mtime 0: same state, same bytes


def decode_state(data: bytes) -> dict[str, tuple[str, str, str] | None]:
    """Inverse of :func:`encode_state`; PlanError when the object is not one of ours."""
    try:
        document = json.loads(gzip.decompress(data))
        if document["version"] != STATE_VERSION:
            raise ValueError(f"version {document['version']}")
        headers = [tuple(pair) for pair in document["headers"]]
        return {
            path: None if value is None else (value[0], *headers[value[1]])
            for path, value in document["files"].items()
        }
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise PlanError(f"the publish state object is damaged ({exc})") from None


@dataclass(frozen=True, slots=True)
class Tier:
    """One step of the upload order: every path it holds is uploaded before the next tier starts."""

    name: str
    holds: Callable[[str, str], bool]  # (path, content type) → whether this step uploads it


def _is_current_feed(path: str, content_type: str) -> bool:
    # feed formats are structured-syntax types (RFC 6839): application/rss+xml, atom+xml, feed+json;
    # pages (text/html), the stylesheet (text/xsl) and the OPML (text/x-opml) are not
    media_type = content_type.partition(";")[0].strip()
    return not path.startswith(ARCHIVE_FOLDER + "/") and media_type.endswith(("+xml", "+json"))


# Upload order, first to last (issue 17, "safe order"). A path belongs to the last tier that holds
# it; the first holds everything, so a new kind of document needs an entry only if others must wait
# for it or it for them.
UPLOAD_ORDER: tuple[Tier, ...] = (
    Tier("pages and archive pages", lambda path, content_type: True),
    Tier("feeds", _is_current_feed),
    Tier("lists of feeds", lambda path, content_type: path in (INDEX_PATH, OPML_PATH)),
)
_FEEDS_TIER = 1


def tier_of(entry: Entry) -> int:
    """The index in :data:`UPLOAD_ORDER` of the step that uploads ``entry``."""
    return max(n for n, tier in enumerate(UPLOAD_ORDER) if tier.holds(entry.path, entry.content_type))


@dataclass(frozen=True, slots=True)
class Plan:
    """The difference between a manifest and the bucket's state, in upload order."""

    uploads: tuple[tuple[Entry, ...], ...]  # one tuple per UPLOAD_ORDER tier, sorted by path
    deletions: tuple[str, ...]  # paths in the bucket (by the state) that the manifest no longer lists
    unchanged: int
    manifest: Manifest

    @property
    def upload_count(self) -> int:
        return sum(len(tier) for tier in self.uploads)

    @property
    def is_empty(self) -> bool:
        return not self.upload_count and not self.deletions

    def intent(self, state: State) -> dict[str, tuple[str, str, str] | None]:
        """The state to store before the first upload: every path about to be uploaded as unknown (None).

        Killed after that, the next run uploads them all again, even if the export went back to the
        bytes the old state names (its objects may hold either), and deletes any that the export
        dropped meanwhile (an upload may have landed).
        """
        pending = dict(state)
        for tier in self.uploads:
            pending.update((entry.path, None) for entry in tier)
        return pending

    def done(self, kept: Iterable[str], state: State) -> dict[str, tuple[str, str, str] | None]:
        """The state after every upload: the manifest, plus ``kept`` (deletions not made) as they were."""
        result: dict[str, tuple[str, str, str] | None] = {p: e.facts for p, e in self.manifest.entries.items()}
        result.update((path, state.get(path)) for path in kept)
        return result

    def changed_paths(self, deleted: Iterable[str] = ()) -> list[str]:
        """Paths whose URL now answers differently (new bytes, new headers or gone), in upload order."""
        return [entry.path for tier in self.uploads for entry in tier] + list(deleted)

    def feed_paths(self) -> list[str]:
        """Current feed documents uploaded by this plan: the URLs a WebSub hub should fetch again."""
        return [entry.path for entry in self.uploads[_FEEDS_TIER]]


def make_plan(
    manifest: Manifest, state: State, *, drifted: Iterable[str] = (), strangers: Iterable[str] = ()
) -> Plan:
    """Compare ``manifest`` with ``state`` (what the last publish left in the bucket).

    ``drifted``: paths to upload whatever the state says (``--verify`` found them missing or
    different); ``strangers``: paths in the bucket the state does not know (``--verify``), to delete
    unless the manifest lists them.
    """
    forced = set(drifted)
    tiers: list[list[Entry]] = [[] for _ in UPLOAD_ORDER]
    unchanged = 0
    for path, entry in manifest.entries.items():
        if path in forced or state.get(path) != entry.facts:
            tiers[tier_of(entry)].append(entry)
        else:
            unchanged += 1
    gone = (set(state) | set(strangers)) - set(manifest.entries) - set(METADATA_PATHS) - {MANIFEST_PATH}
    return Plan(
        tuple(tuple(sorted(tier, key=lambda e: e.path)) for tier in tiers), tuple(sorted(gone)), unchanged, manifest
    )


def public_urls(base_url: str, paths: Iterable[str]) -> list[str]:
    """The URLs readers fetch for site paths; the index page answers at the folder's URL too."""
    urls: list[str] = []
    for path in paths:
        urls.append(base_url + quote(path, safe="/"))
        if path == INDEX_PATH or path.endswith("/" + INDEX_PATH):
            urls.append(base_url + quote(path[: -len(INDEX_PATH)], safe="/"))
    return list(dict.fromkeys(urls))
