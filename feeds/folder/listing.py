"""What a folder holds, read from its directory entries: files, folders, and each file's [size, mtime_ns].

An export compares generations by these listings: :func:`walk` lists a folder tree without a stat
per file (a file's inode comes with its directory entry) and gives None when anything in it is
neither a plain file nor a folder, so a symlink is never followed into another folder; the rest
answer one question each about such a listing or one file. The walk takes and gives plain strings (see
:mod:`feeds.folder.generation`: pathlib's per-call overhead was a third of an incremental export's walk);
the one-question helpers take a :class:`~pathlib.Path`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Walked = tuple[dict[str, Any], list[str]]  # ({file: inode, or what walk's ``value`` gives}, folders), relative


def walk(root: str, value: Callable[[os.DirEntry], Any] = os.DirEntry.inode) -> Walked | None:
    """({file: inode}, folders) under ``root``, relative, from directory entries alone (no stat per file).

    ``value`` gives what each file maps to (:func:`entry_stat`: its [size, mtime_ns], one stat each).

    None when anything is neither a plain file nor a folder (a symlink, say): a
    standby with such a thing in it is not updated in place (a symlinked folder
    could lead its updates into the live generation), a fresh generation is made.
    """
    files: dict[str, int] = {}
    folders: list[str] = []
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(f"{root}/{relative}" if relative else root) as entries:
            for entry in entries:
                name = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_symlink():
                    return None
                if entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                    pending.append(name)
                elif entry.is_file(follow_symlinks=False):
                    files[name] = value(entry)
                else:
                    return None
    return files, folders


def walk_or_none(root: Path, value: Callable[[os.DirEntry], Any] = os.DirEntry.inode) -> Walked | None:
    """:func:`walk`, and None too when the folder cannot be listed (gone, or not readable)."""
    try:
        return walk(str(root), value)
    except OSError:
        return None


def entry_stat(entry: os.DirEntry) -> list:
    """A plain file's [size, mtime_ns] from its directory entry: what :func:`stat_of` gives for its path."""
    found = entry.stat(follow_symlinks=False)
    return [found.st_size, found.st_mtime_ns]


def stat_of(path: str | Path) -> list | None:
    """[size, mtime_ns] (a list: what JSON gives back), or None when the file is gone."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def list_files(root: Path) -> set[str]:
    """The names of the files under ``root``, relative and "/"-separated."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def holds_exactly(generation: Path, names: set[str]) -> bool:
    """True when ``generation`` holds exactly the files ``names`` (and no symlink)."""
    walked = walk_or_none(generation)
    return walked is not None and walked[0].keys() == names


def conflicts(walked: Walked, names: set[str]) -> bool:
    """True when a folder stands where one of ``names`` goes, or a file where a folder of theirs goes."""
    files, folders = walked
    parents: set[str] = set()  # every folder above a name (names share most: stop at one already seen)
    for name in names:
        folder = name.rpartition("/")[0]
        while folder and folder not in parents:
            parents.add(folder)
            folder = folder.rpartition("/")[0]
    return not names.isdisjoint(folders) or not parents.isdisjoint(files)
