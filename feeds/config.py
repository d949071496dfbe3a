"""``config/feeds.yaml`` → a typed, validated :class:`Settings`.

The config file is the one place for site identity, limits, formats and
filters. Every key is checked here, once: an unknown key, a wrong type or a bad
URL raises :class:`ConfigError` naming the file and the key, so no later stage
ever meets a half-valid setting.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from feeds.config_values import (
    NOT_XML_TEXT,
    ConfigError,
    alias_pairs,
    boolean,
    byte_budget,
    check_base_url,
    check_hub_url,
    fail,
    format_names,
    identifier,
    ip_networks,
    local_path,
    number,
    text_list,
    text_value,
    whole_number,
)
from feeds.formats import FORMAT_NAMES

DEFAULT_CONFIG = Path("config/feeds.yaml")
LOCAL_BASE_URL = "http://127.0.0.1:8000/"


# The settings that change what reading an article file gives: the parse cache is keyed by their values.
READER_SETTINGS = ("max_file_bytes", "max_title_chars", "max_summary_chars")
# A configured feed's keys that select articles, and the /filter parameter each one is
# (feeds.index.filters); tests/test_configured.py checks every filterable family has one here.
SELECTION_KEYS = {"topics": "topic", "providers": "provider", "kinds": "kind", "query": "q"}
FEED_KEYS = ("title", "description", *SELECTION_KEYS, "min_quality")
# a configured feed's slug: its file name under feeds/ (never a path, never a hidden file)
_FEED_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_FEED_SLUG_CHARS = 80


@dataclass(frozen=True, slots=True)
class FeedDefinition:
    """One configured feed (``feeds:`` in the config): a saved ``/filter`` query with a name.

    ``selection`` holds (key, values) for the keys given (of :data:`SELECTION_KEYS`),
    in that order; values of one key match any, different keys must all match.
    """

    slug: str
    title: str | None = None
    description: str | None = None
    selection: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_quality: int | None = None

    def filter_pairs(self) -> list[tuple[str, str]]:
        """The equivalent ``/filter`` query's (parameter, value) pairs."""
        pairs = [(SELECTION_KEYS[key], value) for key, values in self.selection for value in values]
        if self.min_quality is not None:
            pairs.append(("min_quality", str(self.min_quality)))
        return pairs


