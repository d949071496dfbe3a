"""The article files under a folder: which they are, in what order, and what keeps some out.

The walk lists every regular file below the articles folder in path order, as names relative to
it, with the directory entries that carry their stat (the load's identity check needs nothing
more). Dotfiles and dot-folders are not articles; symlinks count only while they stay inside the
folder; a folder that cannot be listed or lies too deep, and the files past :data:`MAX_FILES`, are
named as error-level problems, so no article vanishes from the feeds unreported. Reading one file
is :mod:`feeds.read.reader`'s, which also uses :func:`inside` to refuse a symlink out of the folder
and :func:`printable_path` to name a file in a message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from feeds.model import Problem, Severity

__all__ = ["MAX_FILES", "MAX_FOLDER_DEPTH", "find_article_files", "inside", "printable_path", "walk_article_files"]

# article files one folder may hold; the files past it (in path order) are left out with a named problem. It was
# 1,000,000, which a million-article archive reaches: its next new article (sorting last) was silently dropped
# and the live watcher gave up patching (issue 20). Ten million is ten times the largest folder measured.
MAX_FILES = 10_000_000
_NOT_REGULAR = "is not a regular file (a FIFO, socket, device or broken symlink); not read"
MAX_FOLDER_DEPTH = 32  # folders below the articles folder; a deeper one is a named problem (issue 16)


def walk_article_files(root: Path, unreadable: list[Problem] | None = None) -> Iterator[tuple[str, os.DirEntry]]:
    """(relative POSIX name, directory entry) of every regular file under ``root``, in sorted order.

    Dotfiles and dot-folders are skipped. Symlinks are followed only while they
    stay inside ``root``; each real folder is visited once, so a symlink cycle
    cannot loop. A symlink out of ``root`` is added to ``unreadable`` as a
    warning, an entry that is neither a folder nor a regular file (a FIFO, a
    broken or looping symlink) as an error. The entries carry their ``stat()`` (one system call, cached),
    which is all an identity check needs: no Path objects on the hot path.
    A folder that cannot be listed, or lies more than :data:`MAX_FOLDER_DEPTH`
    folders below ``root``, is added to ``unreadable`` as an error-level
    Problem, so its articles never vanish from the feeds unreported; so is the
    first file past :data:`MAX_FILES`, where the walk stops.

    The walk keeps its own stack (issue 16: a 1,000-deep folder raised
    RecursionError and killed the reload thread) and resolves only symlinks, so
    its cost grows with the number of folders, not with their depth squared.
    """
    real_root = os.path.realpath(root)
    count = 0
    seen: set[tuple[int, int]] = set()  # (device, inode) of every folder entered
    try:
        found = os.stat(root)
        seen.add((found.st_dev, found.st_ino))
    except OSError:
        pass  # _listing reports it
    top = _listing(str(root), "", unreadable)
    stack = [(top, "")] if top is not None else []
    while stack:
        entries, prefix = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_symlink() and not inside(os.path.realpath(entry.path), real_root):
                # a warning, not an error: the owner may have linked it on purpose, and cannot silence an error
                # but by removing the link; the run's exit status stays what the articles make it
                message = "is a symlink out of the articles folder; not read (articles are read only from inside it)"
                _report(unreadable, prefix + entry.name, message, Severity.WARNING)
                continue
            if entry.is_dir():
                found = entry.stat()
                if (found.st_dev, found.st_ino) in seen:
                    continue
                seen.add((found.st_dev, found.st_ino))
                name = f"{prefix}{entry.name}/"
                if len(stack) >= MAX_FOLDER_DEPTH:  # this folder would be MAX_FOLDER_DEPTH + 1 deep
                    message = f"folders nest more than {MAX_FOLDER_DEPTH} deep here; the articles below are left out"
                    _report(unreadable, name, message)
                    continue
                listing = _listing(entry.path, name, unreadable)
                if listing is not None:
                    stack.append((listing, name))
            elif entry.is_file():
                count += 1
                if count > MAX_FILES:
                    message = f"more than {MAX_FILES:,} article files; this one and those after it are left out"
                    _report(unreadable, prefix + entry.name, message)
                    return
                yield prefix + entry.name, entry
            else:  # as the reader says of one swapped in after the walk: named, so no article vanishes unreported
                _report(unreadable, prefix + entry.name, _NOT_REGULAR)
        except OSError as exc:  # a symlink loop (ELOOP), a name removed since the listing
            if not isinstance(exc, FileNotFoundError):
                _report(unreadable, prefix + entry.name, f"cannot be read ({exc.strerror or exc}); not read")
            continue


def _listing(folder: str, prefix: str, unreadable: list[Problem] | None) -> Iterator[os.DirEntry] | None:
    """The folder's entries sorted by name, or None (reported in ``unreadable``) when it cannot be listed."""
    try:
        with os.scandir(folder) as scan:
            return iter(sorted(scan, key=lambda e: e.name))
    except OSError as exc:
        message = f"cannot list this folder ({exc.strerror or exc}); its articles are left out"
        _report(unreadable, prefix, message)
        return None


def _report(unreadable: list[Problem] | None, prefix: str, message: str, severity: Severity = Severity.ERROR) -> None:
    """Name a folder or file of the walk that no article comes from (an error unless told otherwise)."""
    if unreadable is not None:
        unreadable.append(Problem(printable_path(prefix.rstrip("/") or "."), severity, message))


def inside(real_path: str, real_root: str) -> bool:
    """True when a resolved path is the resolved root or lies under it: the root's text and a separator
    open it, so whole path parts are compared (``/out-evil`` is not under ``/out``)."""
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def find_article_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, in sorted order (see :func:`walk_article_files`)."""
    for _, entry in walk_article_files(root):
        yield Path(entry.path)


def printable_path(name: str) -> str:
    """A path fit for a one-line message: undecodable bytes and controls made visible."""
    if name.isprintable():
        return name
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
