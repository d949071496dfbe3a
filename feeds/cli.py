"""The ``feeds`` command. It only translates: library results → lines and exit codes.

Exit status: 0 success; 1 the work was done but error-level problems were
found; 2 bad usage or bad config. Problems are one line each,
``PATH[:LINE]: error|warning: MESSAGE``, then a summary line.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from feeds import websub
from feeds.catalog import Catalog, build_catalog
from feeds.config import ConfigError, Settings, load_settings, with_overrides
from feeds.export import ExportError, ExportMemos, ExportSummary, export_site, unchanged_since
from feeds.load import (
    CacheDamaged,
    IncrementalLoader,
    Scan,
    cache_path,
    finish_cache_writes,
    input_fingerprint,
    load_folder,
    scan_folder,
)
from feeds.model import Problem
from feeds.reader import Folder

if TYPE_CHECKING:
    from feeds.live import Snapshot


class ExitStatus(enum.IntEnum):
    OK = 0
    PROBLEMS = 1
    USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default exit code is 2 too; keep one line
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"{self.prog}: error: {message}\n")


def _common(parser: argparse.ArgumentParser, *, base_url: bool) -> None:
    parser.add_argument("--articles", type=Path, metavar="DIR", help="articles folder (default: from the config)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="config file (default: config/feeds.yaml)")
    if base_url:
        parser.add_argument("--base-url", metavar="URL", help="absolute URL the feeds are published under")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="read every article file, ignoring and not writing the parse cache (export: rebuild even if unchanged)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="feeds", description="Publish RSS, Atom and JSON feeds from a folder of article files.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = commands.add_parser("check", help="read every article file and report problems")
    _common(check, base_url=False)
    export = commands.add_parser("export", help="write every feed, the index page and OPML to a folder")
    _common(export, base_url=True)
    export.add_argument(
        "--watch",
        action="store_true",
        help="after the export, keep watching the articles folder and export again after every change (Ctrl-C stops)",
    )
    export.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    serve = commands.add_parser("serve", help="serve the feeds over HTTP (a production WSGI server)")
    _common(serve, base_url=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    return with_overrides(settings, articles_dir=args.articles, base_url=getattr(args, "base_url", None))


def _report(problems: Sequence[Problem], out: TextIO) -> tuple[int, int]:
    errors = warnings = 0
    for problem in problems:
        print(problem, file=out)
        if problem.is_error:
            errors += 1
        else:
            warnings += 1
    return errors, warnings


def load(
    settings: Settings, *, use_cache: bool = True, scan: Scan | None = None, background: bool = False
) -> tuple[Folder, Catalog]:
    folder, stats = load_folder(settings, use_cache=use_cache, scan=scan, background=background)
    if stats.cache_warning:
        print(f"feeds: warning: {stats.cache_warning}", file=sys.stderr)
    return folder, build_catalog(folder.articles, settings)


def _check(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    started = time.monotonic()
    folder, catalog = load(settings, use_cache=not args.no_cache)
    errors, warnings = _report(folder.problems, sys.stdout)
    unpublished = catalog.unpublished_count
    note = f" ({unpublished} unpublished, not in feeds)" if unpublished and not settings.include_unpublished else ""
    print(
        f"{len(folder.articles)} articles{note}, {errors} errors, {warnings} warnings "
        f"in {folder.files} files ({time.monotonic() - started:.2f}s)"
    )
    return ExitStatus.PROBLEMS if errors else ExitStatus.OK


def _progress(stream: TextIO):
    if not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        if done == total or done % 200 == 0:
            stream.write(f"\rwriting {done}/{total} files")
            if done == total:
                stream.write("\r\033[K")
            stream.flush()

    return show


def _export(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    memos = ExportMemos()  # kept from one export to the next under --watch
    status = _export_once(args, settings, memos)
    if not args.watch or status is ExitStatus.USAGE:
        return status
    return _watch(args, settings, memos)


def _export_once(args: argparse.Namespace, settings: Settings, memos: ExportMemos) -> ExitStatus:
    started = time.monotonic()
    if settings.base_url is None:
        print(
            f"feeds: warning: no base URL (--base-url or base_url in the config); "
            f"using {settings.site_url} for absolute links",
            file=sys.stderr,
        )
    scan = scan_folder(settings.articles_dir) if settings.articles_dir.is_dir() else None  # one scan per run
    fingerprint = input_fingerprint(settings, scan)
    prior = None if args.no_cache else unchanged_since(args.out_dir, fingerprint, memos)
    if prior is not None:
        return _unchanged_export(args, prior, started)
    # the parse cache is written while the site renders; finished before this function returns
    folder, catalog = load(settings, use_cache=not args.no_cache, scan=scan, background=True)
    try:
        return _export_catalog(args, settings, started, fingerprint, folder, catalog, memos)
    except CacheDamaged as exc:  # damaged, and its file changed since (else it is read again silently)
        print(f"feeds: warning: {exc}; reading every file without the cache", file=sys.stderr)
        finish_cache_writes()
        shutil.rmtree(cache_path(settings), ignore_errors=True)
        folder, catalog = load(settings, use_cache=False, scan=scan)
        return _export_catalog(args, settings, started, fingerprint, folder, catalog, memos)
    finally:
        for warning in finish_cache_writes():
            print(f"feeds: warning: {warning}", file=sys.stderr)


def _export_catalog(
    args: argparse.Namespace,
    settings: Settings,
    started: float,
    fingerprint: str,
    folder: Folder,
    catalog: Catalog,
    memos: ExportMemos,
) -> ExitStatus:
    errors, warnings = _report(folder.problems, sys.stderr)
    inputs = {
        "fingerprint": fingerprint, "problems": [str(p) for p in folder.problems], "errors": errors,
        "warnings": warnings, "feeds": len(catalog.feeds), "articles": catalog.article_count,
    }  # fmt: skip
    summary = export_site(
        catalog, settings, args.out_dir, progress=_progress(sys.stderr), inputs=inputs, reuse=not args.no_cache,
        memos=memos,
    )
    _announce(summary, settings, args.out_dir, catalog.article_count, f"{errors} errors, {warnings} warnings", started)
    return ExitStatus.PROBLEMS if errors else ExitStatus.OK


def _announce(
    summary: ExportSummary, settings: Settings, out_dir: Path, articles: int, problems: str, started: float
) -> None:
    """The export's summary line, then the WebSub ping for the feeds it changed."""
    budget = (
        f", {len(summary.over_budget)} feeds over max_feed_bytes: oldest items dropped" if summary.over_budget else ""
    )
    print(
        f"{summary.feeds} feeds, {summary.files} files ({summary.written} written, {summary.unchanged} unchanged, "
        f"{summary.removed} removed), {articles} articles, {problems}{budget}, "
        f"{time.monotonic() - started:.2f}s → {out_dir}",
        flush=True,
    )
    if settings.websub_hub is not None and summary.changed and settings.base_url is None:
        print("feeds: warning: websub_hub is set but there is no base URL; the hub was not pinged", file=sys.stderr)
    elif settings.websub_hub is not None and summary.changed:
        # after the flip, so the hub fetches the new bytes; a failing hub never changes the exit status
        report = websub.ping_hub(
            settings.websub_hub, websub.feed_urls(summary.changed, settings),
            timeout=websub.TIMEOUT, retries=websub.RETRIES, backoff=websub.BACKOFF,
        )  # fmt: skip
        print(report.line(), file=sys.stderr)


