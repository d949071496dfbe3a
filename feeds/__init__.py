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
    "PyYAML",
    "ftfy",
    "python-dateutil",
    "feedgen",
    "lxml",
    "python-slugify",
    "text-unidecode",
    "zlib-ng",
)


# The modules whose code decides what reading one article file gives: the reader and what it calls.
# The parse cache is keyed by their source (:func:`reader_fingerprint`), not by every module's, so an
# edit elsewhere keeps it warm. A module the reader starts importing belongs here (a test checks it).
READER_MODULES = (
    "read.reader",
    "read.article_files",
    "read.article_fields",
    "read.clean_shapes",
    "read.file_problems",
    "read.text",
    "read.mojibake",
    "read.dates",
    "read.safe_yaml",
    "read.yaml_problems",
    "read.front_matter",
    "read.yaml_scalars",
    "model",
)


@functools.cache
def _libraries_text() -> bytes:
    """Python's version and each shaping library's, as both fingerprints start: looked up once a process
    (each lookup reads a distribution's metadata from disk; a cold export takes both fingerprints)."""
    parts = [sys.version]
    for name in _SHAPING_LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        parts.append(f"\n{name} {version}")
    return "".join(parts).encode()


def _libraries_digest() -> hashlib._Hash:
    return hashlib.sha256(_libraries_text())


@functools.cache
def reader_fingerprint() -> str:
    """A digest of the :data:`READER_MODULES`' source and the versions of the libraries and Python.

    The parse cache is keyed by it (with the reader's settings): a parse made by other
    reader code is never reused, and a change to any other module keeps the cache.
    """
    digest = _libraries_digest()
    package = Path(__file__).resolve().parent
    for module in READER_MODULES:
        digest.update(f"\n{module}\n".encode() + (package / f"{module.replace('.', '/')}.py").read_bytes())
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """A digest of this package's own files and the versions of the libraries and Python it runs on.

    What the export derives from the whole build (its render signatures, the fingerprint of
    an unchanged run) is keyed by it, so output made by other code is never reused: any
    change to any module, bundled file or library version gives a new fingerprint.
    """
    digest = _libraries_digest()
    package = Path(__file__).resolve().parent
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(b"\n" + path.relative_to(package).as_posix().encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()
