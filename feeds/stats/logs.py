"""Access logs into the statistics database: nginx/Apache combined format and CloudFront standard logs.

This is the CDN path's statistics: the same fetches a live app would have
recorded, read from the server's or the CDN's logs (plain or gzip, detected by
content). Each line is a :class:`feeds.stats.store.Fetch` like a live one;
requests for anything but a feed document (by path and extension) are skipped;
a line that is neither format is counted as unparseable and reported, never fatal.

A log read twice counts once. The database remembers, per log, the SHA-256
digest of its leading bytes up to where it was read (and of its first data line,
to find that record again). A log whose first N bytes match a remembered read is
read from byte N on: the same file again adds nothing, the same file grown
(nginx appends) adds only its new lines, and a rotated copy (``access.log.1``,
gzipped or not) is recognised by its content, whatever its name. Only complete
lines are read; a last line without its newline is left for the next read.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from feeds.stats.store import Fetch, StatsStore, is_feed_path

MAX_LINE_BYTES = 64 * 1024  # a longer line is no log line we know (counted as unparseable, skipped)
BATCH_LINES = 50_000  # lines per transaction; each commit also records how far the log was read
SHOWN_BAD_LINES = 5
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_METHODS = frozenset(("GET", "HEAD"))
# what a feed path of this site can look like (slugs are ASCII); anything else is not one of our feeds
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._~/-]{1,512}")
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
# nginx `log_format combined` / Apache "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""
_COMBINED = re.compile(
    rf"(?P<address>\S+) \S+ \S+ \[(?P<time>[^\]]{{1,40}})\] {_QUOTED} (?P<status>\d{{3}}) (?P<size>\d{{1,15}}|-)"
    rf"(?: {_QUOTED} {_QUOTED}(?: .*)?)?"  # more fields after the User-Agent (nginx's `main` format) are ignored
)
_TIME = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
_MONTHS = {name: number for number, name in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# nginx writes `"`, `\` and bytes outside printable ASCII as \xHH; Apache escapes with a backslash
_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\(.)")
_CLOUDFRONT_NEEDS = ("date", "time", "c-ip", "cs-method", "cs-uri-stem", "sc-status", "sc-bytes", "cs(User-Agent)")


@dataclass(slots=True)
class LogImport:
    """What reading one log did."""

    path: Path
    lines: int = 0  # lines read this time
    fetches: int = 0  # feed fetches recorded
    skipped_bytes: int = 0  # the leading bytes read before (not counted again)
    unparseable: int = 0
    bad_lines: list[int] = field(default_factory=list)  # line numbers of the first few unparseable lines
    incomplete_last_line: bool = False

    def line(self) -> str:
        """One line for the operator: ``PATH: N lines, N feed fetches[, ...]``."""
        parts = [f"{self.path}: {self.lines} lines read, {self.fetches} feed fetches recorded"]
        if self.skipped_bytes:
            parts.append(f"the first {self.skipped_bytes} bytes were read before (not counted again)")
        if self.unparseable:
            shown = ", ".join(map(str, self.bad_lines))
            parts.append(f"warning: {self.unparseable} unparseable lines skipped (lines {shown}"
                         f"{', ...' if self.unparseable > len(self.bad_lines) else ''})")  # fmt: skip
        if self.incomplete_last_line:
            parts.append("the last line is incomplete (left for the next read)")
        return "; ".join(parts)


class LineParser:
    """One log's lines → Fetches; remembers the CloudFront ``#Fields`` header once it has seen one."""

    def __init__(self, extensions: frozenset[str]) -> None:
        self.extensions = extensions
        self.fields: dict[str, int] | None = None  # CloudFront column of each field name

    def parse(self, text: str) -> Fetch | None | bool:
        """A Fetch for a feed request; None for a valid line that is not one; False for an unparseable line."""
        if text.startswith("#"):
            if text.startswith("#Fields:"):
                names = text[len("#Fields:") :].split()
                fields = {name: column for column, name in enumerate(names)}
                complete = all(name in fields for name in _CLOUDFRONT_NEEDS)
                self.fields = fields if complete else None  # without the fields we need: not CloudFront's
                return None if complete else False
            return None  # other W3C directives (#Version)
        if self.fields is not None:
            return self._cloudfront(text.split("\t"))
        return self._combined(text)

    def _fetch(self, when: datetime, method: str, target: str, status: str, size: str, address: str,
               agent: str) -> Fetch | None:  # fmt: skip
        if method not in _METHODS:
            return None
        path = unquote(urlsplit(target).path if "://" in target else target.partition("?")[0])
        if not _SAFE_PATH.fullmatch(path) or not is_feed_path(path, self.extensions):
            return None
        return Fetch(when, path, int(status), 0 if size == "-" else int(size), address, agent)

    def _combined(self, text: str) -> Fetch | None | bool:
        match = _COMBINED.fullmatch(text)
        if match is None:
            return False
        when = _parse_time(match["time"])
        request = match.group(3).split(" ")
        if when is None:
            return False
        if len(request) != 3:
            return None  # a malformed request line (nginx logs what it got): not a feed fetch
        agent = _ESCAPE.sub(_unescape, match.group(7) or "")
        return self._fetch(when, request[0], request[1], match["status"], match["size"], match["address"], agent)

    def _cloudfront(self, values: list[str]) -> Fetch | None | bool:
        columns = self.fields or {}
        if len(values) != len(columns):
            return False
        get = {name: values[columns[name]] for name in _CLOUDFRONT_NEEDS}
        try:
            when = datetime.fromisoformat(f"{get['date']}T{get['time']}").replace(tzinfo=UTC)
        except ValueError:
            return False
        if not get["sc-status"].isdigit() or not get["sc-bytes"].isdigit() or len(get["sc-bytes"]) > 15:
            return False
        # CloudFront URL-encodes the User-Agent (a space is %20; a % itself %25)
        return self._fetch(when, get["cs-method"], get["cs-uri-stem"], get["sc-status"], get["sc-bytes"],
                           get["c-ip"], unquote(get["cs(User-Agent)"]))  # fmt: skip


