"""The WSGI entry point for any server: ``gunicorn wsgi:app``.

The only module with a module-level ``app``. Settings come from the config file
named by ``FEEDS_CONFIG`` (default ``config/feeds.yaml``). Importing this reads
the articles but starts no thread: each worker starts its own reload poller on
its first request, so this is safe to import in a pre-forking master
(``gunicorn --preload``).
"""

import os
from pathlib import Path

from feeds.config import load_settings
from feeds.server.web import create_app

_config = os.environ.get("FEEDS_CONFIG")
app = create_app(load_settings(Path(_config) if _config else None))
