"""The live Flask app: the site's paths over HTTP, with conditional GET and gzip.

A thin IO adapter over :func:`feeds.render.site.render_path` (the same bytes an
export writes). Each path is rendered once per catalog generation and kept
within a byte budget (:mod:`feeds.server.page_cache`), with its gzip bytes and its
response headers worked out in advance (:mod:`feeds.server.responses`), so a hot
feed costs a dictionary lookup and a conditional check per request.
The articles folder is watched by :class:`feeds.server.live.Live`; new bytes replace
old ones in one swap. No request header ever reaches a feed's bytes or a
redirect's Location: absolute URLs come from ``settings.site_url`` only.
"""

from __future__ import annotations

import functools
import html
import json
import os
import time
from datetime import datetime

from flask import Flask, Response, abort, request
from werkzeug.exceptions import HTTPException

from feeds.config import Settings
from feeds.index.catalog import FAMILIES
from feeds.index.filters import FilterError, parse_filter
from feeds.read.load import CacheDamaged
from feeds.render.feed import ARCHIVE_FOLDER
from feeds.render.site import INDEX_PATH, OPML_PATH, enabled_formats, split_feed_path
from feeds.server.live import Live
from feeds.server.page_cache import (
    FILTER_PATH,
    FILTER_RETRY_AFTER,
    FilterBusy,
    filter_index,
    filter_page,
    over_budget_paths,
    page_at_feed_url,
    site_page,
    warm,
)
from feeds.server.responses import prefers_html, respond
from feeds.server.snapshot import Snapshot
from feeds.stats.recorder import recorder_for
from feeds.stats.store import is_feed_path

__all__ = ["canonical_location", "create_app"]

MAX_PATH_CHARS = 512
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
# seconds a client waits before asking again while a damaged parse cache is read again (RFC 9110 §10.2.3)
REREAD_RETRY_AFTER = "5"
# the 404 page loads nothing at all
_NOT_FOUND_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def canonical_location(path: str, snapshot: Snapshot, settings: Settings) -> str | None:
    """The URL a non-canonical feed path (other case, topic alias) moves to, or None.

    Built from ``settings.site_url`` only, never from the request's Host.
    """
    parts = split_feed_path(path.lower(), settings)
    if parts is None:
        return None
    stem, fmt = parts
    catalog = snapshot.catalog
    target = stem if catalog.get(stem) is not None else catalog.redirects.get(stem)
    if target is None:
        original = path.rpartition(".")[0]
        target = catalog.redirects.get(original)
    if target is None or f"{target}.{fmt.extension}" == path:
        return None
    return f"{settings.site_url}{target}.{fmt.extension}"


def _not_found_page(settings: Settings) -> bytes:
    index = html.escape(settings.site_url)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Not found</title></head>\n'
        f"<body><h1>Not found</h1><p>There is no feed here. Every feed is listed on "
        f'<a href="{index}">the index page</a>.</p></body></html>\n'
    ).encode()


def _plain(status: int, message: str, extra: tuple[tuple[str, str], ...] = ()) -> Response:
    headers = (("Content-Type", _TEXT), ("X-Content-Type-Options", "nosniff"), *extra)
    return Response(message.rstrip("\n") + "\n", status, headers)


