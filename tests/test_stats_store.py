"""The statistics database: shared day keys, many writers, forgetting keys, rolling up."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.config import Settings, load_settings
from feeds.config_values import ConfigError
from feeds.stats.store import Fetch, StatsStore, stats_db_path

NEWSBOAT = "newsboat/2.21.0 (Linux x86_64)"
FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {} subscribers; )"
DAY = datetime(2026, 3, 14, 12, tzinfo=UTC)


def fetch(address: str = "192.0.2.1", agent: str = NEWSBOAT, when: datetime = DAY, path: str = "/all.rss",
          status: int = 200) -> Fetch:  # fmt: skip
    return Fetch(when, path, status, 100, address, agent)


def by_reader(store: StatsStore, day: str = "2026-03-14", path: str = "/all.rss") -> dict[str, int]:
    return next((c.by_reader for c in store.counts(day, day) if c.path == path), {})


def test_two_writers_share_the_day_key_so_a_reader_counts_once(tmp_path: Path) -> None:
    one, two = StatsStore(tmp_path / "s.db"), StatsStore(tmp_path / "s.db")  # two gunicorn workers
    one.add([fetch(), fetch("2001:DB8:0::1")])
    two.add([fetch(), fetch("192.0.2.2"), fetch("2001:db8::1")])
    assert by_reader(one) == {"Newsboat": 3}
    assert one.day_key("2026-03-14") == two.day_key("2026-03-14")
    one.close(), two.close()


def test_aggregators_count_their_largest_figure_per_feed_id_and_readers_once_each(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "s.db")
    store.add([
        fetch(agent=FEEDLY.format(134)), fetch(agent=FEEDLY.format(140)), fetch(agent=FEEDLY.format(120)),
        fetch(agent="Feedbin feed-id:1 - 5 subscribers"), fetch(agent="Feedbin feed-id:2 - 3 subscribers"),
        fetch(agent="Feedbin feed-id:2 - 4 subscribers"),
        fetch("192.0.2.1"), fetch("192.0.2.1", status=304), fetch("192.0.2.1", agent="Liferea/1.14"),
        fetch("192.0.2.9", status=404), fetch("192.0.2.8", status=500),
        fetch(agent="Mozilla/5.0 (compatible; Googlebot/2.1)"),
    ])  # fmt: skip
    assert by_reader(store) == {"Feedly": 140, "Feedbin": 9, "Newsboat": 1, "Liferea": 1}
    (counts,) = store.counts("2026-03-14", "2026-03-14")
    assert (counts.subscribers, counts.fetches, counts.not_modified, counts.bytes) == (151, 12, 1, 1200)
    store.close()


def test_a_redirect_is_no_subscription_of_the_path_it_was_asked_for(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "s.db")  # an alias spelling answered 301; the reader then fetches the feed
    store.add([fetch(path="/topics/AI.rss", status=301), fetch(path="/topics/ai.rss"),
               fetch(agent=FEEDLY.format(9), path="/topics/AI.rss", status=301)])  # fmt: skip
    assert by_reader(store, path="/topics/ai.rss") == {"Newsboat": 1}
    assert by_reader(store, path="/topics/AI.rss") == {}
    store.close()


def _write(path: Path, worker: int, rounds: int) -> None:
    store = StatsStore(path)
    for number in range(rounds):
        store.add([fetch(f"198.51.100.{(worker * rounds + number) % 50}") for _ in range(5)])
    store.close()


def test_processes_writing_at_once_lose_and_double_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    context = multiprocessing.get_context("spawn")  # fresh processes, as gunicorn's forked workers are
    workers = [context.Process(target=_write, args=(path, worker, 40)) for worker in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    store = StatsStore(path)
    (counts,) = store.counts("2026-03-14", "2026-03-14")
    assert (counts.fetches, counts.by_reader) == (4 * 40 * 5, {"Newsboat": 50})
    store.close()


def test_keys_are_forgotten_after_the_next_day_and_leave_no_trace(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "s.db")
    keys = {day: store.day_key(day) for day in ("2026-03-12", "2026-03-13", "2026-03-14")}
    assert store.forget_keys("2026-03-14") == 1
    remaining = {day for (day,) in store.db.execute("SELECT day FROM day_keys WHERE length(key) > 0")}
    assert remaining == {"2026-03-13", "2026-03-14"}
    store.close()
    for path in tmp_path.glob("s.db*"):
        assert keys["2026-03-12"] not in path.read_bytes(), path


def test_a_late_log_of_a_forgotten_day_adds_fetches_but_counts_no_reader_twice(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "s.db")  # CloudFront's logs of one day, imported over several runs
    store.add([fetch("192.0.2.1"), fetch(agent=FEEDLY.format(7))])
    assert store.forget_keys("2026-03-17") == 1
    store.add([fetch("192.0.2.1", when=DAY + timedelta(hours=8)), fetch("192.0.2.2")])
    assert by_reader(store) == {"Newsboat": 1, "Feedly": 7}
    (counts,) = store.counts("2026-03-14", "2026-03-14")
    assert counts.fetches == 4
    assert store.forget_keys("2026-03-18") == 0  # a tombstone is forgotten once
    store.close()


days = st.integers(0, 5).map(lambda n: DAY + timedelta(days=n))
fetches = st.builds(
    fetch,
    address=st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1"]),
    agent=st.sampled_from([NEWSBOAT, "Liferea/1.14", FEEDLY.format(3), FEEDLY.format(7),
                           "Feedbin feed-id:1 - 2 subscribers", "curl/8.5.0", ""]),  # fmt: skip
    when=days,
    path=st.sampled_from(["/all.rss", "/all.atom"]),
    status=st.sampled_from([200, 304, 301, 404]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(fetches, max_size=40), st.integers(1, 7))
def test_rolling_up_keeps_every_figure(tmp_path_factory, batch: list[Fetch], detail_days: int) -> None:
    store = StatsStore(tmp_path_factory.mktemp("roll") / "s.db")
    store.add(batch)
    first, last = "2026-03-14", "2026-03-19"
    before = store.counts(first, last)
    store.roll_up("2026-03-20", detail_days)
    assert store.counts(first, last) == before
    (kept,) = store.db.execute("SELECT MIN(day) FROM fetches").fetchone()
    assert kept is None or kept >= (date(2026, 3, 20) - timedelta(days=detail_days - 1)).isoformat()
    store.close()


def test_the_database_lives_in_the_cache_folder_unless_configured(tmp_path: Path) -> None:
    assert stats_db_path(Settings(cache_dir=tmp_path)) == tmp_path / "stats.sqlite3"
    assert stats_db_path(Settings(stats_db=tmp_path / "x.db")) == tmp_path / "x.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trusted_proxies: [10.0.0.300]", "key 'trusted_proxies': '10.0.0.300' is not an IP address or network"),
        ("trusted_proxies: 10.0.0.1", "key 'trusted_proxies': must be a list"),
        ("stats: 1", "key 'stats': must be true or false"),
        ("stats_detail_days: 0", "key 'stats_detail_days': must be from 1 to 3650"),
        ("stats_db: ''", "key 'stats_db': must be a non-empty string"),
    ],
)
def test_bad_statistics_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings(config)


def test_statistics_settings_are_read(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("stats: false\nstats_db: s.db\nstats_detail_days: 7\ntrusted_proxies: [127.0.0.1, 10.1.2.3/8]\n")
    settings = load_settings(config)
    assert (settings.stats, settings.stats_db, settings.stats_detail_days, settings.trusted_proxies) == (
        False, tmp_path / "s.db", 7, ("127.0.0.1/32", "10.0.0.0/8"))  # fmt: skip


def test_no_address_reaches_the_file(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "s.db")
    store.add([fetch("203.0.113.77"), fetch("2001:db8::77")])
    store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        dump = "\n".join(db.iterdump())
    assert "203.0.113.77" not in dump and "2001:db8::77" not in dump and "newsboat/" not in dump
