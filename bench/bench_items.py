"""CPU of the XML item pass: every article's RSS and Atom item, spliced from templates against feedgen.

    python bench/bench_items.py /tmp/feeds-bench/corpus-10000 [--rounds 3]

Reads the articles folder once (its own parse cache under /tmp), builds the catalog, then per
round times (process CPU seconds) each article's two items built by feedgen and lxml
(``reference_item``) and by ``xml_item``'s path (templates spliced, feedgen where it bails), with
every memo cleared first, as a cold export's item pass starts; then spliced again with the
templates kept (what a process pays per item once it has seen the shapes). Checks the two give equal bytes and
prints how many items bailed to feedgen, the number of shapes, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.config import Settings  # noqa: E402
from feeds.index.catalog import build_catalog  # noqa: E402
from feeds.read.reader import read_folder  # noqa: E402
from feeds.render import item_template, writer  # noqa: E402
from feeds.render.atom import ATOM_WRITER  # noqa: E402
from feeds.render.rss import RSS_WRITER, provider_feed_url  # noqa: E402
from feeds.render.xmlfeed import reference_item  # noqa: E402


def _clear(templates: bool = True) -> None:
    if templates:
        item_template._template.cache_clear()
    writer.content_html.cache_clear()
    writer._url_image_type.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("articles", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(base_url="https://feeds.example.org/")
    articles = read_folder(args.articles, settings).articles
    catalog = build_catalog(articles, settings)
    jobs = [(RSS_WRITER, a, provider_feed_url(catalog, settings, a)) for a in articles]
    jobs += [(ATOM_WRITER, a, None) for a in articles]

    def reference() -> list[bytes]:
        return [reference_item(w, a, s, a.published_at) for w, a, s in jobs]

    def spliced() -> list[bytes]:
        out = []
        for w, a, s in jobs:
            fast = w.splicer.item(a, s, a.published_at)
            out.append(fast if fast is not None else reference_item(w, a, s, a.published_at))
        return out

    figures: dict[str, list[float]] = {"feedgen": [], "spliced": [], "spliced, shapes known": []}
    results = {}
    for _ in range(args.rounds):
        for name, run in (("feedgen", reference), ("spliced", spliced), ("spliced, shapes known", spliced)):
            _clear(templates=name != "spliced, shapes known")
            start = time.process_time()
            results[name] = run()
            figures[name].append(time.process_time() - start)
    assert results["feedgen"] == results["spliced"] == results["spliced, shapes known"], "spliced items differ"
    bails = sum(w.splicer.item(a, s, a.published_at) is None for w, a, s in jobs)
    shapes = item_template._template.cache_info().currsize
    for name, times in figures.items():
        print(f"{name:21} {statistics.median(times):.3f} s CPU (median of {args.rounds}: "
              f"{', '.join(f'{t:.3f}' for t in times)}) for {len(jobs)} items")  # fmt: skip
    print(f"bailed to feedgen: {bails} of {len(jobs)}; shapes: {shapes}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