def create_app(settings: Settings, *, live: Live | None = None) -> Flask:
    """The Flask app for ``settings``; the only way to build one (STYLE §8).

    The articles are read here, once; the poller that keeps them fresh starts
    on the first request in each process (or from the server's post-fork
    hook), never in a pre-forking master. ``live`` lets tests pass their own.
    """
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 0  # no route reads a body
    # merging slashes would redirect to a Location built from the Host header
    app.url_map.merge_slashes = False
    current = live if live is not None else Live(settings)
    current.on_new_snapshot = lambda snapshot: warm(snapshot, settings)
    current.on_swapped = lambda snapshot, previous: filter_index(snapshot, settings, previous)
    warm(current.state, settings)
    filter_index(current.state, settings)  # a server's workers build theirs as they read their articles
    app.extensions["feeds"] = current
    not_found = _not_found_page(settings)
    formats = {fmt.extension: fmt for fmt in enabled_formats(settings)}
    cache_control = ("Cache-Control", f"public, max-age={settings.cache_max_age}")
    recorder = recorder_for(settings)  # None when `stats: false`
    app.extensions["feeds_stats"] = recorder
    if recorder is not None:
        feed_extensions = frozenset(formats)

        @app.after_request
        def count_fetch(response: Response) -> Response:
            # a feed that was served (or redirected): queued for the statistics, written off the request path
            if response.status_code < 400 and is_feed_path(request.path, feed_extensions):
                recorder.record(request.path, response.status_code, response.content_length or 0, request.environ)
            return response

    def snapshot() -> Snapshot:
        current.ensure_polling()
        return current.state

    def serve(path: str) -> Response:
        environ = request.environ
        # Werkzeug's router ignores extra leading slashes; one page has one URL
        if len(path) > MAX_PATH_CHARS or environ.get("PATH_INFO", "").startswith("//"):
            abort(404)
        state = snapshot()
        page = site_page(state, path, settings)
        if page is not None:
            if prefers_html(page, environ):  # a browser opening a feed's URL reads its page
                page = page_at_feed_url(state, page, path, settings)
            return respond(page, environ)
        location = canonical_location(path, state, settings)
        if location is None:
            abort(404)
        return _plain(301, f"Moved to {location}", (("Location", location), cache_control))

    @app.get("/")
    @app.get("/index.html")
    def index() -> Response:
        return serve(INDEX_PATH)

    @app.get("/feeds.opml")
    def opml() -> Response:
        return serve(OPML_PATH)


    @app.get(f"/{ARCHIVE_FOLDER}/<path:rest>")
    def archive_page(rest: str) -> Response:
        return serve(f"{ARCHIVE_FOLDER}/{rest}")

    for family in FAMILIES:  # a family's feeds: <folder>/<slug>.<ext>, or its one feed at the top (all.<ext>)
        if family.folder:
            rule, stem = f"/{family.folder}/<name>", f"{family.folder}/"
        else:
            rule, stem = f"/{family.path(family.fixed_key)}.<name>", f"{family.path(family.fixed_key)}."
        app.add_url_rule(rule, f"{family.name}_feed", functools.partial(lambda stem, name: serve(stem + name), stem))

    @app.get(f"/{FILTER_PATH}.<extension>")
    def filtered_feed(extension: str) -> Response:
        fmt = formats.get(extension)
        if fmt is None:
            abort(404)
        state = snapshot()
        try:
            wanted = parse_filter(request.args.items(multi=True), state.catalog, settings)
        except FilterError as exc:
            return _plain(400, f"bad filter: {exc}")
        try:
            page = filter_page(state, wanted, fmt, settings)
        except FilterBusy:
            shed = (("Retry-After", FILTER_RETRY_AFTER), ("Cache-Control", "no-store"))
            return _plain(503, "busy: too many filtered feeds are being made; retry in a second", shed)
        return respond(page, request.environ)

    @app.get("/healthz")
    def healthz() -> Response:
        state = snapshot()
        body = {
            "status": "ok" if state.last_error is None else "error",
            "generation": state.generation,
            "articles": len(state.articles),
            "feeds": len(state.catalog.feeds),
            "files": state.files,
            "problems": state.problems,
            "errors": state.errors,
            "loaded_at": _iso(state.loaded_at),
            "last_error": state.last_error,
            "last_error_at": _iso(state.last_error_at),
            # feeds of this generation rendered so far (pages render on first request) that hit
            # max_feed_bytes; `feeds export` checks every feed
            "over_budget": over_budget_paths(state, settings),
            "websub": current.pings.last.line() if current.pings.last is not None else None,
            # how this worker notices changes: "inotify", or "polling every N s: <why no watcher>"
            "watching": current.watching,
            # this process, and the one that read the snapshot it serves: the same in a server's worker
            "pid": os.getpid(),
            "read_by_pid": state.read_by_pid,
            # a refresh running now (a slow one at a million articles shows here while it runs), the last one's
            # time, and the time of the last one that swapped in new feeds
            "reloading": _reloading(current.reloading),
            "last_refresh_seconds": _rounded(current.last_refresh_seconds),
            "last_rebuild_seconds": _rounded(current.last_rebuild_seconds),
        }
        status = 200 if state.loaded_at is not None else 503
        headers = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
        return Response(
            json.dumps(body, indent=2) + "\n", status, headers, mimetype="application/json"
        )

    @app.errorhandler(CacheDamaged)
    def cache_damaged(exc: CacheDamaged) -> Response:
        # a page needed details the parse cache lost, of a file changed since: the reload thread reads
        # every file again without the cache (as `feeds export` does); until then a short 503, not a 500
        current.reread_without_cache(exc)
        headers = (("Retry-After", REREAD_RETRY_AFTER), ("Cache-Control", "no-store"))
        return _plain(503, "rebuilding: the parse cache was damaged; every article is being read again", headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 404:
            headers = (
                ("Content-Type", _HTML), ("X-Content-Type-Options", "nosniff"),
                ("Content-Security-Policy", _NOT_FOUND_POLICY),
            )  # fmt: skip
            return Response(not_found, 404, headers)
        response = exc.get_response()
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _rounded(seconds: float | None) -> float | None:
    return round(seconds, 2) if seconds is not None else None


def _reloading(running: tuple[float, datetime, str] | None) -> dict | None:
    """/healthz's view of the refresh running now (see :attr:`feeds.server.live.Live.reloading`), or None when idle."""
    if running is None:
        return None
    started, at, what = running
    return {"since": _iso(at), "seconds": _rounded(time.monotonic() - started), "reading": what}
