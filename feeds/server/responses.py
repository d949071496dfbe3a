"""Rendered pages as HTTP responses: variants with their headers made once, and conditional GET.

A :class:`Page` holds a rendered path's identity variant and its gzip variant
(made on first demand), each with its response headers worked out in advance, so a hot feed costs a lookup and
:func:`conditional_status` per request. No Last-Modified is sent (issue 16).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from flask import Response, request
from werkzeug.datastructures import Accept, Headers
from werkzeug.http import parse_etags, remove_entity_headers

from feeds.config import Settings
from feeds.render.feed import Rendered
from feeds.render.gzipped import gzip_rendered
from feeds.render.page_layout import CONTENT_SECURITY_POLICY_HEADER, PAGE_TYPE

_GZIP_NAMES = frozenset(("gzip", "x-gzip"))


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
    negotiated: bool = False,
) -> Variant:
    """The variant for ``body``: its strong ETag, validators and caching headers.

    ``negotiated``: its URL answers by the request's Accept (a feed, or its page for a browser).
    """
    response = Response(body, content_type=rendered.media_type)
    response.set_etag(etag)  # strong: the bytes themselves (feeds.render.feed.make_rendered)
    # No Last-Modified (issue 16): the newest item's date does not move when a backdated article
    # arrives or one is removed, so If-Modified-Since would answer 304 over changed bytes. The ETag
    # names the bytes, so every change is seen, and two servers over one folder agree on it.
    response.cache_control.public = True
    response.cache_control.max_age = settings.cache_max_age
    response.vary.add("Accept-Encoding")
    if negotiated:
        # a feed's URL gives a browser the feed's page (see prefers_html): every variant
        # says so, or a shared cache could hand a reader's copy to a browser (RFC 9110 §12.5.5)
        response.vary.add("Accept")
    response.headers["X-Content-Type-Options"] = "nosniff"
    # our pages: their own inline style and script, images (feeds.render.page_layout)
    if rendered.media_type == PAGE_TYPE:
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
    """A rendered path as HTTP: the identity variant now, the gzip variant on first demand.

    ``negotiated``: a feed whose URL gives browsers its page, ``alternate`` (see
    :func:`feeds.server.page_cache.page_at_feed_url`).
    """

    # what a prepared variant's headers and objects cost besides its body, roughly (for nbytes)
    VARIANT_OVERHEAD = 2_048

    __slots__ = ("rendered", "identity", "cross_origin", "negotiated", "alternate", "settings", "_gzip", "_lock")

    def __init__(self, rendered: Rendered, settings: Settings, *, cross_origin: bool, negotiated: bool = False) -> None:
        self.rendered, self.settings, self.cross_origin = rendered, settings, cross_origin
        self.negotiated = negotiated
        self.alternate: Page | None = None
        self._gzip: Variant | None = None
        self._lock = threading.Lock()
        self.identity = prepare(
            rendered.body, rendered.etag, rendered, settings, encoding=None, cross_origin=cross_origin,
            negotiated=negotiated,
        )  # fmt: skip

    @property
    def nbytes(self) -> int:
        """Bytes this page holds now: its bodies and their headers, and its page for browsers (``alternate``)."""
        packed, alternate = self._gzip, self.alternate
        size = len(self.identity.body) + self.VARIANT_OVERHEAD + (alternate.nbytes if alternate is not None else 0)
        return size + (len(packed.body) + self.VARIANT_OVERHEAD if packed is not None else 0)

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
                        negotiated=self.negotiated,
                    )
                variant = self._gzip
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


def prefers_html(page: Page, environ: dict[str, Any]) -> bool:
    """True for a browser navigating to a feed: its Accept rates text/html above the feed's own type.

    Browsers send ``text/html`` first on a navigation; feed readers send no Accept,
    ``*/*``, or the feed types first, so they keep getting the feed (RFC 9110 §12.5.1).
    """
    if not page.negotiated or "HTTP_ACCEPT" not in environ:
        return False
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality(page.rendered.media_type.split(";")[0])


def respond(page: Page, environ: dict[str, Any]) -> Response:
    """200, 304 or 412 for ``page`` under the request's conditional headers."""
    variant = page.identity
    gzip = "HTTP_ACCEPT_ENCODING" in environ and wants_gzip(request.accept_encodings)
    if gzip:
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
