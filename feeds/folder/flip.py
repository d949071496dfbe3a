"""The flip: a finished generation folder swapped in as ``OUT_DIR`` in one step, the old site kept as the standby.

A new generation is built in the store, then exchanged with ``OUT_DIR``
by one ``renameat2(RENAME_EXCHANGE)``: both names swap folders in one atomic step, so a
reader opening ``OUT_DIR/x`` gets the old site's file or the new one's, never neither
and never a mix, and the folder that held the new generation now holds the old site —
the standby, with nothing to move. (An earlier layout made ``OUT_DIR`` a symlink flipped
by ``rename(2)``; a walker that does not follow a top symlink — ``find``, ``cp -r``,
``du`` — saw no site at all.) A file system that refuses the exchange (EINVAL, ENOSYS,
EOPNOTSUPP: some network file systems) gets two renames instead, ``OUT_DIR`` aside into
the store then the generation in: between them, for a moment, ``OUT_DIR`` does not
exist (a reader gets a 404, never a mix); a run killed there is undone by the next
(:func:`feeds.folder.outdir.restore_moved_aside`). A folder that cannot be renamed at all — a mount point
(EBUSY), a folder from a container image's lower overlayfs layer (EXDEV) — cannot be
an OUT_DIR: the export says so (:func:`feeds.folder.outdir.check_replaceable`, :func:`flip`) and changes nothing.

:func:`flip` is the one place a generation goes live (:mod:`feeds.folder.outdir` holds the layout it
works in, :mod:`feeds.folder.export` decides when).
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from pathlib import Path

from feeds.folder.generation import ExportWriteError

# OUT_DIR moved aside by the two-rename flip ("legacy-": what the symlink layout called it)
ASIDE_PREFIXES = ("aside-", "legacy-")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
_NO_EXCHANGE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)  # the file system (or kernel) cannot exchange


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing names atomically (``renameat2(RENAME_EXCHANGE)``); False when the file system cannot.

    Through ctypes because Python's ``os`` has no ``renameat2`` (glibc has it since 2.28).
    The one place this workaround lives.
    """
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # a C library without it (old glibc): as a file system that refuses
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def flip(out_dir: Path, generation: Path, store: Path, on_live: Callable[[], object] = lambda: None) -> None:
    """Make the folder ``generation`` (in ``store``) the live ``out_dir``; what was ``out_dir`` ends at ``generation``.

    One atomic exchange; where the file system refuses it, two renames with a moment
    without ``out_dir`` between them (see the module docstring), and a third that
    gives the old folder the generation's name, as the exchange would have.
    ``on_live`` is called as soon as ``generation`` is ``out_dir``: the flip is done then.
    An OSError means nothing changed (the old folder put back at once if the second
    rename failed); a third rename failing leaves the new export live and the old folder
    aside for the next run to keep as its standby (ExportWriteError says so).
    """
    if not os.path.lexists(out_dir):
        os.rename(generation, out_dir)  # the first export: nothing to swap with
        on_live()
        return
    if exchange(generation, out_dir):
        on_live()
        return
    aside = store / f"{ASIDE_PREFIXES[0]}{os.getpid()}"
    os.replace(out_dir, aside)
    try:
        os.replace(generation, out_dir)
    except OSError:
        try:
            os.replace(aside, out_dir)  # the old site back at once, not missing until the next run
        except OSError as exc:
            raise ExportWriteError(
                f"{out_dir}: cannot flip the new export in, nor put the previous one back ({exc.strerror or exc}); "
                f"it is at {aside} until the next export restores it"
            ) from None
        raise
    on_live()
    try:
        os.replace(aside, generation)
    except OSError as exc:
        raise ExportWriteError(
            f"{out_dir}: the new export is live; the previous one stays at {aside} until the next export "
            f"keeps it as the standby (cannot rename it: {exc.strerror or exc})"
        ) from None
