"""Publish benchmark: ``feeds publish`` against ``hugo deploy``, same export, same local S3 API.

Not a test: it prints one table to quote. For each corpus size it generates a
synthetic corpus with ``../shared/tools/gen_corpus.py`` (cached in the work
folder), exports it twice (the corpus, then the corpus plus one new article),
and then measures, each round on a fresh moto server (``moto_server``, whose log
has one line per request, which is how requests are counted):

- first publish: the first export to an empty bucket;
- one change: then the second export (one new article) to the same bucket.

Ours twice: ``feeds publish`` as a fresh process (interpreter, boto3 and its S3
model loaded every time), and one resident ``Publisher`` doing both publishes,
as ``feeds export --watch --publish`` does (timed around ``publish()``).

``feeds publish`` and ``hugo deploy`` (Debian's hugo, a site whose ``public/`` is a
hard-linked copy of the export, deployment target pointed at moto as
../shared/DESIGN.md says) run as fresh processes; their wall time is measured,
startup included. The two tools alternate (feeds first in odd rounds, hugo first
in even ones) and the table quotes medians; the load average is printed with it.
The machine is shared: quote ratios measured side by side, not absolute seconds.
A second table gives the CPU seconds behind them (the tool's process, from
``getrusage``, and moto's, from ``/proc``): moto serves one request at a time
under the GIL and closes every connection, so its CPU per request bounds how
fast any uploader can go.

    python bench/bench_publish.py                         # 10k, 3 rounds
    python bench/bench_publish.py --sizes 10000 100000    # and 100k (minutes; GBs in moto's memory)
    python bench/bench_publish.py --work /tmp/publish-bench --rounds 5
    python bench/bench_publish.py --sizes 100000 --rounds 1 --no-resident
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
BIN = Path(sys.executable).parent
BASE_URL = "https://feeds.example.org/"
NEW_ARTICLE = """---
title: "Benchmark: one new article"
excerpt: "One article added between two exports."
publishedDateTime: 2099-01-01T00:00:00Z
originalUrl: "https://example.org/bench-new-article"
type: article
provider:
  name: Bench Wire
  domain: example.org
topics:
  - AI
---
"""
_LOGGED = re.compile(r'"(GET|PUT|POST|DELETE|HEAD) \S+ HTTP/1\.[01]')


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def prepare(work: Path, size: int) -> tuple[Path, Path]:
    """(first export, export with one new article): generated and exported once, reused by later runs."""
    corpus = work / f"corpus-{size}"
    if not corpus.is_dir():
        run([sys.executable, str(SHARED / "tools" / "gen_corpus.py"), str(corpus), "--count", str(size)])
    first, second = work / f"export-{size}" / "first", work / f"export-{size}" / "second"
    if not (first / "_manifest.json").exists():
        run([str(BIN / "feeds"), "export", "--no-cache", "--articles", str(corpus), "--base-url", BASE_URL, str(first)])
    if not (second / "_manifest.json").exists():
        changed = work / f"corpus-{size}-plus-one"
        if not changed.is_dir():
            shutil.copytree(corpus, changed, copy_function=os.link)
            (changed / "zz-bench-new-article.md").write_text(NEW_ARTICLE, encoding="utf-8")
        run([str(BIN / "feeds"), "export", "--no-cache", "--articles", str(changed), "--base-url", BASE_URL,
             str(second)])  # fmt: skip
    return first, second


class Moto:
    """A fresh moto server for one measurement pair (first publish, one change)."""

    def __init__(self, log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        self.bucket = f"bench-{uuid.uuid4().hex[:10]}"
        import boto3

        boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1").client(
            "s3", endpoint_url=self.url
        ).create_bucket(Bucket=self.bucket)

    def cpu(self) -> float:
        """moto's CPU seconds so far (user + system; Linux's /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def requests(self) -> int:
        time.sleep(0.3)  # moto logs a request after answering it
        return len(_LOGGED.findall(self.log.read_text(encoding="utf-8", errors="replace")))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)  # fmt: skip
    return env


def timed(command: list[str], moto: Moto, **kwargs) -> tuple[float, int, float, float]:
    """(seconds, requests, the command's CPU seconds, moto's CPU seconds) of one command against ``moto``."""
    before = moto.requests()
    children, server = resource.getrusage(resource.RUSAGE_CHILDREN), moto.cpu()
    started = time.perf_counter()
    run(command, env=environment(), **kwargs)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return seconds, moto.requests() - before, cpu, moto.cpu() - server


def feeds_pair(first: Path, second: Path, work: Path) -> list[tuple[float, int]]:
    moto = Moto(work / "moto-feeds.log")
    try:
        target = f"s3://{moto.bucket}/"
        command = [str(BIN / "feeds"), "publish", "--endpoint-url", moto.url]
        return [timed([*command, str(first), target], moto), timed([*command, str(second), target], moto)]
    finally:
        moto.stop()


RESIDENT = """
import sys, time
from pathlib import Path
from feeds.config import PublishSettings
from feeds.bucket.publish import Publisher, PublishOptions
publisher = Publisher(PublishOptions(PublishSettings(target=sys.argv[1], endpoint_url=sys.argv[2])))
for out in sys.argv[3:]:
    started = time.perf_counter()
    summary = publisher.publish(Path(out))
    print(time.perf_counter() - started, summary.requests, flush=True)
"""