@dataclass(frozen=True, slots=True)
class PublishSettings:
    """The config's ``publish:`` section: where ``feeds publish`` puts an export (command-line options win)."""

    target: str | None = None  # s3://BUCKET[/PREFIX]
    endpoint_url: str | None = None  # an S3-compatible API (R2, B2, MinIO, Ceph); None: AWS
    region: str | None = None  # None: boto3's own choice (AWS_REGION, ~/.aws/config)
    cloudfront_distribution: str | None = None
    cloudflare_zone: str | None = None
    cloudflare_api_url: str = "https://api.cloudflare.com/client/v4"
    max_deletes: int = 256  # as hugo deploy's default
    workers: int = 16  # concurrent uploads


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the pipeline may be configured with; defaults are safe ones."""

    site_title: str = "News feeds"
    site_description: str = "Every article, per topic and per provider."
    base_url: str | None = None
    language: str = "en"
    author: str = "Feed publisher"
    articles_dir: Path = Path("samples/articles")
    items_per_feed: int = 50
    include_unpublished: bool = False
    formats: tuple[str, ...] = FORMAT_NAMES
    max_file_bytes: int = 1_000_000
    max_title_chars: int = 300
    max_summary_chars: int = 2_000
    cache_max_age: int = 300
    reload_interval: float = 3.0
    min_quality: int | None = None
    kinds: tuple[str, ...] = ()
    topic_aliases: tuple[tuple[str, str], ...] = field(default=())
    cache_dir: Path | None = None
    # WebSub hub announced in every feed and pinged when feeds change (None: no hub)
    websub_hub: str | None = None
    # uncompressed bytes per feed document; over it the oldest items are dropped (0: no budget)
    max_feed_bytes: int = 512_000
    # RFC 5005 archive pages of older items, this many per page (0: no archive pages)
    archive_page_size: int = 100
    # bytes of rendered pages and filtered feeds each live worker keeps per generation (issue 16), beyond
    # the index, OPML and all feeds, which are always kept; the least recently used go first
    # per worker; 64 MiB grew a 2-worker server by 416 MiB under a crawl and filter flood at 100k (issue 16: ≤ 400 MB)
    page_cache_bytes: int = 32 * 1024 * 1024
    publish: PublishSettings = PublishSettings()
    # subscriber statistics (feeds.stats.store): record the live app's feed fetches (False: don't),
    # into this file (None: stats.sqlite3 in the cache folder), keeping detail this many days
    stats: bool = True
    stats_db: Path | None = None
    stats_detail_days: int = 30
    # proxies whose X-Forwarded-For names the client (addresses or networks); nobody else is believed
    trusted_proxies: tuple[str, ...] = ()
    # configured feeds, published at feeds/<slug>.<format> (the family feeds.index.configured.CONFIGURED)
    feeds: tuple[FeedDefinition, ...] = ()
    config_file: str | None = None  # where these settings came from, for messages

    @property
    def site_url(self) -> str:
        """The base URL with exactly one trailing slash (a local one when unset)."""
        return (self.base_url or LOCAL_BASE_URL).rstrip("/") + "/"


def _feed(slug: Any, value: Any, path: str, key: str) -> FeedDefinition:
    where = f"{key}.{slug}"
    if not isinstance(slug, str) or len(slug) > MAX_FEED_SLUG_CHARS or not _FEED_SLUG.fullmatch(slug):
        raise fail(path, f"{key}.{slug}", f"a feed's slug must be lowercase letters a-z, digits and single '-' "
                    f"between them, at most {MAX_FEED_SLUG_CHARS} characters")  # fmt: skip
    if not isinstance(value, dict):
        raise fail(path, where, f"must be a mapping of {', '.join(FEED_KEYS)}")
    for name in value:
        if name not in FEED_KEYS:
            raise fail(path, f"{where}.{name}", f"unknown key (known keys: {', '.join(FEED_KEYS)})")
    selection = []
    for name in SELECTION_KEYS:
        if name in value:
            values = text_list(value[name], path, f"{where}.{name}")
            if not values:
                raise fail(path, f"{where}.{name}", "must list at least one value (or be left out)")
            if any(len(v) > 500 or NOT_XML_TEXT.search(v) for v in values):
                raise fail(path, f"{where}.{name}", "values must be at most 500 characters, no control characters")
            if name == "query" and not all(re.search(r"\w", v) for v in values):
                raise fail(path, f"{where}.{name}", "every entry must contain a word (letters or digits)")
            selection.append((name, values))
    quality = value.get("min_quality")
    if quality is not None:
        quality = whole_number(quality, path, f"{where}.min_quality", -(10**9), 10**9)
    if not selection and quality is None:
        raise fail(path, where, f"selects nothing: give at least one of {', '.join(FEED_KEYS[2:])}")
    return FeedDefinition(
        slug,
        text_value(value["title"], path, f"{where}.title") if "title" in value else None,
        (text_value(value["description"], path, f"{where}.description", max_len=2000)
         if "description" in value else None),
        tuple(selection),
        quality,
    )


def _feeds(value: Any, path: str, key: str) -> tuple[FeedDefinition, ...]:
    """``feeds:``: slug → definition; a slug given twice is refused by the loader (see _UniqueKeyLoader)."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise fail(path, key, "must be a mapping of slug: feed definition")
    return tuple(_feed(slug, definition, path, key) for slug, definition in value.items())


class DuplicateKey(Exception):
    """A mapping of the config gives one key twice (PyYAML would keep the last silently)."""

    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader that refuses a key given twice in one mapping (a slug twice in ``feeds:``)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise DuplicateKey(key, key_node.start_mark.line + 1)
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep)


_PUBLISH_CHECKS: dict[str, Any] = {
    "target": lambda v, p, k: text_value(v, p, k, max_len=1024),  # parsed by feeds.bucket.plan.parse_target
    "endpoint_url": lambda v, p, k: None if v is None else check_base_url(v, p, k).rstrip("/"),
    "region": lambda v, p, k: None if v is None else text_value(v, p, k, max_len=64),
    "cloudfront_distribution": lambda v, p, k: None if v is None else identifier(v, p, k),
    "cloudflare_zone": lambda v, p, k: None if v is None else identifier(v, p, k),
    "cloudflare_api_url": lambda v, p, k: check_base_url(v, p, k).rstrip("/"),
    "max_deletes": lambda v, p, k: whole_number(v, p, k, 0, 10_000_000),
    "workers": lambda v, p, k: whole_number(v, p, k, 1, 256),
}


def _publish(value: Any, path: str, key: str) -> PublishSettings:
    if value is None:
        return PublishSettings()
    if not isinstance(value, dict):
        raise fail(path, key, "must be a mapping (target, endpoint_url, cloudfront_distribution, ...)")
    values = {}
    for name, item in value.items():
        check = _PUBLISH_CHECKS.get(name) if isinstance(name, str) else None
        if check is None:
            raise fail(path, f"{key}.{name}", f"unknown key (known keys: {', '.join(sorted(_PUBLISH_CHECKS))})")
        values[name] = check(item, path, f"{key}.{name}")
    return PublishSettings(**values)


