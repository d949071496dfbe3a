"""How fast, and how small, the precompressed copies are: stdlib zlib against zlib-ng, per level.

Not a test: it prints figures. Give an export folder (``feeds export`` output);
every feed document in it (not the .gz copies; ``--archive``: archive pages only) is compressed with each
candidate, and the speed (MB/s of input) and size ratio (compressed / plain)
are printed. ``feeds.render.gzipped.gzip_rendered`` uses the choices these figures justify.

    python bench/gzip_levels.py /tmp/feeds-bench/export-10000 [--limit 400] [--archive]
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections.abc import Callable
from pathlib import Path

from zlib_ng import gzip_ng

CANDIDATES: dict[str, Callable[[bytes], bytes]] = {
    "zlib 9 (stdlib)": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
    "zlib 6 (stdlib)": lambda data: gzip.compress(data, compresslevel=6, mtime=0),
    "zlib-ng 9": lambda data: gzip_ng.compress(data, compresslevel=9, mtime=0),
    "zlib-ng 6": lambda data: gzip_ng.compress(data, compresslevel=6, mtime=0),
    "zlib-ng 2": lambda data: gzip_ng.compress(data, compresslevel=2, mtime=0),
    "zlib-ng 1": lambda data: gzip_ng.compress(data, compresslevel=1, mtime=0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", type=Path)
    parser.add_argument("--limit", type=int, default=400, help="documents to compress (default 400)")
    parser.add_argument("--archive", action="store_true", help="archive pages only (archive/...; level 2 in the site)")
    args = parser.parse_args()
    root = args.export_dir / "archive" if args.archive else args.export_dir
    names = sorted(p for p in root.rglob("*") if p.suffix in (".rss", ".atom", ".json") and p.is_file())
    documents = [p.read_bytes() for p in names[: args.limit]]
    total = sum(map(len, documents))
    if not total:
        raise SystemExit(f"no feed documents under {args.export_dir}")
    print(f"{len(documents)} documents, {total / 1e6:.1f} MB")
    print("| compressor | MB/s | size ratio |\n| --- | ---: | ---: |")
    for name, compress in CANDIDATES.items():
        started = time.perf_counter()
        compressed = [compress(document) for document in documents]
        seconds = time.perf_counter() - started
        assert all(gzip.decompress(c) == d for c, d in zip(compressed, documents, strict=True))
        print(f"| {name} | {total / seconds / 1e6:.0f} | {sum(map(len, compressed)) / total:.4f} |")


if __name__ == "__main__":
    main()
