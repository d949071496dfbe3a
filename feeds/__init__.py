"""Publish RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds from a folder of article files."""

from __future__ import annotations

import functools
import hashlib
import sys
from importlib import metadata
from pathlib import Path

__version__ = "0.1.0"

# Libraries whose behaviour shapes what we read or write (their versions are part of the fingerprint).
_SHAPING_LIBRARIES = (
    "PyYAML", "ftfy", "python-dateutil", "feedgen", "lxml", "python-slugify", "text-unidecode", "zlib-ng"
)


@functools.cache
def code_fingerprint() -> str:
    """A digest of this package's own files and the versions of the libraries and Python it runs on.

    Caches of derived data (the parse cache, the export's render signatures) are
    keyed by it, so output made by other code is never reused: any change to any
    module, bundled file or library version gives a new fingerprint.
    """
    digest = hashlib.sha256(sys.version.encode())
    for name in _SHAPING_LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"\n{name} {version}".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(b"\n" + path.relative_to(package).as_posix().encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()
