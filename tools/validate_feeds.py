#!/usr/bin/env python3
"""Export a corpus and run the W3C feed validator on every RSS and Atom feed of it.

A developer script, not a test: CI has no copy of the validator. It exports
ARTICLES to a temporary folder with ``python -m feeds.cli export`` (so it checks
exactly the bytes a CDN would serve), validates every ``.rss`` and ``.atom`` file
with ``w3c_validate.sh --all --base <its public URL>`` (2 processes in parallel
by default: the validator is single-threaded and slow), and prints how often
each error and warning type occurred, in how many feeds, and how many feeds
were validated. Exit status 1 when anything was found, so it can gate a
release by hand.

    python tools/validate_feeds.py ../shared/corpus/real
    python tools/validate_feeds.py samples/articles --include-unpublished
    python tools/validate_feeds.py DIR --keep /tmp/out --jobs 2 --show 3
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# ../shared beside the project root, wherever the project is cloned (as the tests and benchmarks find it)
VALIDATOR = PROJECT.parent / "shared" / "tools" / "w3c_validate.sh"
BASE_URL = "https://feeds.example.org/"
_EVENT = re.compile(r"^(ERROR|WARNING) (.*) \[(\w+)\]$")


def export(articles: Path, out: Path, base_url: str, config: Path | None) -> None:
    """Run the real CLI, as an operator would; raise when it cannot export at all."""
    command = [sys.executable, "-m", "feeds.cli", "export", "--articles", str(articles)]
    if config is not None:
        command += ["--config", str(config)]
    command += ["--base-url", base_url, str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 1 = exported, but some input files had errors
        sys.exit(f"export failed ({result.returncode}):\n{result.stderr}")
    print(result.stdout.strip())


def validate(feed: Path, url: str, validator: Path) -> tuple[str, list[tuple[str, str, str]], str]:
    """(url, [(ERROR|WARNING, message type, text)], raw output) for one feed file."""
    result = subprocess.run(
        [str(validator), "--all", "--base", url, str(feed)], capture_output=True, text=True, check=False
    )
    if result.returncode not in (0, 1):
        return url, [("ERROR", "ValidatorFailed", result.stderr.strip()[-300:])], result.stdout
    events = []
    for line in result.stdout.splitlines():
        match = _EVENT.match(line.strip())
        if match:
            events.append((match.group(1), match.group(3), match.group(2)))
    if "Summary:" not in result.stdout:
        events.append(("ERROR", "NoSummary", result.stdout[-300:]))
    return url, events, result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("articles", type=Path, help="articles folder to export")
    parser.add_argument("--base-url", default=BASE_URL)
    parser.add_argument("--config", type=Path, help="config file passed to the export")
    parser.add_argument(
        "--include-unpublished",
        action="store_true",
        help="export with include_unpublished: true (the samples hold one unpublished seed)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="validator processes (default 2)")
    parser.add_argument("--keep", type=Path, help="export here instead of a temporary folder")
    parser.add_argument("--show", type=int, default=2, help="example messages shown per type")
    parser.add_argument("--validator", type=Path, default=VALIDATOR)
    args = parser.parse_args(argv)
    if not args.validator.is_file():
        parser.error(f"{args.validator} is absent: put ../shared beside the project, or give --validator")
    base_url = args.base_url.rstrip("/") + "/"

    with tempfile.TemporaryDirectory(prefix="validate-feeds-") as scratch:
        config = args.config
        if args.include_unpublished:
            if config is not None:
                parser.error("--include-unpublished writes its own config; drop --config")
            config = Path(scratch) / "feeds.yaml"
            config.write_text("include_unpublished: true\n", encoding="utf-8")
        out = args.keep or Path(scratch) / "site"
        export(args.articles, out, base_url, config)
        feeds = sorted(
            p for p in out.rglob("*") if p.is_file() and p.suffix in (".rss", ".atom")
        )
        jobs = []
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for feed in feeds:
                url = base_url + feed.relative_to(out).as_posix()
                jobs.append(pool.submit(validate, feed, url, args.validator))
            results = [job.result() for job in jobs]

    occurrences: Counter = Counter()
    feeds_with: dict[tuple[str, str], set[str]] = defaultdict(set)
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    for url, events, _ in results:
        for level, name, text in events:
            occurrences[(level, name)] += 1
            feeds_with[(level, name)].add(url)
            if len(examples[(level, name)]) < args.show:
                examples[(level, name)].append(f"{url}: {text}")
    per_format = Counter(Path(url).suffix for url, _, _ in results)
    errors = sum(n for (level, _), n in occurrences.items() if level == "ERROR")
    warnings = sum(n for (level, _), n in occurrences.items() if level == "WARNING")
    for (level, name), count in sorted(occurrences.items()):
        print(f"{level:7} {name}: {count} occurrence(s) in {len(feeds_with[(level, name)])} feed(s)")
        for example in examples[(level, name)]:
            print(f"          e.g. {example}")
    formats = ", ".join(f"{n} {suffix[1:]}" for suffix, n in sorted(per_format.items()))
    clean = sum(1 for _, events, _ in results if not events)
    print(
        f"{len(results)} feeds validated ({formats}); {clean} clean; "
        f"{errors} error(s), {warnings} warning(s)"
    )
    return 1 if errors or warnings or not results else 0


if __name__ == "__main__":
    sys.exit(main())
