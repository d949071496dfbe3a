"""How one value of the config becomes a checked Python value, or a :class:`ConfigError`.

Each checker takes the value as YAML gave it, the config file's path and the key (dotted for nested
keys: ``feeds.ai.topics``), and returns the clean value or raises an error that names both. The
table of which key takes which checker is :mod:`feeds.config`'s.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feeds.formats import FORMAT_NAMES


class ConfigError(Exception):
    """The config (file or command-line override) is unusable; says where and why."""

    def __init__(self, path: str, key: str | None, message: str) -> None:
        self.path, self.key, self.message = path, key, message
        where = f"key '{key}': " if key else ""
        super().__init__(f"{path}: error: {where}{message}")


def fail(path: str, key: str, message: str) -> ConfigError:
    return ConfigError(path, key, message)


def absolute_url(value: object, path: str, key: str, *, query_allowed: bool) -> str:
    """An absolute http(s) URL without fragment or spaces (and without a query unless allowed)."""
    if not isinstance(value, str) or not value.strip():
        raise fail(path, key, "must be an absolute http:// or https:// URL")
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise fail(path, key, f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(path, key, f"must be an absolute http:// or https:// URL, not {text!r}")
    if (parts.query and not query_allowed) or parts.fragment or any(c.isspace() for c in text):
        what = "a fragment or spaces" if query_allowed else "a query, fragment or spaces"
        raise fail(path, key, f"must not contain {what}: {text!r}")
    return text


def check_base_url(value: object, path: str, key: str = "base_url") -> str:
    """An absolute http(s) URL without query or fragment, ending in one slash."""
    return absolute_url(value, path, key, query_allowed=False).rstrip("/") + "/"


def check_hub_url(value: object, path: str, key: str = "websub_hub") -> str:
    """An absolute http(s) URL without fragment or spaces, kept as written (a hub's path is its own)."""
    return absolute_url(value, path, key, query_allowed=True)


def byte_budget(value: Any, path: str, key: str) -> int:
    """0 or null: no budget; otherwise at least 1,024 bytes (a feed's head alone is about 1 KB)."""
    if value is None or (value == 0 and not isinstance(value, bool)):
        return 0
    return whole_number(value, path, key, 1_024, 1_000_000_000)


# Characters XML 1.0 forbids (and C1 controls): a site title is printed into every feed. Those outside
# [\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff], listed: that negated class took ~4.5 ms
# to compile (its ranges reach U+10FFFF) at every command's start, this one ~0.2 ms (issue 20);
# tests/test_text.py holds each such list to its negated class over every code point.
NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def text_value(value: Any, path: str, key: str, *, max_len: int = 500) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(path, key, "must be a non-empty string")
    if len(value) > max_len:
        raise fail(path, key, f"must be at most {max_len} characters")
    if NOT_XML_TEXT.search(value):
        raise fail(path, key, "holds a control character, which no feed can carry")
    return value.strip()


def whole_number(value: Any, path: str, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(path, key, f"must be a whole number from {low} to {high}")
    if not low <= value <= high:
        raise fail(path, key, f"must be from {low} to {high}, not {value}")
    return value


def number(value: Any, path: str, key: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(path, key, f"must be a number from {low} to {high}")
    if not low <= value <= high:
        raise fail(path, key, f"must be from {low} to {high}, not {value}")
    return float(value)


def boolean(value: Any, path: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise fail(path, key, "must be true or false")
    return value


def text_list(value: Any, path: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(path, key, "must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def format_names(value: Any, path: str, key: str) -> tuple[str, ...]:
    names = text_list(value, path, key)
    unknown = sorted(set(names) - set(FORMAT_NAMES))
    if unknown or not names:
        raise fail(path, key, f"must list some of {', '.join(FORMAT_NAMES)}; got {unknown or names}")
    return tuple(n for n in FORMAT_NAMES if n in names)


def alias_pairs(value: Any, path: str, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise fail(path, key, "must be a mapping of alias: topic")
    pairs = []
    for alias, topic in value.items():
        if not isinstance(alias, str) or not isinstance(topic, str) or not topic.strip():
            raise fail(path, f"{key}.{alias}", "must map a topic name to a topic name")
        pairs.append((alias.strip(), topic.strip()))
    return tuple(sorted(pairs))


def ip_networks(value: Any, path: str, key: str) -> tuple[str, ...]:
    """Addresses or networks (``10.0.0.0/8``, ``::1``), normalised; a bad one is named."""
    networks = []
    for text in text_list(value, path, key):
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise fail(path, key, f"{text!r} is not an IP address or network") from None
    return tuple(networks)


def local_path(value: Any, path: str, key: str, relative_to: Path) -> Path:
    text = text_value(value, path, key, max_len=4096)
    candidate = Path(os.path.expanduser(text))
    return candidate if candidate.is_absolute() else relative_to / candidate


def identifier(value: Any, path: str, key: str) -> str:
    """A CloudFront distribution id or Cloudflare zone id: letters and digits only (it goes in a URL path)."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9]{1,64}", value):
        raise fail(path, key, "must be an id of 1 to 64 letters and digits")
    return value