# key → how its YAML value becomes a Settings field. Unknown keys are errors.
_CHECKS: dict[str, Any] = {
    "site_title": lambda v, p, k, _: text_value(v, p, k),
    "site_description": lambda v, p, k, _: text_value(v, p, k, max_len=2000),
    "base_url": lambda v, p, k, _: None if v is None else check_base_url(v, p, k),
    "language": lambda v, p, k, _: text_value(v, p, k, max_len=35),
    "author": lambda v, p, k, _: text_value(v, p, k),
    "articles_dir": lambda v, p, k, root: local_path(v, p, k, root),
    "items_per_feed": lambda v, p, k, _: whole_number(v, p, k, 1, 10_000),
    "include_unpublished": lambda v, p, k, _: boolean(v, p, k),
    "formats": lambda v, p, k, _: format_names(v, p, k),
    "max_file_bytes": lambda v, p, k, _: whole_number(v, p, k, 1_000, 100_000_000),
    "max_title_chars": lambda v, p, k, _: whole_number(v, p, k, 20, 10_000),
    "max_summary_chars": lambda v, p, k, _: whole_number(v, p, k, 50, 100_000),
    "cache_max_age": lambda v, p, k, _: whole_number(v, p, k, 0, 31_536_000),
    "reload_interval": lambda v, p, k, _: number(v, p, k, 0.2, 86_400),
    "min_quality": lambda v, p, k, _: None if v is None else whole_number(v, p, k, -(10**9), 10**9),
    "kinds": lambda v, p, k, _: text_list(v, p, k),
    "topic_aliases": lambda v, p, k, _: alias_pairs(v, p, k),
    "cache_dir": lambda v, p, k, root: None if v is None else local_path(v, p, k, root),
    "websub_hub": lambda v, p, k, _: None if v is None else check_hub_url(v, p, k),
    "max_feed_bytes": lambda v, p, k, _: byte_budget(v, p, k),
    "archive_page_size": lambda v, p, k, _: whole_number(v, p, k, 0, 10_000),
    "page_cache_bytes": lambda v, p, k, _: whole_number(v, p, k, 1_048_576, 1_000_000_000_000),
    "publish": lambda v, p, k, _: _publish(v, p, k),
    "stats": lambda v, p, k, _: boolean(v, p, k),
    "stats_db": lambda v, p, k, root: None if v is None else local_path(v, p, k, root),
    "stats_detail_days": lambda v, p, k, _: whole_number(v, p, k, 1, 3_650),
    "trusted_proxies": lambda v, p, k, _: ip_networks(v, p, k),
    "feeds": lambda v, p, k, _: _feeds(v, p, k),
}


def load_settings(config_path: Path | None = None) -> Settings:
    """Read and validate a config file; relative paths in it are relative to its folder.

    With no path, ``config/feeds.yaml`` is used when it exists and defaults otherwise.
    """
    path = config_path if config_path is not None else DEFAULT_CONFIG
    shown = str(path)
    if config_path is None and not path.exists():
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(shown, None, f"cannot read the config file ({exc})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except DuplicateKey as exc:
        raise ConfigError(f"{shown}:{exc.line}", str(exc.key), "is given twice in one mapping") from None
    except (ValueError, RecursionError) as exc:  # e.g. a date like 2024-02-30 that YAML resolves and Python refuses
        raise ConfigError(shown, None, f"is not valid YAML ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else shown
        reason = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line, always
        raise ConfigError(where, None, f"is not valid YAML ({reason})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(shown, None, "must be a mapping of key: value")
    root = path.resolve().parent
    values: dict[str, Any] = {}
    for key, value in data.items():
        check = _CHECKS.get(key) if isinstance(key, str) else None
        if check is None:
            known = ", ".join(sorted(_CHECKS))
            raise ConfigError(shown, str(key), f"unknown key (known keys: {known})")
        values[key] = check(value, shown, key, root)
    return Settings(**values, config_file=shown)


def publish_overrides(settings: PublishSettings, **options: Any) -> PublishSettings:
    """The ``publish:`` section with command-line options (those not None) applied, checked like the keys.

    An option's messages name it as typed (``--endpoint-url``), not as the config key.
    """
    changes = {}
    for name, value in options.items():
        if value is not None:
            changes[name] = _PUBLISH_CHECKS[name](value, "--" + name.replace("_", "-"), name)
    return dataclasses.replace(settings, **changes) if changes else settings


def with_overrides(settings: Settings, *, articles_dir: Path | None = None, base_url: str | None = None) -> Settings:
    """Apply command-line overrides, validated like the config keys they replace.

    This is the command line's last check before any work, so it also refuses an
    articles folder that does not exist: that is bad usage or bad config (exit 2),
    not a problem found in the articles. The error names where the folder came from.
    """
    changes: dict[str, Any] = {}
    if articles_dir is not None:
        changes["articles_dir"] = articles_dir
    if base_url is not None:
        changes["base_url"] = check_base_url(base_url, "--base-url", "base_url")
    result = dataclasses.replace(settings, **changes) if changes else settings
    if not result.articles_dir.is_dir():
        where = "--articles" if articles_dir is not None else settings.config_file or "(defaults)"
        raise ConfigError(where, "articles_dir", f"{result.articles_dir} is not a folder")
    return result
