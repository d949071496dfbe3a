"""``feeds serve``: the Flask app under gunicorn, a production server.

The master holds no article: a child process reads them once, to show what is
served (and any problem) and to leave the parse cache warm; each worker then
reads its own through that cache in gunicorn's ``post_worker_init`` hook and
starts its own reload poller, so no thread ever runs in the master.
Inherited articles stayed shared copy-on-write only until served: every request
writes reference counts into the pages it reads, so a crawl of the site gave
each worker its own copy of the master's while the master kept its own
(issue 16: +678 MiB for a 2-worker server under a crawl at 100k articles;
``bench/bench_live_memory.py``).

Slow clients (issue 16): each worker reads requests on an event loop
(gunicorn's ``asgi`` worker, on uvloop with gunicorn's C parser gunicorn_h1c),
so a connection that sends nothing or trickles its headers costs a socket and
a little memory, never a thread. Only a request whose headers are complete
reaches the Flask app, on one of
:data:`THREADS_PER_WORKER` threads (:mod:`feeds.server.asgi_bridge`, one thread hop
per response). gunicorn's
``gthread`` worker gives each new connection a thread until its headers are
read, so 8 idle connections stalled every reader; ``bench/bench_http.py``
measures both setups side by side.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import socket
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from feeds.config import Settings
from feeds.server.asgi_bridge import BufferedBridge
from feeds.server.live import FIRST_TURN_WAIT_SECONDS, Live
from feeds.server.web import create_app

THREADS_PER_WORKER = 4
# gunicorn's master kills a worker whose request loop was silent this long (gunicorn's default)
WORKER_TIMEOUT_SECONDS = 30


def local_url(host: str, port: int) -> str:
    """``http://HOST:PORT/``, with an IPv6 literal in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSetup:
    """How gunicorn runs the Flask app: its worker settings and the callable it is given."""

    name: str
    options: dict[str, Any]
    wrap: Callable[[Flask], Any]


def _threads_over_asyncio(app: Flask) -> Any:
    # the executor starts its threads on the first request, so a forking master holds none
    return BufferedBridge(app, workers=THREADS_PER_WORKER)


SERVER_SETUPS = {
    setup.name: setup
    for setup in (
        # requests read on an event loop, the app run on a thread pool: the default (issue 16)
        # uvloop and gunicorn_h1c are dependencies, named here so a missing one fails at start instead of
        # silently serving on the slower pure-Python loop and parser
        ServerSetup("asgi", {"worker_class": "asgi", "asgi_lifespan": "off", "worker_connections": 1000,
                             "asgi_loop": "uvloop", "http_parser": "fast"}, _threads_over_asyncio),  # fmt: skip
        # round one's setup, kept for the benchmark: a thread per connection until its headers are read
        ServerSetup("gthread", {"worker_class": "gthread", "threads": THREADS_PER_WORKER}, lambda app: app),
    )
}
DEFAULT_SETUP = "asgi"


def gunicorn_options(host: str, port: int, workers: int, setup: str = DEFAULT_SETUP) -> dict[str, Any]:
    """The gunicorn settings ``feeds serve`` runs with (the benchmark uses the same)."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers),
        **SERVER_SETUPS[setup].options,
        "keepalive": 5,
        "timeout": WORKER_TIMEOUT_SECONDS,
        "graceful_timeout": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        # gunicorn ≥ 25 opens a control socket in ~/.gunicorn by default: two servers would share it
        "control_socket_disable": True,
    }


def _first_read(settings: Settings) -> tuple[int, str | None]:
    """Read every article once, in a child process: (feeds, last error), and the parse cache left warm.

    In a child so that the master's memory never holds them: read and forgotten there, ~100 MiB of
    its heap stayed in use at 100,000 articles (freed objects scattered among live ones), which each
    worker inherited.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def read() -> None:
        try:
            state = Live(settings).state
            send.send((len(state.catalog.feeds), state.last_error))
        except Exception as exc:  # noqa: BLE001 - shown by the master, which serves what the workers read
            send.send((0, f"{type(exc).__name__}: {exc}"))

    child = context.Process(target=read, name="feeds-first-read")
    child.start()
    send.close()
    try:
        return receive.recv()
    except EOFError:  # killed, or out of memory
        child.join()
        return 0, f"the first read of the articles stopped (exit status {child.exitcode})"
    finally:
        child.join()