def resident_pair(first: Path, second: Path, work: Path) -> list[tuple[float, int]]:
    """The same two publishes by one live Publisher, as ``feeds export --watch --publish`` runs them."""
    moto = Moto(work / "moto-resident.log")
    try:
        result = run([sys.executable, "-c", RESIDENT, f"s3://{moto.bucket}/", moto.url, str(first), str(second)],
                     env=environment())  # fmt: skip
        lines = [line.split() for line in result.stdout.splitlines()]
        return [(float(seconds), int(requests), math.nan, math.nan) for seconds, requests in lines]  # CPU: not apart
    finally:
        moto.stop()


def hugo_site(site: Path, moto: Moto, export: Path) -> None:
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    url = f"s3://{moto.bucket}?endpoint={moto.url}&s3ForcePathStyle=true&region=us-east-1&disableSSL=true"
    (site / "config.yaml").write_text(
        f'baseURL: {BASE_URL}\ndisableKinds: [home, section, taxonomy, term, page, sitemap, robotsTXT, "404", RSS]\n'
        f'deployment:\n  targets:\n    - name: bench\n      URL: "{url}"\n',
        encoding="utf-8",
    )
    # public/ is the export, hard-linked (hugo deploy walks public/ itself)
    shutil.copytree(export, site / "public", copy_function=os.link)


def hugo_pair(first: Path, second: Path, work: Path) -> list[tuple[float, int]]:
    moto = Moto(work / "moto-hugo.log")
    site = work / "hugo-site"
    try:
        command = ["hugo", "deploy", "--target", "bench", "-s", str(site)]
        hugo_site(site, moto, first)
        first_figures = timed(command, moto)
        hugo_site(site, moto, second)
        return [first_figures, timed(command, moto)]
    finally:
        moto.stop()


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-publish-bench"))
    parser.add_argument("--no-resident", action="store_true", help="leave out the resident Publisher (time)")
    args = parser.parse_args()
    if shutil.which("hugo") is None:
        raise SystemExit("hugo is not installed (Debian package hugo)")
    args.work.mkdir(parents=True, exist_ok=True)
    revision = run(["git", "-C", str(PROJECT), "rev-parse", "--short", "HEAD"]).stdout.strip()
    options = " --no-resident" if args.no_resident else ""
    sizes = " ".join(map(str, args.sizes))
    print(f"# bench_publish.py --sizes {sizes} --rounds {args.rounds}{options}  (revision {revision})")
    rows, cpu_rows = [], []
    for size in args.sizes:
        first, second = prepare(args.work, size)
        files = sum(1 for line in (first / "_manifest.json").read_text().splitlines() if '"path"' in line)
        pairs = {"feeds publish": feeds_pair, "hugo": hugo_pair, "resident": resident_pair}
        if args.no_resident:
            del pairs["resident"]
        figures: dict[str, list[list[tuple[float, int]]]] = {tool: [] for tool in pairs}
        for round_number in range(args.rounds):
            order = list(pairs) if round_number % 2 == 0 else list(reversed(pairs))
            for tool in order:
                figures[tool].append(pairs[tool](first, second, args.work))
            shown = ", ".join(f"{tool} {[(round(s, 2), r) for s, r, *_ in figures[tool][-1]]}" for tool in pairs)
            print(f"  {size}: round {round_number + 1}: {shown}; load average {load_average()}", flush=True)
        for step, name in enumerate(("first publish", "one change")):
            theirs = statistics.median(r[step][0] for r in figures["hugo"])
            their_requests = statistics.median(r[step][1] for r in figures["hugo"])
            for tool, label in (("feeds publish", "feeds publish"), ("resident", "export --watch --publish")):
                if tool not in pairs:
                    continue
                ours = statistics.median(r[step][0] for r in figures[tool])
                our_requests = statistics.median(r[step][1] for r in figures[tool])
                ratio = ours / theirs
                rows.append((size, files, f"{name}: {label}", ours, our_requests, theirs, their_requests, ratio))
            cpu_rows.append((size, name, *(statistics.median(r[step][n] for r in figures[tool])
                                           for tool in ("feeds publish", "hugo") for n in (2, 3, 1))))  # fmt: skip
    print(f"\nload average {load_average()} (2 cores, shared); medians of {args.rounds} alternating rounds\n")
    print("| articles | served files | publish | feeds s | feeds requests | hugo deploy s | hugo requests | ratio |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for size, files, name, ours, our_requests, theirs, their_requests, ratio in rows:
        print(f"| {size:,} | {files:,} | {name} | {ours:.2f} | {our_requests:,.0f} | {theirs:.2f} | "
              f"{their_requests:,.0f} | {ratio:.2f}× |")  # fmt: skip
    print("\n| articles | publish | feeds CPU s | moto CPU s (ms a request) | hugo CPU s | moto CPU s (ms a request) |")
    print("|---:|---|---:|---:|---:|---:|")
    for size, name, cpu, server, requests, their_cpu, their_server, their_requests in cpu_rows:
        print(f"| {size:,} | {name} | {cpu:.2f} | {server:.2f} ({server / requests * 1000:.1f}) | {their_cpu:.2f} | "
              f"{their_server:.2f} ({their_server / their_requests * 1000:.1f}) |")  # fmt: skip


if __name__ == "__main__":
    main()
