"""Publish RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds from a folder of article files."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
from importlib.machinery import PathFinder
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
    "read.file_text",
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
    listings: Listings = {}  # each sys.path folder listed once for all the libraries, not once for each
    versions = (f"\n{name} {installed_version(name, listings)}" for name in _SHAPING_LIBRARIES)
    return "".join([sys.version, *versions]).encode()


# sys.path folder -> its .dist-info and .egg-info entries by normalised name; None: it does not exist;
# False: it exists but is no folder to list (a zip)
Listings = dict[str, "dict[str, list[str]] | None | bool"]


def installed_version(name: str, listings: Listings | None = None) -> str:
    """``importlib.metadata.version(name)``, or ``"absent"`` when no distribution of that name is installed.

    Importing importlib.metadata costs ~30 ms (it imports email, zipfile and csv, which nothing else of
    an export needs), a tenth of a warm export at 1,000 articles (issue 20). :func:`version_from_dist_info`
    answers the common case, a wheel's ``.dist-info`` folder, without it; anything else asks the library.
    ``listings``: the folders of ``sys.path`` listed by earlier calls (filled here), when several names are asked.
    """
    version = version_from_dist_info(name, listings)
    if version is not None:
        return version
    from importlib import metadata  # the rare case: an egg, a zip on sys.path, an odd METADATA

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def version_from_dist_info(name: str, listings: Listings | None = None) -> str | None:
    """The version importlib.metadata gives for ``name`` (``"absent"`` when it finds none), read as it finds it,
    or None, "ask the library", for any case but the plain one.

    The plain case (importlib.metadata's ``MetadataPathFinder`` in Python 3.11-3.13): PathFinder is the only
    finder of distributions; the first folder on ``sys.path`` holding one of the name (PEP 503-normalised,
    dashes as underscores) holds exactly one, a ``NAME-VERSION.dist-info`` folder, whose ``METADATA``'s
    header block has a ``Version: VALUE`` line, VALUE without white space; every ``sys.path`` entry before it
    is a folder or missing. tests/test_fingerprint.py holds it to importlib.metadata for every installed
    distribution under several spellings and for made-up folders of each other kind.
    """
    if [finder for finder in sys.meta_path if hasattr(finder, "find_distributions")] != [PathFinder]:
        return None
    wanted, listings = _normalized(name), {} if listings is None else listings
    for entry in sys.path:
        root = entry or "."
        if root not in listings:
            listings[root] = _metadata_folders(root)
        by_name = listings[root]
        if by_name is False:
            return None  # a zip or an unreadable folder: the library looks in its own way
        if by_name is None:
            continue
        if root.lower().endswith(".egg"):
            return None
        found = by_name.get(wanted)
        if not found:
            continue
        if len(found) != 1 or not found[0].lower().endswith(".dist-info"):
            return None
        return _metadata_version(os.path.join(root, found[0], "METADATA"))
    return "absent"


def _metadata_folders(root: str) -> dict[str, list[str]] | None | bool:
    """``root``'s ``.dist-info`` and ``.egg-info`` entries by the normalised name importlib.metadata files them
    under (``Lookup``); None when ``root`` does not exist, False when it exists but cannot be listed."""
    try:
        children = os.listdir(root)
    except OSError:
        return False if os.path.exists(root) else None
    by_name: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            by_name.setdefault(_normalized(low.rpartition(".")[0].partition("-")[0]), []).append(child)
    return by_name


def _normalized(name: str) -> str:
    """importlib.metadata's ``Prepared.normalize``: PEP 503's normalisation, dashes as underscores."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _metadata_version(path: str) -> str | None:
    """The ``Version`` header of a METADATA file when plainly written (else None: ask the library)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except (OSError, UnicodeError):
        return None
    for index, line in enumerate(lines):
        if not line or (":" not in line and line[0] not in " \t"):
            return None  # the header block ended without a Version
        if line.startswith("Version: "):
            value = line[len("Version: ") :]
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if not value or value.strip() != value or " " in value or "\t" in value or following[:1] in (" ", "\t"):
                return None
            return value
    return None


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
