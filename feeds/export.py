"""The static export: every site path written to a folder for a CDN, atomically.

``OUT_DIR`` is a symlink to one complete generation folder in ``.OUT_DIR.d/``.
A new generation is built beside the current one (unchanged files are hard
links to the previous generation, so their bytes, inode and mtime stay as they
were), then the symlink is flipped with one ``rename(2)``: a server reading
``OUT_DIR`` sees the old site or the new one, never a mix. An export killed at
any point leaves the previous generation in place; the next run removes what
the killed one left behind.
"""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from feeds.catalog import Catalog
from feeds.config import Settings
from feeds.site import render_path, site_paths

COMPRESSED_SUFFIX = ".gz"


class ExportError(Exception):
    """The export cannot be written where it was asked to go."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export did; ``files`` counts every file in the new generation."""

    out_dir: Path
    feeds: int
    files: int
    written: int
    unchanged: int
    removed: int


def gzip_bytes(data: bytes) -> bytes:
    """Byte-stable gzip: no file name and mtime 0 in the header, so reruns match."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def site_files(catalog: Catalog, settings: Settings) -> dict[str, bytes]:
    """Every file of an export, relative path → bytes, precompressed copies included."""
    files: dict[str, bytes] = {}
    for path in site_paths(catalog, settings):
        rendered = render_path(path, catalog, settings)
        if rendered is None:  # pragma: no cover - site_paths only lists renderable paths
            raise AssertionError(f"site path {path} has no renderer")
        files[path] = rendered.body
        files[path + COMPRESSED_SUFFIX] = gzip_bytes(rendered.body)
    return files


def _generations(out_dir: Path) -> Path:
    return out_dir.parent / f".{out_dir.name}.d"


def _safe_target(root: Path, relative: str) -> Path:
    """Join and check structurally that the result stays inside ``root`` (STYLE §15)."""
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()) or target == root.resolve():
        raise ExportError(f"refusing to write {relative!r}: it would leave the output folder")
    return target


def _current_generation(out_dir: Path) -> Path | None:
    if out_dir.is_symlink():
        target = (out_dir.parent / os.readlink(out_dir)).resolve()
        return target if target.is_dir() else None
    return None


def _clean_leftovers(store: Path, keep: Path | None) -> None:
    """Remove generations a killed or finished run left behind, except the live one."""
    if not store.is_dir():
        return
    for entry in store.iterdir():
        if keep is None or entry.resolve() != keep:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


def _list_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def export_site(
    catalog: Catalog,
    settings: Settings,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the site to ``out_dir`` (a symlink to the newest complete generation)."""
    out_dir = out_dir.absolute()
    if out_dir.exists() and not out_dir.is_symlink() and not out_dir.is_dir():
        raise ExportError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and not out_dir.is_symlink() and any(out_dir.iterdir()):
        legacy = out_dir
    else:
        legacy = None
    store = _generations(out_dir)
    store.mkdir(parents=True, exist_ok=True)
    previous = _current_generation(out_dir) or legacy
    _clean_leftovers(store, previous if previous and previous.parent == store else None)

    number = 1 + max((int(p.name[1:]) for p in store.glob("g[0-9]*") if p.name[1:].isdigit()), default=0)
    generation = store / f"g{number:06d}"
    generation.mkdir()
    files = site_files(catalog, settings)
    old_files = _list_files(previous) if previous else set()
    written = unchanged = 0
    for index, (relative, data) in enumerate(sorted(files.items()), start=1):
        target = _safe_target(generation, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        old = previous / relative if previous and relative in old_files else None
        if old is not None and old.stat().st_size == len(data) and old.read_bytes() == data:
            os.link(old, target)
            unchanged += 1
        else:
            temporary = target.with_name(target.name + ".part")
            temporary.write_bytes(data)
            os.replace(temporary, target)
            written += 1
        if progress is not None:
            progress(index, len(files))
    _flip(out_dir, generation, legacy)
    if previous is not None and previous != legacy:
        shutil.rmtree(previous, ignore_errors=True)
    removed = len(old_files - set(files))
    return ExportSummary(out_dir, len(catalog.feeds), len(files), written, unchanged, removed)


def _flip(out_dir: Path, generation: Path, legacy: Path | None) -> None:
    """Point ``out_dir`` at ``generation`` with one atomic rename of a symlink."""
    link = out_dir.parent / f".{out_dir.name}.link-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(generation, out_dir.parent))
    if legacy is not None or (out_dir.is_dir() and not out_dir.is_symlink()):
        # a plain folder from before cannot be swapped atomically: move it aside first
        aside = generation.parent / f"legacy-{os.getpid()}"
        os.replace(out_dir, aside)
        os.replace(link, out_dir)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.replace(link, out_dir)
