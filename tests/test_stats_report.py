"""The report: its JSON shape, the trend window, the text table and the one-file HTML page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from feeds.cli import main
from feeds.stats.report import build_report, format_json, format_text
from feeds.stats.report_page import format_html
from feeds.stats.store import Fetch, StatsStore

FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {} subscribers; )"
START = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    store = StatsStore(tmp_path / "stats.sqlite3")
    for offset, count in ((0, 100), (2, 120), (4, 134)):  # nothing recorded on the days between
        when = START + timedelta(days=offset)
        store.add([Fetch(when, "/all.rss", 200, 5000, "192.0.2.1", FEEDLY.format(count)),
                   Fetch(when, "/all.rss", 304, 0, "192.0.2.2", "newsboat/2.21.0 (Linux x86_64)"),
                   Fetch(when, "/topics/<script>.atom", 200, 10, "192.0.2.3", "Blogtrottr/2.0")])  # fmt: skip
    yield store
    store.close()


def test_json_has_the_newest_day_and_a_trend_of_every_day(store: StatsStore) -> None:
    data = json.loads(format_json(build_report(store, 5)))
    assert data["day"] == "2026-03-14" and data["days"] == 5
    first = data["feeds"][0]
    assert {k: v for k, v in first.items() if k != "trend"} == {
        "path": "/all.rss", "subscribers": 135, "by_reader": {"Feedly": 134, "Newsboat": 1}, "fetches": 2,
        "not_modified": 1, "not_modified_share": 0.5, "bytes": 5000,
    }  # fmt: skip
    assert [(p["day"], p["subscribers"]) for p in first["trend"]] == [
        ("2026-03-10", 101), ("2026-03-11", 0), ("2026-03-12", 121), ("2026-03-13", 0), ("2026-03-14", 135)
    ]  # fmt: skip
    assert [feed["path"] for feed in data["feeds"]] == ["/all.rss", "/topics/<script>.atom"]


def test_text_report(store: StatsStore) -> None:
    text = format_text(build_report(store, 5))
    assert "/all.rss: 135 subscribers (Feedly 134, Newsboat 1)" in text
    assert "2 fetches, 50% not modified (304), 5.0 kB served; trend 101 → 135 over 5 days (+34)" in text


def test_an_empty_database_says_so(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "empty.db")
    report = build_report(store, 30)
    assert (report.day, report.feeds) == (None, ())
    assert format_text(report) == "No feed fetches recorded yet.\n"
    assert json.loads(format_json(report)) == {"day": None, "days": 30, "feeds": []}
    store.close()


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]


def test_html_is_one_file_with_a_chart_per_feed_no_script_nothing_fetched(store: StatsStore) -> None:
    page = format_html(build_report(store, 5))
    elements = _Elements()
    elements.feed(page)
    assert elements.tags.count("svg") == 2 and elements.tags.count("polyline") == 2
    assert "script" not in elements.tags and not elements.urls
    assert "/topics/&lt;script&gt;.atom" in page and "<script>" not in page


def test_feeds_stats_prints_and_writes_html(tmp_path: Path, store: StatsStore, capsys) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(f"stats_db: {store.path}\n")
    assert main(["stats", "--config", str(config), "--days", "3", "--html", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subscribers on 2026-03-14 (trend over the last 3 days)")
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert main(["stats", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["feeds"][0]["subscribers"] == 135


@pytest.mark.parametrize("days", ["0", "-1", "x", "3651"])
def test_bad_days_is_a_usage_error(days: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--days", days])
    assert exit_info.value.code == 2
    assert "--days: must be a whole number of days from 1 to 3650" in capsys.readouterr().err


def test_a_missing_log_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(f"stats_db: {tmp_path / 's.db'}\n")
    assert main(["stats", "--config", str(config), "--log", str(tmp_path / "nope.log")]) == 2
    assert capsys.readouterr().err.startswith(f"feeds: error: {tmp_path / 'nope.log'}")
