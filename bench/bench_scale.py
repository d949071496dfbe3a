"""Scale benchmark: our export (cold, warm, one change) and the live app's reload, against Hugo.

Not a test: it prints a table of figures to quote. For each corpus size it
generates a synthetic corpus with ``../shared/tools/gen_corpus.py`` (cached in
the work folder), then measures, each in a fresh process:

- cold export: empty parse cache, empty output folder;
- warm export: cache present, nothing changed;
- one change: one article file rewritten, export again (time to updated output);
- live reload: a server on 127.0.0.1 sees the same change (time until the new title is served);
- peak memory (max RSS) of each export;
- Hugo (Debian ``hugo``), when installed: ``make_site.py --provider`` then ``hugo --quiet -D -s SITE``.

    python bench/bench_scale.py                 # 1k and 10k
    python bench/bench_scale.py --sizes 1000 10000 100000
    python bench/bench_scale.py --work /tmp/feeds-bench --no-live
    python bench/bench_scale.py --no-archives   # like Hugo: no RFC 5005 archive pages

Exports use a config file written into the work folder (base URL, and
``archive_page_size: 0`` with --no-archives); everything else is the default.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
GEN_CORPUS = SHARED / "tools" / "gen_corpus.py"
HUGO_SITE_MAKER = SHARED / "bench" / "hugo" / "make_site.py"
BASE_URL = "https://feeds.example.org/"


def run_with_rss(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command to completion; return (seconds, peak RSS in MiB of the largest process in its tree)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"command failed ({code}): {' '.join(command)}\n{stderr.decode()[-2000:]}")
    # ru_maxrss is KiB on Linux; wait4 reports the max over the child and its waited-for children
    return elapsed, usage.ru_maxrss / 1024


def ensure_corpus(work: Path, size: int) -> Path:
    corpus = work / f"corpus-{size}"
    if not (corpus / ".complete").exists():
        shutil.rmtree(corpus, ignore_errors=True)
        subprocess.run([sys.executable, str(GEN_CORPUS), str(corpus), "--count", str(size)], check=True,
                       stdout=subprocess.DEVNULL)
        (corpus / ".complete").write_text("ok\n")
    return corpus


def touch_one_article(corpus: Path, marker: str) -> str:
    """Rewrite the title of one article (the first by name); return the new title."""
    first = sorted(p for p in corpus.iterdir() if not p.name.startswith("."))[0]
    text = first.read_text(encoding="utf-8")
    start = text.index("\ntitle: ") + len("\ntitle: ")
    end = text.index("\n", start)
    title = f"Benchmark change {marker}"
    first.write_text(text[:start] + f'"{title}"' + text[end:], encoding="utf-8")
    # the changed article must be in the all feed: make it the newest
    text = first.read_text(encoding="utf-8")
    start = text.index("\npublishedDateTime: ") + len("\npublishedDateTime: ")
    end = text.index("\n", start)
    first.write_text(text[:start] + "2099-01-01T00:00:00Z" + text[end:], encoding="utf-8")
    return title


def feeds_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "feeds.cli", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_live_reload(corpus: Path, env: dict[str, str], work: Path, archives: bool) -> float | None:
    """Seconds from one file change until the live app serves it (reload_interval 0.5 s)."""
    config = work / "bench-live.yaml"
    extra = "" if archives else "archive_page_size: 0\n"
    config.write_text(f"base_url: {BASE_URL}\nreload_interval: 0.5\n{extra}", encoding="utf-8")
    port = free_port()
    server = subprocess.Popen(
        feeds_command("serve", "--config", str(config), "--articles", str(corpus), "--port", str(port),
                      "--workers", "1"),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/all.rss"
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            return None
        urllib.request.urlopen(url, timeout=60).read()
        title = touch_one_article(corpus, f"live-{time.time_ns()}")
        changed = time.perf_counter()
        while time.perf_counter() - changed < 120:
            with urllib.request.urlopen(url, timeout=60) as response:
                if title.encode() in response.read():
                    return time.perf_counter() - changed
            time.sleep(0.05)
        return None
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def measure_hugo(corpus: Path, work: Path) -> tuple[float, float] | None:
    hugo = shutil.which("hugo")
    if hugo is None:
        return None
    site = work / f"hugo-site-{corpus.name}"
    subprocess.run([sys.executable, str(HUGO_SITE_MAKER), str(corpus), str(site), "--provider"], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(site / "public", ignore_errors=True)
    return run_with_rss([hugo, "--quiet", "-D", "-s", str(site)])


def bench_size(size: int, work: Path, live: bool, archives: bool) -> dict[str, float | None]:
    corpus = ensure_corpus(work, size)
    cache_home = work / f"xdg-cache-{size}"
    out = work / f"export-{size}"
    shutil.rmtree(cache_home, ignore_errors=True)
    for leftover in (out, out.parent / f".{out.name}.d"):
        if leftover.is_symlink() or leftover.is_file():
            leftover.unlink()
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    config = work / f"bench-{size}.yaml"
    config.write_text(f"base_url: {BASE_URL}\n" + ("" if archives else "archive_page_size: 0\n"), encoding="utf-8")
    export = feeds_command("export", "--config", str(config), "--articles", str(corpus), str(out))
    row: dict[str, float | None] = {}
    row["cold"], row["cold_rss"] = run_with_rss(export, env)
    row["warm"], row["warm_rss"] = run_with_rss(export, env)
    touch_one_article(corpus, f"export-{time.time_ns()}")
    row["one_change"], _ = run_with_rss(export, env)
    row["live_reload"] = measure_live_reload(corpus, env, work, archives) if live else None
    hugo = measure_hugo(corpus, work)
    row["hugo"], row["hugo_rss"] = hugo if hugo else (None, None)
    return row


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    return f"{value:.2f} {unit}" if unit == "s" else f"{value:.0f} {unit}"


def _ratio(ours: float | None, hugo: float | None) -> str:
    return "—" if ours is None or not hugo else f"{ours / hugo:.2f}×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench"))
    parser.add_argument("--no-live", action="store_true", help="skip the live app's reload timing")
    parser.add_argument("--no-archives", action="store_true", help="archive_page_size: 0, as Hugo builds no archives")
    args = parser.parse_args()
    if not GEN_CORPUS.exists():
        print(f"needs {GEN_CORPUS} (../shared beside the project)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; hugo: {shutil.which('hugo') or 'not installed'}; "
        f"archives: {'off' if args.no_archives else 'on'}"
    )
    header = ("articles", "cold", "warm", "1 change", "live reload", "peak RSS", "hugo", "hugo RSS",
              "cold/hugo", "warm/hugo", "RSS/hugo")
    rows = []
    for size in args.sizes:
        row = bench_size(size, args.work, live=not args.no_live, archives=not args.no_archives)
        rows.append((
            f"{size:,}", _fmt(row["cold"]), _fmt(row["warm"]), _fmt(row["one_change"]), _fmt(row["live_reload"]),
            _fmt(max(row["cold_rss"] or 0, row["warm_rss"] or 0), "MiB"), _fmt(row["hugo"]),
            _fmt(row["hugo_rss"], "MiB"), _ratio(row["cold"], row["hugo"]), _ratio(row["warm"], row["hugo"]),
            _ratio(max(row["cold_rss"] or 0, row["warm_rss"] or 0), row["hugo_rss"]),
        ))  # fmt: skip
        print(f"done {size:,}", file=sys.stderr, flush=True)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).rjust(width) for cell, width in zip(line, widths, strict=True)))
    print("peak RSS: the largest single process of the export (main or a pool worker)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
