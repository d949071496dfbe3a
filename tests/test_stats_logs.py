"""Access logs: both formats, gzip, hostile lines, and the same log read twice counting once."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from feeds.stats.logs import MAX_LINE_BYTES, LineParser, import_log
from feeds.stats.report import build_report
from feeds.stats.store import StatsStore

from .test_stats import EXPECTED, VISITS

EXTENSIONS = frozenset(("rss", "atom", "json"))
WHEN = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
# AWS's documented field list for CloudFront standard logs (legacy), in its order
CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) "
    "cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken "
    "x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status "
    "fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
).split()


def combined(address: str, agent: str, status: int = 200, path: str = "/all.rss", second: int = 0) -> str:
    # nginx writes ", \ and bytes outside printable ASCII as \xHH
    escaped = "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\x{ord(c):02X}" for c in agent)
    size = 0 if status == 304 else 5120
    return (f'{address} - - [14/Mar/2026:10:26:{second:02d} +0100] "GET {path} HTTP/1.1" {status} {size} "-" '
            f'"{escaped}"\n')  # fmt: skip


def cloudfront(address: str, agent: str, status: int = 200, path: str = "/all.rss") -> str:
    values = dict.fromkeys(CLOUDFRONT_FIELDS, "-")
    values.update({"date": "2026-03-14", "time": "09:26:53", "x-edge-location": "FRA56-P1", "c-ip": address,
                   "cs-method": "GET", "cs-uri-stem": path, "sc-status": str(status),
                   "sc-bytes": "0" if status == 304 else "5120", "cs(User-Agent)": quote(agent, safe="/;:(),+"),
                   "cs(Host)": "d111111abcdef8.cloudfront.net"})  # fmt: skip
    return "\t".join(values[name] for name in CLOUDFRONT_FIELDS) + "\n"


CLOUDFRONT_HEADER = "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_FIELDS) + "\n"


def visits_as(line) -> str:
    return "".join(line(source, agent, 304 if revalidate else 200) for source, agent, revalidate in VISITS)


@pytest.fixture
def store(tmp_path: Path):
    store = StatsStore(tmp_path / "stats.sqlite3")
    yield store
    store.close()


def all_feed(store: StatsStore) -> dict[str, int]:
    report = build_report(store, 1)
    return dict(next(feed for feed in report.feeds if feed.path == "/all.rss").by_reader)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("text", [visits_as(combined), CLOUDFRONT_HEADER + visits_as(cloudfront)])
def test_both_formats_plain_or_gzip_give_the_live_figures(tmp_path, store, text: str, compress: bool) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    result = import_log(store, log, EXTENSIONS)
    assert (result.fetches, result.unparseable) == (len(VISITS), 0)
    assert all_feed(store) == EXPECTED
    assert build_report(store, 1).day == "2026-03-14"  # +0100 local time, recorded by its UTC day


def test_a_log_read_twice_grown_or_rotated_counts_once(tmp_path, store) -> None:
    log = tmp_path / "access.log"
    lines = [combined(f"192.0.2.{n}", "newsboat/2.21.0 (Linux x86_64)", second=n) for n in range(1, 9)]
    log.write_text("".join(lines[:5]))
    assert import_log(store, log, EXTENSIONS).fetches == 5
    assert import_log(store, log, EXTENSIONS).fetches == 0
    with log.open("a") as stream:  # nginx appends
        stream.write("".join(lines[5:]))
    grown = import_log(store, log, EXTENSIONS)
    assert (grown.fetches, grown.skipped_bytes) == (3, len("".join(lines[:5])))
    rotated = tmp_path / "access.log.1.gz"  # logrotate's compressed copy: the same content, another name
    rotated.write_bytes(gzip.compress(log.read_bytes()))
    assert import_log(store, rotated, EXTENSIONS).fetches == 0
    shutil.copy(log, tmp_path / "copy.log")
    assert import_log(store, tmp_path / "copy.log", EXTENSIONS).fetches == 0
    assert all_feed(store) == {"Newsboat": 8}
    assert build_report(store, 1).feeds[0].fetches == 8


def test_another_log_that_merely_starts_alike_is_read_whole(tmp_path, store) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    head = combined("192.0.2.1", "newsboat/2.21.0 (Linux x86_64)")
    first.write_text(head + combined("192.0.2.2", "newsboat/2.21.0 (Linux x86_64)"))
    second.write_text(head + combined("192.0.2.3", "newsboat/2.21.0 (Linux x86_64)", second=9))
    assert import_log(store, first, EXTENSIONS).fetches == 2
    result = import_log(store, second, EXTENSIONS)
    assert (result.fetches, result.skipped_bytes) == (2, 0)


def test_an_incomplete_last_line_is_left_for_the_next_read(tmp_path, store) -> None:
    log = tmp_path / "access.log"
    line = combined("192.0.2.1", "newsboat/2.21.0 (Linux x86_64)")
    log.write_text(line + line[:20])
    result = import_log(store, log, EXTENSIONS)
    assert (result.fetches, result.incomplete_last_line) == (1, True)
    log.write_text(line + line)
    assert import_log(store, log, EXTENSIONS).fetches == 1


HOSTILE = [
    "",
    "garbage",
    "\x00\x01\x02\x1b[31m",
    '192.0.2.1 - - [99/Foo/2026:10:26:00 +0100] "GET /all.rss HTTP/1.1" 200 5 "-" "newsboat/2.21.0"',
    '192.0.2.1 - - [14/Mar/2026:10:26:00 +0100] "GET /all.rss HTTP/1.1" 200 99999999999999999999 "-" "x"',
    "#Fields: date time",  # a CloudFront header without the fields we need
    "x" * (MAX_LINE_BYTES + 1),
    "y" * 1_000_000,
]


def test_garbage_and_hostile_lines_are_counted_never_fatal(tmp_path, store) -> None:
    good = combined("192.0.2.1", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 99999999999999999 subscribers; )")
    fine = combined("192.0.2.2", "\x1b]0;pwned\x07newsboat/2.21.0 (Linux x86_64)\r\n\x00")
    log = tmp_path / "access.log"
    log.write_text("".join(line + "\n" for line in HOSTILE) + good + fine)
    result = import_log(store, log, EXTENSIONS)
    assert result.lines == len(HOSTILE) + 2  # the 1 MB line is one line
    assert result.unparseable == len(HOSTILE)
    assert result.bad_lines == [1, 2, 3, 4, 5]
    assert "warning: 8 unparseable lines skipped (lines 1, 2, 3, 4, 5, ...)" in result.line()
    # the absurd count is no count (a crawler, not a subscriber); the control characters cost nothing
    report = build_report(store, 1)
    assert report.feeds[0].fetches == 2 and report.feeds[0].subscribers == 1


@pytest.mark.parametrize(
    ("line", "path"),
    [
        (combined("192.0.2.1", "x", path="/topics/ai.atom?utm=1"), "/topics/ai.atom"),
        (combined("192.0.2.1", "x", path="/providers/wired%2Ecom.json"), "/providers/wired.com.json"),
        (combined("192.0.2.1", "x", path="https://feeds.example.org/all.rss"), "/all.rss"),
        (combined("192.0.2.1", "x", path="/index.html"), None),  # not a feed
        (combined("192.0.2.1", "x", path="/%1b%5b31m.rss"), None),  # not a path of ours: never printed
        (combined("192.0.2.1", "x", path="/../../etc/passwd.rss"), "/../../etc/passwd.rss"),  # just text, never opened
        ('192.0.2.1 - - [14/Mar/2026:10:26:00 +0100] "POST /all.rss HTTP/1.1" 405 0 "-" "x"', None),
        ('192.0.2.1 - - [14/Mar/2026:10:26:00 +0100] "\\x16\\x03\\x01" 400 150 "-" "-"', None),  # TLS to http
    ],
)
def test_which_requests_are_feed_fetches(line: str, path: str | None) -> None:
    parsed = LineParser(EXTENSIONS).parse(line.rstrip("\n"))
    assert (parsed.path if parsed else None) == path
