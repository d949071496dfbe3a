"""The live Flask app: the site's paths over HTTP, with conditional GET and gzip.

A thin IO adapter over :func:`feeds.site.render_path` (the same bytes an
export writes). Each path is rendered once per catalog generation and kept,
with its gzip bytes and its response headers worked out in advance, so a hot
feed costs a dictionary lookup and Werkzeug's conditional check per request.
The articles folder is watched by :class:`feeds.live.Live`; new bytes replace
old ones in one swap. No request header ever reaches a feed's bytes or a
redirect's Location: absolute URLs come from ``settings.site_url`` only.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, Response, abort, request
from werkzeug.datastructures import Accept, Headers
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_etags, remove_entity_headers

from feeds.catalog import FeedKind
from feeds.config import Settings
from feeds.filters import FeedFilter, FilterError, FilterIndex, filter_feed, parse_filter
from feeds.live import Live, Snapshot
from feeds.page_layout import CONTENT_SECURITY_POLICY_HEADER, PAGE_TYPE
from feeds.render import (
    ARCHIVE_FOLDER,
    PAGE_EXTENSION,
    STYLESHEET_PATH,
    WRITERS,
    Format,
    Rendered,
    over_budget,
    render_feed,
)  # fmt: skip
from feeds.site import INDEX_PATH, OPML_PATH, enabled_formats, gzip_rendered, render_path, split_feed_path
from feeds.stats_recorder import recorder_for
from feeds.stats_store import is_feed_path

MAX_PATH_CHARS = 512
FILTER_CACHE_SIZE = 256
FILTER_PATH = "filter"
_TEXT = "text/plain; charset=utf-8"
_HTML = "text/html; charset=utf-8"
# the 404 page loads nothing at all
_NOT_FOUND_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_GZIP_NAMES = frozenset(("gzip", "x-gzip"))
# Chromium shows application/rss+xml and atom+xml as plain text and applies no
# stylesheet; it does for application/xml. A browser navigation gets the same bytes
# under this type (see respond); feed readers keep the registered types.
BROWSER_XML_TYPE = "application/xml; charset=utf-8"
FILTER_SLOTS = 2  # filtered feeds computed at once per process; more at once are shed (503), never queued
FILTER_RETRY_AFTER = "1"  # seconds, in the 503 of a shed filter request (RFC 9110 §10.2.3)
# the types of documents that carry a stylesheet (feeds.writer.FeedWriter.styled)
_STYLED_TYPES = frozenset(fmt.media_type for fmt, writer in WRITERS.items() if writer.styled)


@dataclass(frozen=True, slots=True)
class Variant:
    """One representation of a path (identity or gzip) with its WSGI headers worked out.

    The headers are made once, by a Werkzeug Response (``set_etag``,
    ``cache_control``, ``vary``, ``last_modified``), and replayed on every
    request; the 304 headers are the same list less the entity headers, as
    Werkzeug itself would send them.
    """

    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]
    not_modified_headers: tuple[tuple[str, str], ...]


def prepare(
    body: bytes,
    etag: str,
    rendered: Rendered,
    settings: Settings,
    *,
    encoding: str | None,
    cross_origin: bool,
    browser: bool = False,
) -> Variant:
    """The variant for ``body``: its strong ETag, validators and caching headers.

    ``browser``: the variant for a browser navigation, typed application/xml.
    """
    response = Response(body, content_type=BROWSER_XML_TYPE if browser else rendered.media_type)
    response.set_etag(etag)  # strong: the bytes themselves (feeds.render.make_rendered)
    # No Last-Modified (issue 16): the newest item's date does not move when a backdated article
    # arrives or one is removed, so If-Modified-Since would answer 304 over changed bytes. The ETag
    # names the bytes, so every change is seen, and two servers over one folder agree on it.
    response.cache_control.public = True
    response.cache_control.max_age = settings.cache_max_age
    response.vary.add("Accept-Encoding")
    if rendered.media_type in _STYLED_TYPES:
        # RSS and Atom are negotiated on Accept (browser navigations get application/xml):
        # every variant says so, or a shared cache could hand a reader's copy to a browser
        response.vary.add("Accept")
    response.headers["X-Content-Type-Options"] = "nosniff"
    if rendered.media_type == PAGE_TYPE:  # our pages: their own inline style and script, images (feeds.page_layout)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY_HEADER
    if cross_origin:
        response.access_control_allow_origin = "*"
    if encoding is not None:
        response.content_encoding = encoding
    headers = Headers(response.headers)
    remove_entity_headers(headers)  # RFC 9110 §15.4.5, as Response.get_wsgi_headers does for 304
    return Variant(
        body, etag, tuple(response.headers.to_wsgi_list()), tuple(headers.to_wsgi_list())
    )


class Page:
    """A rendered path as HTTP: the identity variant now, the gzip variant on first demand."""

    __slots__ = ("rendered", "identity", "cross_origin", "settings", "_gzip", "_lock", "_browser")

    def __init__(self, rendered: Rendered, settings: Settings, *, cross_origin: bool) -> None:
        self.rendered, self.settings, self.cross_origin = rendered, settings, cross_origin
        self._gzip: Variant | None = None
        self._browser: dict[bool, Variant] = {}
        self._lock = threading.Lock()
        self.identity = prepare(
            rendered.body,
            rendered.etag,
            rendered,
            settings,
            encoding=None,
            cross_origin=cross_origin,
        )

    def gzip(self) -> Variant:
        """The gzip variant: its own strong ETag (RFC 9110 §8.8.3), compressed once.

        The ETag names the compressed bytes too (a digest of them after "-gz-"): the
        same document gzipped at another level or by another zlib-ng gives other
        bytes, and a strong validator must never name two byte sequences (a cache
        would splice a range of one into the other).
        """
        variant = self._gzip
        if variant is None:
            with self._lock:
                if self._gzip is None:
                    packed = gzip_rendered(self.rendered)
                    self._gzip = prepare(
                        packed,
                        f"{self.rendered.etag}-gz-{hashlib.sha256(packed).hexdigest()[:12]}",
                        self.rendered,
                        self.settings,
                        encoding="gzip",
                        cross_origin=self.cross_origin,
                    )
                variant = self._gzip
        return variant

    def browser(self, gzip: bool) -> Variant:
        """The variant a browser navigation gets: the same bytes and ETag, as application/xml.

        The same ETag, so a browser's later If-None-Match revalidates its copy (a 304
        keeps the type it stored).
        """
        variant = self._browser.get(gzip)
        if variant is None:
            plain = self.gzip() if gzip else self.identity
            with self._lock:
                variant = prepare(
                    plain.body,
                    plain.etag,
                    self.rendered,
                    self.settings,
                    encoding="gzip" if gzip else None,
                    cross_origin=self.cross_origin,
                    browser=True,
                )
                self._browser[gzip] = variant
        return variant


class PreparedResponse(Response):
    """A response carrying a Variant's prepared headers (the hot path).

    Werkzeug would copy and rescan the headers per request to fix them up for
    the status; these were settled when the page was rendered, so
    :meth:`get_wsgi_headers` sends them as they are, and the body goes out as
    it is (``direct_passthrough``). A HEAD, 304 or 412 sends no body.
    """

    default_mimetype = None  # the prepared headers carry the type; a 304 carries none

    def __init__(self, variant: Variant, status: int) -> None:
        if status == 200:
            super().__init__(None, status, variant.headers, direct_passthrough=True)
            self.response = (variant.body,)
        else:
            super().__init__(None, status, variant.not_modified_headers)

    def get_wsgi_headers(self, environ: dict[str, Any]) -> Headers:
        return self.headers


def wants_gzip(accept: Accept) -> bool:
    """gzip when Accept-Encoding lists it (or ``*``) with q > 0; an explicit entry beats ``*``."""
    wildcard = 0.0
    for value, quality in accept:
        name = value.lower()
        if name in _GZIP_NAMES:
            return quality > 0
        if name == "*" and not wildcard:
            wildcard = quality
    return wildcard > 0


def browser_navigation(page: Page, environ: dict[str, Any]) -> bool:
    """True for a browser opening an RSS or Atom document: Accept prefers text/html to the feed's type.

    Feed readers send no Accept, ``*/*`` or the feed types first, so they never qualify;
    nor does a revalidation (If-None-Match), which gets the variant the client stored.
    """
    media_type = page.rendered.media_type
    if media_type not in _STYLED_TYPES or "HTTP_ACCEPT" not in environ or "HTTP_IF_NONE_MATCH" in environ:
        return False
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality(media_type.split(";")[0])


def respond(page: Page, environ: dict[str, Any]) -> Response:
    """200, 304 or 412 for ``page`` under the request's conditional headers."""
    variant = page.identity
    gzip = "HTTP_ACCEPT_ENCODING" in environ and wants_gzip(request.accept_encodings)
    if browser_navigation(page, environ):
        variant = page.browser(gzip)
    elif gzip:
        variant = page.gzip()
    if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MATCH" in environ:
        return PreparedResponse(variant, conditional_status(environ, variant.etag))
    return PreparedResponse(variant, 200)


def conditional_status(environ: dict[str, Any], etag: str) -> int:
    """200, 304 or 412 for a GET or HEAD of an existing representation tagged ``etag`` (RFC 9110 §13.2.2).

    The preconditions in the RFC's order: If-Match (strong comparison; ``*`` holds
    whenever the representation exists, §13.1.1), then If-None-Match (weak
    comparison, §13.1.2). If-Unmodified-Since and If-Modified-Since are ignored:
    these responses carry no Last-Modified (§13.1.3, §13.1.4). Werkzeug parses the
    lists; its ``is_resource_modified`` answers 412 for ``If-Match: *``.
    """
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None and not parse_etags(if_match).contains(etag):
        return 412
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None and parse_etags(if_none_match).contains_weak(etag):
        return 304
    return 200


class _Memo:
    """Pages of one snapshot: site paths (a bounded set) and recent filtered feeds (an LRU)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pages: dict[str, Page] = {}
        self.filters: dict[tuple[str, str], Page] = {}
        # filtered feeds are computed outside ``lock`` (a query must not hold up the site's pages)
        # and at most FILTER_SLOTS at a time; a request finding none free is shed, not queued
        self.filter_slots = threading.BoundedSemaphore(FILTER_SLOTS)
        self.index_lock = threading.Lock()
        self.index: FilterIndex | None = None


class FilterBusy(Exception):
    """Every filter slot of this process is taken: answer 503 at once instead of holding a thread."""


def _memo(snapshot: Snapshot) -> _Memo:
    memo = snapshot.memo.get("web")
    if memo is None:
        memo = snapshot.memo.setdefault("web", _Memo())  # setdefault: one winner across threads
    return memo


def site_page(snapshot: Snapshot, path: str, settings: Settings) -> Page | None:
    """The page for a site path of this snapshot, rendered on first use; None when unknown."""
    memo = _memo(snapshot)
    page = memo.pages.get(path)
    if page is not None:
        return page
    with memo.lock:  # one render per path per generation, however many requests wait
        page = memo.pages.get(path)
        if page is None:
            rendered = render_path(path, snapshot.catalog, settings)
            if rendered is None:
                return None
            page = Page(rendered, settings, cross_origin=rendered.media_type != PAGE_TYPE)
            memo.pages[path] = page
    return page


def filter_page(snapshot: Snapshot, wanted: FeedFilter, fmt: Format, settings: Settings) -> Page:
    """The page for a filtered feed; the newest FILTER_CACHE_SIZE distinct queries are kept.

    Raises :class:`FilterBusy` when FILTER_SLOTS filters are being made already.
    """
    memo = _memo(snapshot)
    query = wanted.query()
    key = (fmt.extension, query)
    page = memo.filters.get(key)
    if page is not None:
        return page
    if not memo.filter_slots.acquire(blocking=False):
        raise FilterBusy
    try:
        index = memo.index
        if index is None:
            with memo.index_lock:  # built once per snapshot, by the first filter request
                if memo.index is None:
                    memo.index = FilterIndex(snapshot.articles, settings)
                index = memo.index
        self_url = f"{settings.site_url}{FILTER_PATH}.{fmt.extension}" + (f"?{query}" if query else "")
        feed = filter_feed(snapshot.articles, index, wanted, snapshot.catalog, settings)
        page = Page(render_feed(feed, fmt, snapshot.catalog, settings, self_url=self_url), settings, cross_origin=True)
    finally:
        memo.filter_slots.release()
    with memo.lock:
        while len(memo.filters) >= FILTER_CACHE_SIZE:
            memo.filters.pop(next(iter(memo.filters)))
        memo.filters[key] = page
    return page


def over_budget_paths(snapshot: Snapshot, settings: Settings) -> list[str]:
    """Site paths rendered in this generation whose feed hit ``max_feed_bytes``, sorted."""
    memo = _memo(snapshot)
    with memo.lock:
        pages = list(memo.pages.items())
    return sorted(
        path for path, page in pages if page.rendered.media_type != PAGE_TYPE and over_budget(page.rendered, settings)
    )


def warm(snapshot: Snapshot, settings: Settings) -> None:
    """Render the hottest pages (index, OPML, the all feeds) before a snapshot goes live."""
    for path in (
        INDEX_PATH,
        OPML_PATH,
        *(f"all.{fmt.extension}" for fmt in enabled_formats(settings)),
        f"all.{PAGE_EXTENSION}",
    ):
        site_page(snapshot, path, settings)


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
    warm(current.state, settings)
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

    @app.get("/all.<extension>")
    def all_feed(extension: str) -> Response:
        return serve(f"all.{extension}")

    @app.get(f"/{STYLESHEET_PATH}")
    def stylesheet() -> Response:
        return serve(STYLESHEET_PATH)

    @app.get(f"/{ARCHIVE_FOLDER}/<path:rest>")
    def archive_page(rest: str) -> Response:
        return serve(f"{ARCHIVE_FOLDER}/{rest}")

    @app.get("/topics/<name>")
    def topic_feed(name: str) -> Response:
        return serve(f"{FeedKind.TOPIC.value}/{name}")

    @app.get("/providers/<name>")
    def provider_feed(name: str) -> Response:
        return serve(f"{FeedKind.PROVIDER.value}/{name}")

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
            "websub": current.last_ping.line() if current.last_ping is not None else None,
            # how this worker notices changes: "inotify", or "polling every N s: <why no watcher>"
            "watching": current.watching,
        }
        status = 200 if state.loaded_at is not None else 503
        headers = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))
        return Response(
            json.dumps(body, indent=2) + "\n", status, headers, mimetype="application/json"
        )

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