def _watch(args: argparse.Namespace, settings: Settings, memos: ExportMemos) -> ExitStatus:
    """Keep the export current: the live app's reload machinery (a file watcher, incremental
    reads, one catalog per change), with an export instead of a page swap after every change.

    Runs until Ctrl-C or SIGTERM. A failed export is reported and retried at the next change;
    the previous export stays published meanwhile.
    """
    from feeds.live import Live  # the outlet that owns reloading; imported only for --watch

    # this command pings the hub after each export itself, as a one-shot export does
    quiet = dataclasses.replace(settings, websub_hub=None)
    live = Live(quiet, IncrementalLoader(quiet, use_cache=not args.no_cache))
    if live.state.last_error is not None:
        print(f"feeds: error: {live.state.last_error}", file=sys.stderr)
        return ExitStatus.USAGE

    def export_snapshot(snapshot: Snapshot, *, quiet_if_unchanged: bool = False) -> None:
        started = time.monotonic()
        try:
            summary = export_site(
                snapshot.catalog, settings, args.out_dir, reuse=not args.no_cache, memos=memos
            )
        except Exception as exc:  # shown here; Live keeps the old snapshot and retries at the next change
            print(f"feeds: error: export failed ({type(exc).__name__}: {exc}); retrying at the next change",
                  file=sys.stderr, flush=True)  # fmt: skip
            raise
        if quiet_if_unchanged and not summary.published:
            return
        problems = f"{snapshot.errors} errors, {snapshot.problems - snapshot.errors} warnings"
        _announce(summary, settings, args.out_dir, snapshot.catalog.article_count, problems, started)

    # files that changed between the first export and this load are exported now
    export_snapshot(live.state, quiet_if_unchanged=True)
    live.on_new_snapshot = export_snapshot
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    live.ensure_polling()
    print(f"feeds: watching {settings.articles_dir} for changes; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        stop.wait()
    finally:
        live.stop()
        signal.signal(signal.SIGTERM, previous)
    return ExitStatus.OK


def _unchanged_export(args: argparse.Namespace, prior: dict, started: float) -> ExitStatus:
    """Nothing the export depends on changed: say so (and the problems it had) without reading articles."""
    problems = prior.get("problems", [])
    for line in problems if isinstance(problems, list) else []:
        print(line, file=sys.stderr)
    errors, warnings = int(prior.get("errors", 0)), int(prior.get("warnings", 0))
    print(
        f"{prior.get('feeds', 0)} feeds, nothing changed since the last export (0 written), "
        f"{prior.get('articles', 0)} articles, {errors} errors, {warnings} warnings, "
        f"{time.monotonic() - started:.2f}s → {args.out_dir}"
    )
    return ExitStatus.PROBLEMS if errors else ExitStatus.OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        if args.command == "check":
            return _check(args, settings)
        if args.command == "export":
            return _export(args, settings)
        from feeds.serve import serve  # imports the web stack only when serving

        return serve(settings, host=args.host, port=args.port, workers=args.workers)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitStatus.USAGE
    except ExportError as exc:
        print(f"feeds: error: {exc}", file=sys.stderr)
        return ExitStatus.USAGE
    except BrokenPipeError:
        # the reader of our output went away (`feeds check | head`): stop quietly, as
        # the Python docs advise, so the interpreter's final flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.PROBLEMS
    except OSError as exc:  # disk full, permission denied on the output folder, ...
        where = f" {exc.filename}" if exc.filename else ""
        print(f"feeds: error:{where} {exc.strerror or exc}", file=sys.stderr)
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
