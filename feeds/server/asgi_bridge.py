"""The Flask (WSGI) app under gunicorn's ``asgi`` worker: each response is buffered in its thread.

gunicorn's ``asgi`` worker reads requests on an event loop, so idle and
trickling connections cost no thread (issue 16); the Flask app still runs on
a thread pool. a2wsgi's ``WSGIMiddleware`` streams: every message of a
response (its start, each body chunk, the final empty chunk) is one blocking
hop from the app's thread to the event loop and back, and under the GIL each
hop can wait a whole switch interval. That halved requests/s for a 130 KB feed
against round one's threaded workers (``bench/bench_http.py``: 0.43–0.66×).

:class:`BufferedBridge` makes one hop per request: the app runs to completion
on a pool thread, its status, headers and body are collected there, and the
event loop sends them. That is exact for this app because every response it
gives is finite bytes already in memory (pages, feeds, errors; nothing
streams), so buffering holds no more than the response already did. The WSGI
environ is a2wsgi's own (:func:`a2wsgi.wsgi.build_environ`, and its ``Body``
for ``wsgi.input``), and ``tests/test_asgi_bridge.py`` holds the messages sent
equal to a2wsgi's for generated requests.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import Body, build_environ

Message = dict[str, Any]


class _Response:
    """What the WSGI app gave for one request: the ASGI messages to send, in order."""

    __slots__ = ("messages",)

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        # A second call (with exc_info, after an error) replaces the start and drops what write() queued,
        # as PEP 3333 allows while nothing is sent; a2wsgi would have sent the first start already.
        start = {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [
                (name.strip().encode("latin1").lower(), value.strip().encode("latin1")) for name, value in headers
            ],
        }
        if self.messages and self.messages[0]["type"] == "http.response.start":
            if exc_info is None:
                raise AssertionError("start_response called twice without exc_info")
            self.messages[:] = [start]
        else:
            self.messages.append(start)
        return self.write

    def write(self, chunk: bytes) -> None:
        """PEP 3333's legacy ``write`` callable."""
        self.messages.append({"type": "http.response.body", "body": chunk, "more_body": True})


def _run(app: Any, environ: dict[str, Any]) -> list[Message]:
    """Run the WSGI app to completion on this thread; the messages of its response."""
    response = _Response()
    iterable = app(environ, response.start_response)
    try:
        body = b"".join(iterable)  # one chunk comes back as itself, not a copy
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    response.messages.append({"type": "http.response.body", "body": body})
    return response.messages


class BufferedBridge:
    """An ASGI app that runs a WSGI app on ``workers`` threads, one thread hop per request.

    HTTP requests only; a websocket is closed, lifespan events are acknowledged
    (both as a2wsgi does). The pool's threads start on the first request, so a
    master that builds this before forking holds no thread.
    """

    def __init__(self, app: Any, workers: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(thread_name_prefix="WSGI", max_workers=workers)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            loop = asyncio.get_running_loop()
            environ = build_environ(scope, Body(loop, receive))  # type: ignore[arg-type]
            job = functools.partial(contextvars.copy_context().run, _run, self.app, environ)
            for message in await loop.run_in_executor(self.executor, job):
                await send(message)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
        elif scope["type"] == "lifespan":
            for reply in ("lifespan.startup.complete", "lifespan.shutdown.complete"):
                await receive()
                await send({"type": reply})
