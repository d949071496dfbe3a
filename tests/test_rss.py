"""feeds.render.rss on its own: an item's ``pubDate`` written without feedgen, held to feedgen's.

``pub_date_text`` is a faster copy of feedgen's ``formatRFC2822`` for the dates every item has
(UTC, year 1000 or later); "fast paths are proven, not trusted": generated dates in any year and
zone, with and without a fraction, give feedgen's own text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.read.dates import Rfc3339Datetime
from feeds.render.rss import RSS_WRITER, pub_date_text


def feedgens_pub_date(moment: datetime) -> str:
    """The ``pubDate`` feedgen itself writes for ``moment`` (through its formatRFC2822)."""
    entry = RSS_WRITER.new_entry()
    entry.title("t")
    entry.pubDate(moment)
    return entry.rss_entry().findtext("pubDate")


@settings(max_examples=500)
@given(
    moment=st.datetimes(  # a day inside datetime's range: Rfc3339Datetime.of moves it to UTC
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [
                UTC,
                timezone(timedelta(0)),
                timezone(timedelta(0), "Z"),
                timezone(timedelta(hours=-11)),
                timezone(timedelta(seconds=59)),
            ]
        ),
    ),
    subclass=st.booleans(),
)
def test_an_rss_date_is_written_as_feedgen_writes_it(moment: datetime, subclass: bool) -> None:
    """Any year (strftime pads none below 1000), any zone, a fraction or not, a datetime subclass or not."""
    if subclass:
        moment = Rfc3339Datetime.of(moment)  # what fill_entry hands feedgen: UTC, always
    assert pub_date_text(moment) == feedgens_pub_date(moment)


@pytest.mark.parametrize(
    "moment",
    [datetime(1000, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
     datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=UTC),
     datetime(1, 1, 1, tzinfo=UTC)],
)  # fmt: skip
def test_an_rss_date_at_the_edges_is_written_as_feedgen_writes_it(moment: datetime) -> None:
    assert pub_date_text(moment) == feedgens_pub_date(moment)
