"""What one live reload costs a worker, in CPU seconds: the refresh, and the filter index built or derived.

Not a test: it prints figures to quote (issue 20: every change visible within
1 s at 100,000 articles, and the filter index rebuilt whole for every snapshot).
In one process, over a copy of a corpus (it edits and adds files): the live
app's first load, then for two edited and two new article files, the CPU time
of :meth:`feeds.server.live.Live.refresh` (the watcher's names patched into the scan,
as a worker does) and of the snapshot's filter index built whole and derived
from the previous snapshot's, side by side in the same run. CPU seconds of this
thread (getrusage), so other processes on the machine change them little; the
load average is printed with each figure.

    cp -r /tmp/feeds-bench/corpus-100000 /tmp/my-corpus
    python bench/bench_reload.py /tmp/my-corpus
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from corpus_changes import ADDED_PREFIX, add_one_article, remove_added_articles, touch_one_article
from measure import BASE_URL

from feeds.config import Settings
from feeds.index.filter_index import FilterIndex
from feeds.server.live import Live
from feeds.server.snapshot import scan_folder

T = TypeVar("T")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, work: Callable[[], T]) -> T:
    wall, cpu = time.perf_counter(), _cpu()
    result = work()
    print(
        f"{label}: {_cpu() - cpu:.3f} CPU-s ({time.perf_counter() - wall:.3f} s wall, "
        f"load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a corpus copy this run may edit (one file edited, two added)")
    args = parser.parse_args()
    settings = Settings(base_url=BASE_URL, articles_dir=args.corpus)
    live = timed("first load (parse cache)", lambda: Live(settings))
    live.folder_scan.replace(scan_folder(args.corpus), census=True)  # as under a watcher: names are patched
    state = live.state
    index = timed("filter index, first build (decodes every article's details)",
                  lambda: FilterIndex(state.articles, state.catalog, settings))  # fmt: skip
    first = sorted(p.name for p in args.corpus.iterdir() if not p.name.startswith("."))[0]
    try:
        for number, change in enumerate((touch_one_article, touch_one_article, add_one_article, add_one_article)):
            change(args.corpus, f"reload-{number}-{time.time_ns()}")
            names = [first, *(p.name for p in args.corpus.glob(f"{ADDED_PREFIX}*"))]
            timed(f"change {number} ({change.__name__}): Live.refresh", partial(live.refresh, names))
            made = (live.state.articles, live.state.catalog, settings)
            timed("  filter index built whole", partial(FilterIndex, *made))
            index = timed("  filter index derived", partial(FilterIndex, *made, previous=index))
    finally:
        remove_added_articles(args.corpus)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
