"""``feeds stats --html FILE``: the report as one HTML file, an SVG chart per feed.

No script and no outside resource (no font, stylesheet or image fetched): the
file opens from a disk or a mail attachment as it is. Every text from the
database is escaped (a feed path from an access log is the log writer's text).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from feeds.stats.report import FeedStats, Report

CHART_WIDTH, CHART_HEIGHT, MARGIN = 640, 140, 28

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 760px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.1em; margin: 1.6em 0 .2em; word-break: break-all; }
p { margin: .2em 0; } .readers { color: #555; }
svg { display: block; margin: .4em 0 1em; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, sans-serif; fill: #555; }
.axis { stroke: #bbb; } .line { fill: none; stroke: #1a66c2; stroke-width: 2; } .dot { fill: #1a66c2; }
"""


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def chart(feed: FeedStats) -> str:
    """An SVG line chart of the feed's subscribers per day over the report's window."""
    values = [point.subscribers for point in feed.trend]
    top = max(values, default=0) or 1
    inner_w, inner_h = CHART_WIDTH - 2 * MARGIN, CHART_HEIGHT - 2 * MARGIN
    step = inner_w / max(1, len(values) - 1)
    points = [
        (MARGIN + index * step, MARGIN + inner_h - value / top * inner_h) for index, value in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    first, last = feed.trend[0].day, feed.trend[-1].day
    title = f"Subscribers of {feed.path} per day, {first} to {last}"
    bottom = MARGIN + inner_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" '
        f'width="{CHART_WIDTH}" height="{CHART_HEIGHT}" role="img" aria-label="{_escape(title)}">',
        f"<title>{_escape(title)}</title>",
        f'<line class="axis" x1="{MARGIN}" y1="{bottom}" x2="{CHART_WIDTH - MARGIN}" y2="{bottom}"/>',
        f'<line class="axis" x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{bottom}"/>',
        f'<text x="{MARGIN - 4}" y="{MARGIN + 4}" text-anchor="end">{top}</text>',
        f'<text x="{MARGIN - 4}" y="{bottom + 4}" text-anchor="end">0</text>',
        f'<text x="{MARGIN}" y="{bottom + 18}">{_escape(first)}</text>',
        f'<text x="{CHART_WIDTH - MARGIN}" y="{bottom + 18}" text-anchor="end">{_escape(last)}</text>',
        f'<polyline class="line" points="{path}"/>' if len(points) > 1 else "",
        *(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in points[-1:]),
        "</svg>",
    ]
    return "".join(parts)


def format_html(report: Report) -> str:
    """The whole page."""
    heading = f"Feed subscribers on {report.day}" if report.day else "Feed subscribers"
    body = [f"<h1>{_escape(heading)}</h1>"]
    if not report.feeds:
        body.append("<p>No feed fetches recorded yet.</p>")
    else:
        total = sum(feed.subscribers for feed in report.feeds)
        body.append(f"<p>{len(report.feeds)} feeds, {total} subscriptions in all; "
                    f"charts over the last {report.days} days.</p>")  # fmt: skip
    for feed in report.feeds:
        readers = ", ".join(f"{_escape(name)} {count}" for name, count in feed.by_reader) or "none"
        body += [
            f"<h2>{_escape(feed.path)}: {feed.subscribers} subscribers</h2>",
            f'<p class="readers">{readers}</p>',
            f"<p>{feed.fetches} fetches, {feed.not_modified_share:.0%} not modified (304), {feed.bytes} bytes served"
            "</p>",
            chart(feed),
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # no script and nothing fetched from anywhere, even if someone edits a chart into the file
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_escape(heading)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_html(report: Report, path: Path) -> None:
    """Write the page to ``path`` atomically (a temporary file beside it, then a rename)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(format_html(report), encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