def _unescape(match: re.Match) -> str:
    return chr(int(match.group(1), 16)) if match.group(1) else match.group(2)


def _parse_time(text: str) -> datetime | None:
    """``05/Dec/2026:07:42:49 +0100`` (the combined format's time), or None."""
    match = _TIME.fullmatch(text)
    if match is None or match.group(2) not in _MONTHS:
        return None
    day, month, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes)) * (-1 if sign == "-" else 1)
    try:
        return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                        tzinfo=timezone(offset))  # fmt: skip
    except ValueError:
        return None


@contextmanager
def _open_log(path: Path) -> Iterator[BinaryIO]:
    """The log's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    with path.open("rb") as raw:
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            with gzip.open(raw, "rb") as unpacked:
                yield unpacked  # type: ignore[misc]
                return
        raw.seek(0)
        yield raw


def _head(path: Path) -> bytes | None:
    """The digest naming a log: its first data line's (not a ``#`` directive, which every CloudFront log shares)."""
    with _open_log(path) as stream:
        while line := stream.readline(MAX_LINE_BYTES + 1):
            if line.endswith(b"\n") and not line.startswith(b"#"):
                return hashlib.sha256(line).digest()
    return None


def _read_before(path: Path, store: StatsStore, head: bytes) -> tuple[int, int, hashlib._Hash]:
    """(bytes already read, lines in them, the SHA-256 state after them) from the longest matching earlier read."""
    ranges = sorted(store.read_ranges(head))
    digest, best = hashlib.sha256(), (0, 0, hashlib.sha256())
    position = newlines = 0
    with _open_log(path) as stream:
        for length, expected in ranges:
            while position < length and (chunk := stream.read(min(_CHUNK, length - position))):
                digest.update(chunk)
                position += len(chunk)
                newlines += chunk.count(b"\n")
            if position == length and digest.digest() == expected:
                best = (length, newlines, digest.copy())
    return best


def import_log(store: StatsStore, path: Path, extensions: frozenset[str]) -> LogImport:
    """Read one access log's new lines into ``store``; what was read (OSError if the file cannot be read)."""
    result = LogImport(path)
    head = _head(path)
    if head is None:
        return result
    skip, line_number, digest = _read_before(path, store, head)
    result.skipped_bytes = skip
    parser = LineParser(extensions)
    batch: list[Fetch] = []
    position = skip
    with _open_log(path) as stream:
        _discard(stream, skip, parser)
        while raw := stream.readline(MAX_LINE_BYTES + 1):
            overlong = len(raw) > MAX_LINE_BYTES
            while overlong and not raw.endswith(b"\n") and (rest := stream.readline(_CHUNK)):
                digest.update(raw)  # an overlong line is hashed and counted piece by piece, never held whole
                position += len(raw)
                raw = rest
            if not raw.endswith(b"\n") and not overlong:
                result.incomplete_last_line = True
                break
            line_number += 1
            result.lines += 1
            position += len(raw)
            digest.update(raw)
            parsed = False if overlong else parser.parse(raw.rstrip(b"\r\n").decode("utf-8", "replace"))
            if parsed is False:
                result.unparseable += 1
                if len(result.bad_lines) < SHOWN_BAD_LINES:
                    result.bad_lines.append(line_number)
            elif parsed is not None:
                batch.append(parsed)
            if result.lines % BATCH_LINES == 0:
                result.fetches += _commit(store, batch, head, position, digest)
        result.fetches += _commit(store, batch, head, position, digest)
    return result


def _discard(stream: BinaryIO, count: int, parser: LineParser) -> None:
    """Skip the first ``count`` bytes, still reading a CloudFront ``#Fields`` header among them."""
    while count > 0 and (line := stream.readline(min(count, MAX_LINE_BYTES + 1))):
        count -= len(line)
        if line.startswith(b"#Fields:"):
            parser.parse(line.rstrip(b"\r\n").decode("utf-8", "replace"))


def _commit(store: StatsStore, batch: list[Fetch], head: bytes, position: int, digest: hashlib._Hash) -> int:
    """Record the batch and how far the log is read, in one transaction; the batch's size."""
    with store.transaction():
        count = store.add(batch)
        store.mark_read(head, position, digest.digest())
    batch.clear()
    return count
