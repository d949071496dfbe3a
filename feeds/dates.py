"""Dates from untrusted article files → timezone-aware UTC, or None. Never the clock.

The reader's helper (like :mod:`feeds.text`): total functions, no IO.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from dateutil import parser as date_parser

_EPOCH_RANGE = (datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
# RFC 822 §5.1 zone names (and UT/GMT/Z); other names are too ambiguous to guess
_ZONES = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
# two far-apart defaults: a field dateutil fills from a default differs between them
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))


def parse_date(value: Any) -> datetime | None:
    """ISO 8601, RFC 822, YAML timestamps or Unix seconds → aware UTC; None if unusable.

    A date without an offset is taken as UTC (DESIGN: choices already made). A
    text missing its year, month or day ("March 2024", "Tuesday") is unusable:
    dateutil would fill the gap from today, and output must not depend on the clock.
    """
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and 0 < len(value.strip()) <= 64:
            parsed = _parse_date_text(value.strip())
            if parsed is None:
                return None
        else:
            return None
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError, TypeError, date_parser.ParserError):
        return None
    return parsed if _EPOCH_RANGE[0] <= parsed < _EPOCH_RANGE[1] else None


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's tzinfos hook: numeric offsets as given, RFC 822 names, others refused."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    if name is None:
        return None
    hours = _ZONES.get(name.upper())
    if hours is None:
        raise ValueError(f"unknown time zone {name!r}")
    return timezone(timedelta(hours=hours))


def _parse_date_text(text: str) -> datetime | None:
    try:
        return date_parser.isoparse(text)
    except ValueError:
        pass
    first, second = (date_parser.parse(text, default=d, tzinfos=_zone) for d in _DEFAULTS)
    if first.date() != second.date():
        return None  # year, month or day came from the default, not from the text
    return first
