"""``feeds serve``: the Flask app under gunicorn, a production WSGI server.

The app is built once in gunicorn's master (articles read once, hot pages
rendered once) and inherited by each forked worker; each worker then starts
its own reload poller from gunicorn's ``post_worker_init`` hook, so no thread
ever runs in the master. Threaded workers keep connections alive and are not
held up by one slow client.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from feeds.config import Settings
from feeds.web import create_app

THREADS_PER_WORKER = 4


def local_url(host: str, port: int) -> str:
    """``http://HOST:PORT/``, with an IPv6 literal in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """The gunicorn settings ``feeds serve`` runs with (the benchmark uses the same)."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers),
        "worker_class": "gthread",
        "threads": THREADS_PER_WORKER,
        "keepalive": 5,
        "graceful_timeout": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        # gunicorn ≥ 25 opens a control socket in ~/.gunicorn by default: two servers would share it
        "control_socket_disable": True,
        "post_worker_init": _start_polling,
    }


def _start_polling(worker: Any) -> None:
    """Each worker polls the articles folder for itself, starting as soon as it is forked."""
    live = getattr(worker.wsgi, "extensions", {}).get("feeds")
    if live is not None:
        live.ensure_polling()


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


def run_gunicorn(app: Any, options: dict[str, Any]) -> int:
    """Serve until gunicorn stops (SIGINT / SIGTERM); gunicorn's exit status."""
    try:
        GunicornServer(app, options).run()
    except SystemExit as exc:  # the arbiter ends with sys.exit(status)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, workers: int = 2) -> int:
    """Serve the feeds on host:port until interrupted; the exit status.

    Without a configured base URL the feeds' absolute links use this server's
    own address, so what it serves works when opened from this machine.
    """
    url = local_url(host, port)
    if settings.base_url is None:
        settings = dataclasses.replace(settings, base_url=url)
    app: Flask = create_app(settings)
    # Everything loaded so far lives as long as the server: keep the cyclic GC from rescanning
    # it in every worker, and keep its pages shared copy-on-write after the fork.
    gc.freeze()
    live = app.extensions["feeds"]
    state = live.state
    print(
        f"Serving {len(state.catalog.feeds)} feeds on {url} — open it in a browser",
        flush=True,
    )
    if settings.site_url != url:
        print(f"feeds: note: feed links use the base URL {settings.site_url}", file=sys.stderr)
    if state.last_error is not None:
        print(f"feeds: warning: {state.last_error}", file=sys.stderr)
    return run_gunicorn(app, gunicorn_options(host, port, workers))
