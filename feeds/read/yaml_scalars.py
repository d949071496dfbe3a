"""The commonest typed plain scalars built without PyYAML's constructor, exactly as it builds them.

:func:`quick` gives what ``SafeConstructor`` makes of a scalar of a resolved tag, for the spellings
article files use (null, short decimal integers, booleans, ``2024-06-08T01:45:00+00:00`` dates), or
:data:`SLOW`: the caller (:mod:`feeds.read.safe_yaml`, both of its paths) then asks the constructor.
tests/test_safe_yaml.py holds every path to PyYAML's own loader on generated scalars.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import yaml

__all__ = ["INT_TAG", "SLOW", "plain_date_time", "quick"]

INT_TAG = "tag:yaml.org,2002:int"
SLOW = object()  # "not mine": the constructor builds it

# What SafeConstructor makes of the commonest typed scalars, without calling it:
# null is None whatever the text; booleans by their exact spelling; decimal ints
# short enough that int() has no digit limit to hit. Anything else goes to the constructor.
_BOOLS = {
    spelled: value
    for word, value in yaml.constructor.SafeConstructor.bool_values.items()
    for spelled in (word, word.title(), word.upper())
}
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_DECIMAL = re.compile(r"0|-?[1-9][0-9]{0,17}")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# the spelling every article's dates use: whole seconds, "T", then "Z" or an offset "+hh:mm"
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:Z|([-+])([0-9]{2}):([0-9]{2}))"
)


def quick(tag: str, text: str) -> Any:
    """The value of a null, short decimal, boolean or common timestamp scalar, or SLOW for the constructor."""
    if tag == _NULL_TAG:
        return None
    if tag == INT_TAG and _DECIMAL.fullmatch(text):
        return int(text)
    if tag == _BOOL_TAG and text in _BOOLS:
        return _BOOLS[text]
    if tag == _TIMESTAMP_TAG and (match := _DATE_TIME.fullmatch(text)):
        return _date_time(match)
    return SLOW


def plain_date_time(text: str) -> Any:
    """The datetime of a plain scalar spelled as :data:`_DATE_TIME`, or SLOW.

    Such a text is a timestamp to PyYAML's stock implicit resolvers (no int or float pattern takes a
    "T" or a "-" after digits), so no resolver need be asked: a unique date cost the resolver's
    patterns and a memo entry each, ~3 µs (issue 20). Only for a loader whose resolvers are PyYAML's.
    """
    match = _DATE_TIME.fullmatch(text)
    return SLOW if match is None else _date_time(match)


def _date_time(match: re.Match[str]) -> Any:
    """SafeConstructor.construct_yaml_timestamp's datetime for :data:`_DATE_TIME`'s spelling, computed as it does
    (the offset a ``timezone`` of a ``timedelta``, "Z" ``timezone.utc``); SLOW for a date Python cannot hold,
    which feeds.read.safe_yaml keeps as text. The constructor took ~8 µs a date, 2-3 dates an article (issue 20).
    """
    year, month, day, hour, minute, second, sign, tz_hour, tz_minute = match.groups()
    try:
        if sign is None:
            zone = datetime.UTC  # PyYAML's datetime.timezone.utc
        else:
            delta = datetime.timedelta(hours=int(tz_hour), minutes=int(tz_minute))
            zone = datetime.timezone(-delta if sign == "-" else delta)
        return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), 0, zone)
    except (ValueError, OverflowError):
        return SLOW
