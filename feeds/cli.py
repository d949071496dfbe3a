"""The ``feeds`` command. It only translates: library results → lines and exit codes.

Exit status: 0 success; 1 the work was done but error-level problems were
found; 2 bad usage or bad config. Problems are one line each,
``PATH[:LINE]: error|warning: MESSAGE``, then a summary line.

Each command imports the stack it runs when it runs: ``check`` and ``export`` the
reader and the export, ``serve`` the web app, ``publish`` boto3 only (a fresh
``feeds publish`` of one change is mostly start-up; issue 17).
"""

from __future__ import annotations

import argparse
import enum
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from feeds.bucket.plan import PublishUnusable
from feeds.config import Settings, load_settings, publish_overrides, with_overrides
from feeds.config_values import ConfigError
from feeds.folder.runs import ExportObserver
from feeds.model import Problem

if TYPE_CHECKING:
    from feeds import websub
    from feeds.bucket.publish import Publisher, PublishSummary
    from feeds.folder.runs import ExportRun


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
    export.add_argument(
        "--publish",
        metavar="s3://BUCKET[/PREFIX]",
        help="after each export, publish it there as `feeds publish` does (with the config's publish: section)",
    )
    export.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    serve = commands.add_parser("serve", help="serve the feeds over HTTP (a production WSGI server)")
    _common(serve, base_url=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    publish = commands.add_parser("publish", help="upload an export to S3-compatible storage and purge the CDN")
    publish.add_argument("--config", type=Path, metavar="FILE", help="config file (default: config/feeds.yaml)")
    publish.add_argument("--endpoint-url", metavar="URL", help="an S3-compatible API (R2, B2, MinIO); default AWS")
    publish.add_argument("--region", help="the bucket's region (default: boto3's, e.g. AWS_REGION)")
    publish.add_argument("--cloudfront-distribution", metavar="ID", help="invalidate the changed paths there")
    publish.add_argument("--cloudflare-zone", metavar="ZONE", help="purge changed URLs there (CLOUDFLARE_API_TOKEN)")
    publish.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    publish.add_argument("--verify", action="store_true", help="list the bucket and repair objects changed by hand")
    publish.add_argument("--max-deletes", type=int, metavar="N", help="delete at most N objects (default 256)")
    publish.add_argument("--workers", type=int, metavar="N", help="concurrent uploads (default 16)")
    publish.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    publish.add_argument("target", nargs="?", metavar="s3://BUCKET[/PREFIX]", help="default: publish.target")
    stats = commands.add_parser("stats", help="how many people read each feed (live app's records, access logs)")
    stats.add_argument("--config", type=Path, metavar="FILE", help="config file (default: config/feeds.yaml)")
    stats.add_argument("--days", type=_days, default=30, metavar="N", help="trend over the last N days (default 30)")
    stats.add_argument("--json", action="store_true", help="print the report as JSON")
    stats.add_argument("--html", type=Path, metavar="FILE", help="also write the report as one HTML file")
    stats.add_argument("--log", type=Path, nargs="+", action="extend", default=[], metavar="FILE",
                       help="first read access logs (nginx/Apache combined, CloudFront; .gz too)")  # fmt: skip
    return parser


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to 3650, not {text!r}")
    return int(text)


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


def _check(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    from feeds.folder.exporter import read_catalog

    started = time.monotonic()
    folder, catalog, notes = read_catalog(settings, use_cache=not args.no_cache)
    for note in notes:
        print(f"feeds: warning: {note}", file=sys.stderr)
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


class _Lines(ExportObserver):
    """The export's runs as lines: warnings and problems on stderr, one summary line on stdout.

    And, as the process's owner, what the library must not do (process-wide state): once a run
    has loaded, the collector is kept from walking what it loaded (:meth:`loaded`).
    """

    def loaded(self) -> None:
        # The articles and catalog just loaded live until the run ends (and `run` ends the process
        # without teardown), and hold no reference cycles: freeze them, as `feeds serve` does before
        # it forks. Else the first full collection after the load walks all of them: the JSON of the
        # previous export's records set one off, ~0.5 s of CPU in a one-change export at 100,000
        # articles (round one froze them in the library; issue 14 moved that out of it).
        gc.freeze()

    def exported(self, run: ExportRun) -> None:
        for note in run.notes:
            print(f"feeds: warning: {note}", file=sys.stderr)
        for line in run.problems:
            print(line, file=sys.stderr)
        problems = f"{run.errors} errors, {run.warnings} warnings"
        summary = run.summary
        if summary is None:
            print(
                f"{run.feeds} feeds, nothing changed since the last export (0 written), {run.articles} articles, "
                f"{problems}, {run.seconds:.2f}s → {run.out_dir}",
                flush=True,
            )
            return
        budget = (
            f", {len(summary.over_budget)} feeds over max_feed_bytes: oldest items dropped"
            if summary.over_budget
            else ""
        )
        print(
            f"{summary.feeds} feeds, {summary.files} files ({summary.written} written, {summary.unchanged} unchanged, "
            f"{summary.removed} removed), {run.articles} articles, {problems}{budget}, "
            f"{run.seconds:.2f}s → {run.out_dir}",
            flush=True,
        )

    def pinged(self, report: websub.PingReport) -> None:
        print(report.line(), file=sys.stderr)

    def failed(self, error: Exception) -> None:
        print(
            f"feeds: error: export failed ({type(error).__name__}: {error}); retrying at the next change",
            file=sys.stderr,
            flush=True,
        )


class _PublishEachRun(ExportObserver):
    """``export --publish``: each run's export goes up (and is purged) before the exporter pings the hub."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.status = ExitStatus.OK  # of the last publish

    def exported(self, run: ExportRun) -> None:
        # also when nothing changed since the last export: a publish that failed then is completed now
        self.status = _publish_export(self.publisher, run.out_dir)


def _publisher(
    settings: Settings, *, websub_hub: str | None, dry_run: bool = False, verify: bool = False, **options
) -> Publisher:
    """A Publisher for the config's ``publish:`` section with the command line's options over it."""
    from feeds.bucket.publish import Publisher, PublishOptions  # boto3 is imported only when publishing

    checked = publish_overrides(settings.publish, **options)
    return Publisher(PublishOptions(checked, dry_run, verify, websub_hub), progress=sys.stderr)


def _publish_export(publisher: Publisher, out_dir: Path, describe=None) -> ExitStatus:
    """One publish of ``out_dir``: report lines and the summary line; exit status 0, 1 or 2."""
    try:
        summary = publisher.publish(out_dir, describe=describe)
    except PublishUnusable as exc:
        print(f"feeds: error: {exc}", file=sys.stderr, flush=True)
        return ExitStatus.USAGE
    return _publish_report(summary)


def _publish_report(summary: PublishSummary) -> ExitStatus:
    """Failures and reports one line each on stderr, then the summary line."""
    for line in (*summary.failures, *summary.reports):
        print(line, file=sys.stderr)
    print(summary.line(), flush=True)
    return ExitStatus.PROBLEMS if summary.failures else ExitStatus.OK


def _publish(args: argparse.Namespace) -> ExitStatus:
    """``feeds publish``: needs the config (its publish: section, its WebSub hub), never the articles."""
    settings = load_settings(args.config)
    publisher = _publisher(
        settings, websub_hub=settings.websub_hub, dry_run=args.dry_run, verify=args.verify, target=args.target,
        endpoint_url=args.endpoint_url, region=args.region, cloudfront_distribution=args.cloudfront_distribution,
        cloudflare_zone=args.cloudflare_zone, max_deletes=args.max_deletes, workers=args.workers,
    )  # fmt: skip
    return _publish_export(publisher, args.out_dir, describe=print)


def _export(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    from feeds.folder.exporter import Exporter

    if settings.base_url is None:
        print(
            f"feeds: warning: no base URL (--base-url or base_url in the config); "
            f"using {settings.site_url} for absolute links",
            file=sys.stderr,
        )
    observers: list[ExportObserver] = [_Lines()]
    if args.publish:  # made before the export: a bad target or a missing secret stops it before any work
        # the exporter pings the hub itself, after its observers: so after this upload and purge
        publishing = _PublishEachRun(_publisher(settings, websub_hub=None, target=args.publish))
        observers.append(publishing)
    exporter = Exporter(
        settings, args.out_dir, use_cache=not args.no_cache, progress=_progress(sys.stderr), observers=observers
    )
    run = exporter.run()
    status = ExitStatus.PROBLEMS if run.errors else ExitStatus.OK
    if args.publish:
        status = max(status, publishing.status)
    if not args.watch:
        return status
    exporter.progress = None  # one line per change under --watch
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        exporter.start_watching()
        # this process now lives on the articles it loaded: keep the collector from walking them all again
        # in a change's time (a full collection took seconds at 100,000 articles), as `feeds serve` does
        exporter.freeze_loaded()
        print(f"feeds: watching {settings.articles_dir} for changes; Ctrl-C stops", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        exporter.stop_watching()
        signal.signal(signal.SIGTERM, previous)
    return ExitStatus.OK


def _stats(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """Read the access logs given, roll up old detail, print the report (and write its HTML page)."""
    from feeds.render.site import enabled_formats
    from feeds.stats import logs, report_page  # the statistics stack, only for this command
    from feeds.stats import report as stats_report  # `report` is the report itself below
    from feeds.stats.store import StatsStore, stats_db_path

    store = StatsStore(stats_db_path(settings))
    try:
        extensions = frozenset(fmt.extension for fmt in enabled_formats(settings))
        for log in args.log:
            print(logs.import_log(store, log, extensions).line(), file=sys.stderr)
        stats_report.tidy(store, settings.stats_detail_days)
        report = stats_report.build_report(store, args.days)
    finally:
        store.close()
    print(stats_report.format_json(report) if args.json else stats_report.format_text(report), end="")
    if args.html is not None:
        report_page.write_html(report, args.html)
    return ExitStatus.OK


def _export_stack_command(args: argparse.Namespace, settings: Settings) -> ExitStatus:
    """``check`` or ``export``, which may fail as an export does (main handles the rest)."""
    from feeds.folder.generation import (  # the export stack itself only when something is exported (issue 20)
        ExportError,
        ExportWriteError,
    )

    try:
        return _check(args, settings) if args.command == "check" else _export(args, settings)
    except ExportWriteError as exc:  # a full disk: the run failed, not its usage (issue 16)
        print(f"feeds: error: {exc}", file=sys.stderr)
        return ExitStatus.PROBLEMS
    except ExportError as exc:
        print(f"feeds: error: {exc}", file=sys.stderr)
        return ExitStatus.USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "publish":
            return _publish(args)
        if args.command == "stats":
            return _stats(args, load_settings(args.config))
        settings = _settings(args)
        if args.command in ("check", "export"):
            return _export_stack_command(args, settings)
        from feeds.server.serve import serve  # imports the web stack only when serving

        return serve(settings, host=args.host, port=args.port, workers=args.workers)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return ExitStatus.USAGE
    except PublishUnusable as exc:
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


def run() -> NoReturn:
    """The ``feeds`` command: :func:`main`, then the process ends at once (what ``python -m feeds.cli`` runs too).

    Without tearing down what the run built: the interpreter would free every object one by
    one (the catalog's articles, the modules), ~40 ms of a 0.3 s warm export at 10,000 articles
    and more with more (issue 20: fixed costs). Everything the run wrote is closed by now (files
    by their ``with``, the parse cache's transactions committed, worker pools shut down); the
    standard streams are flushed here. While another thread still runs (none does after a
    command returns, but a library could leave one), the interpreter's normal exit joins it.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # a reader that went away (`feeds check | head`): nothing more to tell it
            pass
        except OSError:  # the output was not all written (a full disk under `feeds check > report`)
            code = code or ExitStatus.PROBLEMS
    if threading.active_count() > 1:
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    run()
