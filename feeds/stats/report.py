"""``feeds stats``: per feed, the newest day's subscribers by reader, its traffic, and the trend over N days.

A :class:`Report` is a frozen value built from the database by
:func:`build_report`; :func:`format_json` and :func:`format_text` turn it into
what the command prints (``feeds.stats.report_page`` into a one-file page). The newest
day is the newest day with any recorded fetch, so a report of a quiet morning
still shows yesterday rather than zeros.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from feeds.stats.store import DayCounts, StatsStore

DEFAULT_DAYS = 30
MAX_DAYS = 3_650


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: str
    subscribers: int
    fetches: int


@dataclass(frozen=True, slots=True)
class FeedStats:
    """One feed: the newest day's figures and its trend (oldest day first, every day of the window)."""

    path: str
    subscribers: int
    by_reader: tuple[tuple[str, int], ...]  # largest first, then by name
    fetches: int
    not_modified: int
    bytes: int
    trend: tuple[TrendPoint, ...]

    @property
    def not_modified_share(self) -> float:
        return self.not_modified / self.fetches if self.fetches else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """Every feed fetched in the window, most subscribers first; ``day`` is None when nothing was recorded."""

    day: str | None
    days: int
    feeds: tuple[FeedStats, ...]


def tidy(store: StatsStore, detail_days: int, today: date | None = None) -> None:
    """Forget old day keys and roll up detail older than ``detail_days`` (the writers do it too, daily)."""
    day = (today or datetime.now(UTC).date()).isoformat()
    store.forget_keys(day)
    store.roll_up(day, detail_days)


def _window(last: str, days: int) -> list[str]:
    end = date.fromisoformat(last)
    return [(end - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def build_report(store: StatsStore, days: int = DEFAULT_DAYS) -> Report:
    """The report of the ``days`` days up to the newest recorded day."""
    newest = store.newest_day()
    if newest is None:
        return Report(None, days, ())
    window = _window(newest, days)
    counts: dict[tuple[str, str], DayCounts] = {(c.path, c.day): c for c in store.counts(window[0], newest)}
    feeds = []
    for path in sorted({path for path, _ in counts}):
        trend = tuple(
            TrendPoint(day, counts[path, day].subscribers, counts[path, day].fetches)
            if (path, day) in counts else TrendPoint(day, 0, 0)
            for day in window
        )  # fmt: skip
        latest = counts.get((path, newest)) or DayCounts(newest, path, {}, 0, 0, 0)
        by_reader = tuple(sorted(latest.by_reader.items(), key=lambda item: (-item[1], item[0])))
        feeds.append(
            FeedStats(path, latest.subscribers, by_reader, latest.fetches, latest.not_modified, latest.bytes, trend)
        )
    feeds.sort(key=lambda feed: (-feed.subscribers, -feed.fetches, feed.path))
    return Report(newest, days, tuple(feeds))


def report_data(report: Report) -> dict:
    """The report as JSON-ready data: ``{"day": ..., "days": N, "feeds": [{"path": ..., ...}, ...]}``."""
    return {
        "day": report.day,
        "days": report.days,
        "feeds": [
            {
                "path": feed.path,
                "subscribers": feed.subscribers,
                "by_reader": dict(feed.by_reader),
                "fetches": feed.fetches,
                "not_modified": feed.not_modified,
                "not_modified_share": round(feed.not_modified_share, 4),
                "bytes": feed.bytes,
                "trend": [
                    {"day": point.day, "subscribers": point.subscribers, "fetches": point.fetches}
                    for point in feed.trend
                ],
            }
            for feed in report.feeds
        ],
    }


def format_json(report: Report) -> str:
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


def _size(count: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def _trend(feed: FeedStats) -> str:
    first = next((point.subscribers for point in feed.trend if point.fetches), 0)
    change = feed.subscribers - first
    return f"{first} → {feed.subscribers} over {len(feed.trend)} days ({change:+d})"


def format_text(report: Report) -> str:
    """A table for people: one block per feed."""
    if report.day is None:
        return "No feed fetches recorded yet.\n"
    lines = [f"Subscribers on {report.day} (trend over the last {report.days} days)", ""]
    for feed in report.feeds:
        readers = ", ".join(f"{name} {count}" for name, count in feed.by_reader) or "none"
        lines += [
            f"{feed.path}: {feed.subscribers} subscribers ({readers})",
            f"    {feed.fetches} fetches, {feed.not_modified_share:.0%} not modified (304), {_size(feed.bytes)} served;"
            f" trend {_trend(feed)}",
        ]
    total = sum(feed.subscribers for feed in report.feeds)
    lines += ["", f"{len(report.feeds)} feeds, {total} subscriptions in all"]
    return "\n".join(lines) + "\n"
