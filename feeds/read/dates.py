"""Dates from untrusted article files → timezone-aware UTC, or None; and the one RFC 3339 form we write.

The reader's helper (like :mod:`feeds.read.text`): total functions, no IO, never the clock.
Dates are kept to the millisecond: what the feeds can write so every reader reads it.
"""

from __future__ import annotations

import re
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
# a leap second ends a minute 59 (RFC 3339 §5.6, Appendix D); "10:15:60" stays refused
_LEAP_SECOND = re.compile(r"((?<![0-9])[0-2][0-9]:59:)60(?![0-9])")
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
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
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
    if not _EPOCH_RANGE[0] <= parsed < _EPOCH_RANGE[1]:
        return None
    if parsed.microsecond % 1000:  # milliseconds: see format_rfc3339
        parsed = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
    return parsed


def format_rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as RFC 3339 (``+00:00``): whole seconds, or three fraction digits when it has a fraction.

    Never six: ROME 1.12 reads ``10:00:00.001000`` as a full second later (it
    takes the digits as milliseconds); three digits are read right by every
    reader tried (issue 15). Below a millisecond is dropped (the reader keeps none).
    """
    utc = moment.astimezone(UTC)
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    milliseconds = utc.microsecond // 1000
    return f"{text}.{milliseconds:03d}+00:00" if milliseconds else f"{text}+00:00"


class Rfc3339Datetime(datetime):
    """A datetime whose ``isoformat()`` is :func:`format_rfc3339`, for feedgen.

    feedgen 1.0 writes every Atom date with ``datetime.isoformat()`` (six fraction
    digits whenever there is a fraction) and has no way to format it otherwise;
    handing it these is the one workaround, in :mod:`feeds.render.xmlfeed`.
    """

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return format_rfc3339(self)

    @classmethod
    def of(cls, moment: datetime) -> Rfc3339Datetime:
        if type(moment) is cls:
            return moment
        utc = moment.astimezone(UTC)
        return cls(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, UTC)


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
    if ":60" in text:  # a leap second (RFC 3339 §5.6 allows time-second 60), which datetime cannot hold: its last
        text = _LEAP_SECOND.sub(r"\g<1>59", text, count=1)  # whole second before, as a clock without them shows
    try:
        return date_parser.isoparse(text)
    except ValueError:
        pass
    first, second = (date_parser.parse(text, default=d, tzinfos=_zone) for d in _DEFAULTS)
    if first.date() != second.date():
        return None  # year, month or day came from the default, not from the text
    return first
