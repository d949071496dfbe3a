"""One pass of the reader over an articles folder, in the process ``bench_read.py`` measures.

Not a test, and not to be run by hand but by ``bench_read.py``, under the interpreter and
``PYTHONPATH`` of the checkout measured (so it imports nothing from ``bench/``). The pass is what
a load does with the files it has to parse (``feeds.read.parse_pool.read_batch``): ``read_article``
then ``result_record`` for each, in one process, under ``bulk_allocation`` (the collector paused,
as during a load). ftfy is imported at the first non-ASCII text, inside the pass, as a load
reading in one process does (``--import-ftfy``: before it, as a load does before forking
readers). What comes before the pass (imports, the settings, the walk of the folder) is the
start-up: ``--no-files`` does all of it and reads nothing, so that a run under callgrind
without files can be subtracted from one with them. It ends with ``os._exit`` as ``feeds.cli``
does, so no teardown of the records is counted.

    PYTHONPATH=CHECKOUT python bench/read_pass.py CORPUS [--config FILE] [--no-files] [--import-ftfy] [--digest]

Prints one line of JSON: files read, CPU seconds of the pass (``time.process_time``), whether ftfy
was imported, and with ``--digest`` a digest of the records (results and problems alike), to
tell two checkouts' readings apart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from feeds.config import Settings, load_settings
from feeds.read.load import bulk_allocation

try:  # the load's own pass; a checkout before 2026-12-06 has it as feeds.read.load._read_batch
    from feeds.read.parse_pool import read_batch
except ImportError:
    from feeds.read.load import _read_batch as read_batch  # type: ignore[attr-defined,no-redef]
try:
    from feeds.read.article_files import walk_article_files
except ImportError:  # a checkout before feeds.read.article_files
    from feeds.read.reader import walk_article_files  # type: ignore[attr-defined,no-redef]

try:
    from feeds.read.mojibake import prepare_repair
except ImportError:  # a checkout before feeds.read.mojibake
    from feeds.read.text import prepare_repair  # type: ignore[attr-defined,no-redef]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--config", type=Path, help="the reader's settings from this file (default: the defaults)")
    parser.add_argument("--no-files", action="store_true", help="the start-up only: walk the folder, read nothing")
    parser.add_argument("--import-ftfy", action="store_true", help="import ftfy before the pass, not in it")
    parser.add_argument("--digest", action="store_true", help="print a digest of the records (after the timing)")
    args = parser.parse_args()
    root = args.corpus.resolve()
    settings = load_settings(args.config) if args.config is not None else Settings()
    names = [name for name, _ in walk_article_files(root)]
    if args.no_files:
        names = []
    if args.import_ftfy:
        prepare_repair()
    with bulk_allocation():
        started = time.process_time()
        records = read_batch((root, names, settings))  # the load's own pass, not a copy of it
        seconds = time.process_time() - started
    figures: dict[str, object] = {"files": len(names), "seconds": seconds, "ftfy": "ftfy" in sys.modules}
    if args.digest:
        figures["digest"] = hashlib.sha256(repr(records).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    print(json.dumps(figures), flush=True)
    os._exit(0)  # no teardown of the records: what a load leaves to the run after it is not the pass's cost


if __name__ == "__main__":
    main()
