"""Where the caches and stores of this machine live when the config names no folder."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/feeds``, or ``~/.cache/feeds`` when that is unset or relative.

    The XDG Base Directory spec: a relative path in these variables is invalid and
    must be ignored (it would put the cache wherever the command happens to run).
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feeds"
