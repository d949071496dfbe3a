"""The buffered WSGI-to-ASGI bridge sends what a2wsgi's streaming bridge sends, for any request.

``feeds.server.asgi_bridge.BufferedBridge`` is a faster copy of a2wsgi's ``WSGIMiddleware`` for
this app (one thread hop per response instead of one per message), so it is held equal to
it: the same ASGI scope, through both, over the live app on the samples, gives the same
status, the same headers in the same order and the same body bytes (chunks joined: a2wsgi
streams them, the bridge sends them as one). Requests are generated: paths of every family
and of nothing, query strings, methods, conditional and negotiation headers, request bodies.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from a2wsgi import WSGIMiddleware
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Settings
from feeds.server.asgi_bridge import BufferedBridge
from feeds.server.web import create_app
from tests.conftest import BASE_URL
from tests.test_web import make_articles


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = make_articles(tmp_path_factory.mktemp("bridge") / "articles", samples=True)
    application = create_app(Settings(base_url=BASE_URL, articles_dir=folder, reload_interval=3600))
    yield application
    application.extensions["feeds"].stop()


def call(asgi_app: Any, scope: dict[str, Any], request_body: bytes) -> tuple[int, list, bytes, list[str]]:
    """Run one HTTP request through an ASGI app: (status, headers, body joined, message types)."""
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": request_body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi_app(scope, receive, send))
    start, *bodies = sent
    assert start["type"] == "http.response.start"
    assert all(message["type"] == "http.response.body" for message in bodies)
    assert not bodies[-1].get("more_body", False), "the last body message ends the response"
    return start["status"], start["headers"], b"".join(m["body"] for m in bodies), [m["type"] for m in sent]


def scope_for(method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode("utf-8", "surrogateescape"), "query_string": query, "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


PATHS = ["/", "/index.html", "/all.rss", "/all.atom", "/all.json", "/feeds.opml", "/healthz", "/topics/ai.rss",
         "/topics/AI.rss", "/providers/wired.json", "/filter.rss", "/filter.json", "/nothing", "/topics/%2e%2e",
         "/all.rss/", "/feeds/x.atom", "/ünïcode.rss", "/topics/artificial-intelligence.rss"]  # fmt: skip
QUERIES = [b"", b"topic=ai", b"topic=ai&provider=wired&min_quality=50", b"q=robot", b"min_quality=x",
           b"topic=%FF%FE", b"q=" + b"a" * 300, b"&&&=&", b"page=2"]  # fmt: skip
HEADERS = st.lists(
    st.sampled_from([
        (b"accept-encoding", b"gzip"), (b"accept-encoding", b"br;q=1, gzip;q=0.5"), (b"accept", b"text/html"),
        (b"accept", b"application/rss+xml"), (b"if-none-match", b"*"), (b"if-none-match", b'W/"x", "y"'),
        (b"if-match", b"*"), (b"if-match", b'"nope"'), (b"if-modified-since", b"Sat, 01 Jan 2000 00:00:00 GMT"),
        (b"user-agent", b"Feedly/1.0 (+http://www.feedly.com/fetcher.html; 42 subscribers)"),
        (b"host", b"evil.example"), (b"x-forwarded-host", b"evil.example"), (b"range", b"bytes=0-10"),
        (b"content-type", b"application/x-www-form-urlencoded"), (b"cookie", b"a=b"),
    ]),
    max_size=4,
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "GET", "HEAD", "POST", "OPTIONS", "PUT", "BREW"]),
    path=st.sampled_from(PATHS),
    query=st.sampled_from(QUERIES),
    headers=HEADERS,
    request_body=st.sampled_from([b"", b"x", b"topic=ai" * 100]),
)
def test_the_bridge_sends_what_a2wsgi_sends(app, method, path, query, headers, request_body):
    scope = scope_for(method, path, query, headers)
    ours = call(BufferedBridge(app, workers=2), scope, request_body)
    theirs = call(WSGIMiddleware(app, workers=2), scope, request_body)
    assert ours[:3] == theirs[:3]
    assert ours[3] == ["http.response.start", "http.response.body"], "one start and one body: one hop"


def test_a_feed_of_the_real_size_comes_through_whole_and_unchanged(app):
    scope = scope_for("GET", "/all.rss", b"", [(b"accept-encoding", b"gzip")])
    status, headers, body, _ = call(BufferedBridge(app, workers=1), scope, b"")
    assert status == 200
    assert (b"content-length", str(len(body)).encode()) in headers
    assert body == app.test_client().get("/all.rss", headers={"Accept-Encoding": "gzip"}).data


def test_an_exception_in_the_app_reaches_the_server_before_anything_is_sent():
    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # the server answers 500 itself: nothing may have been started
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(BufferedBridge(broken, workers=1)(scope_for("GET", "/", b"", []), receive, send))
    assert sent == []


def test_a_legacy_write_callable_and_a_closing_iterable_are_honoured():
    closed: list[bool] = []

    class Body(list):
        def close(self) -> None:
            closed.append(True)

    def legacy(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("201 Created", [("X-One", " 1 ")])
        write(b"early ")
        return Body([b"and ", b"late"])

    status, headers, body, types = call(BufferedBridge(legacy, workers=1), scope_for("GET", "/", b"", []), b"")
    assert (status, headers, body) == (201, [(b"x-one", b"1")], b"early and late")
    assert closed == [True]
    assert types == ["http.response.start", "http.response.body", "http.response.body"]


def test_lifespan_and_websocket_scopes_are_answered_as_a2wsgi_answers_them():
    for scope_type, incoming in (("lifespan", ["lifespan.startup", "lifespan.shutdown"]), ("websocket", [])):
        answers = []
        for bridge in (BufferedBridge(lambda e, s: [], workers=1), WSGIMiddleware(lambda e, s: [], workers=1)):
            queue = [{"type": kind} for kind in incoming]
            sent: list[dict[str, Any]] = []

            async def receive(queue: list = queue) -> dict[str, Any]:
                return queue.pop(0)

            async def send(message: dict[str, Any], sent: list = sent) -> None:
                sent.append(message)

            asyncio.run(bridge({"type": scope_type}, receive, send))
            answers.append(sent)
        assert answers[0] == answers[1] != []


def test_an_error_start_after_write_replaces_the_start_and_what_was_written():
    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"half a page")
        try:
            raise ValueError("late trouble")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"error"]

    status, headers, body, _ = call(BufferedBridge(failing, workers=1), scope_for("GET", "/", b"", []), b"")
    assert (status, headers, body) == (500, [(b"content-type", b"text/plain")], b"error")