def _start_worker(app: Flask) -> Callable[[Any], None]:
    """gunicorn's ``post_worker_init`` hook: each worker reads its own articles, then polls the folder for itself."""

    def start(worker: Any) -> None:
        live: Live = app.extensions["feeds"]
        # gunicorn counts a worker's timeout from its first heartbeat, which its request loop sends, so a
        # read longer than WORKER_TIMEOUT_SECONDS (a million articles: about a minute) is not taken for a
        # hung worker (tests/test_serve.py holds gunicorn to that)
        live.load_afresh()  # through the parse cache the master's read left warm
        # the server's start-up owns this: what was read lives as long as its snapshot, so the
        # cyclic collector need not walk it again and again
        live.freeze_loaded()
        live.ensure_polling(ready_within=FIRST_TURN_WAIT_SECONDS)  # before it serves

    return start


class GunicornServer(BaseApplication):
    """Runs an already built WSGI app under gunicorn, configured from a dict, not argv."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port; port 0 takes one the kernel picks (free by construction).

    Bound before the articles are read, so the URL ``feeds serve`` prints (and the feeds' links,
    without a base URL) name the real port, and the port cannot be taken meanwhile.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        listener.bind((host, port))
        listener.listen(2048)  # gunicorn's default backlog
    except BaseException:
        listener.close()
        raise
    return listener


def run_app(
    app: Flask, host: str, port: int, workers: int, setup: str = DEFAULT_SETUP, listener: socket.socket | None = None
) -> int:
    """Serve the built ``app`` under gunicorn with a :data:`SERVER_SETUPS` entry; gunicorn's exit status.

    ``listener``: a socket already listening (:func:`listen`) that gunicorn takes over instead of binding host:port.
    """
    options = {**gunicorn_options(host, port, workers, setup), "post_worker_init": _start_worker(app)}
    if listener is not None:
        options["bind"] = f"fd://{listener.fileno()}"  # gunicorn's own syntax for an inherited socket
    return run_gunicorn(SERVER_SETUPS[setup].wrap(app), options)


def run_gunicorn(app: Any, options: dict[str, Any]) -> int:
    """Serve until gunicorn stops (SIGINT / SIGTERM); gunicorn's exit status."""
    try:
        GunicornServer(app, options).run()
    except SystemExit as exc:  # the arbiter ends with sys.exit(status)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 2) -> int:
    """Serve the feeds on host:port until interrupted; the exit status.

    Port 0 serves on a free port the kernel picks; the first line printed names
    it. Without a configured base URL the feeds' absolute links use this
    server's own address, so what it serves works when opened from this machine.
    """
    try:
        listener = listen(host, port)
    except OSError as exc:
        print(f"feeds: error: cannot listen on {host} port {port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    url = local_url(host, listener.getsockname()[1])
    if settings.base_url is None:
        settings = dataclasses.replace(settings, base_url=url)
    app, feeds, error = master_app(settings)
    print(f"Serving {feeds} feeds on {url} — open it in a browser", flush=True)
    if settings.site_url != url:
        print(f"feeds: note: feed links use the base URL {settings.site_url}", file=sys.stderr)
    if error is not None:
        print(f"feeds: warning: {error}", file=sys.stderr)
    return run_app(app, host, listener.getsockname()[1], workers, listener=listener)


def master_app(settings: Settings) -> tuple[Flask, int, str | None]:
    """The app gunicorn's master hands its workers, with what a first read found: (app, feeds, last error).

    The app holds no article: each worker reads its own in :func:`_start_worker` (see the module's docstring).
    """
    feeds, error = _first_read(settings)
    app = create_app(settings, live=Live(settings, read=False))
    # What is left lives as long as the server (modules, the app): keep the cyclic GC from
    # walking it in every worker, which would write into its pages and un-share them.
    gc.collect()
    gc.freeze()
    return app, feeds, error
