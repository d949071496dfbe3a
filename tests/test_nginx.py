"""The export served by a real nginx with the generated snippet, read by real clients.

nginx runs as a foreground subprocess on 127.0.0.1 (prefix, pid, logs and
temp folders in a tmp dir), serving the OUT_DIR folder with ``_nginx.conf``
included as the README says. Clients: http.client (exact headers, no
decompression), feedparser, newsboat, and the Flask test client of the app.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest

from feeds.config import Settings
from feeds.folder.export import export_site
from feeds.index.catalog import Catalog, build_catalog
from feeds.read.reader import read_folder
from feeds.render.feed import Format
from feeds.render.site import INDEX_PATH, render_path, site_paths
from feeds.server.web import create_app
from feeds.site_paths import METADATA_PATHS, NGINX_PATH

from .conftest import BASE_URL, REAL_CORPUS, SAMPLES, require_shared, require_tool
from .ports import AddressInUse, on_free_port, wait_for_nginx
from .test_export import run_killed, write_article

TIMEOUT = 10  # seconds, for every wait on nginx or a client

NGINX_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        include {snippet};
    }}
}}
"""


class Nginx:
    """nginx serving ``root`` with the export's snippet; always stopped by ``stop()``."""

    def __init__(self, run: Path, root: Path) -> None:
        self.binary = require_tool("nginx")
        self.run, self.root = run, root
        self.process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> Nginx:
        self.run.mkdir(parents=True, exist_ok=True)
        snippet = self.run / "feeds.conf"  # a copy, as the README says: nginx reads it at start only
        shutil.copyfile(self.root / NGINX_PATH, snippet)
        try:
            return on_free_port(lambda port: self._start_on(port, snippet))
        except (AddressInUse, RuntimeError) as exc:
            pytest.fail(f"nginx did not start: {exc}")

    def _start_on(self, port: int, snippet: Path) -> Nginx:
        self.port = port
        config = self.run / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the tmp dir
        config.write_text(
            NGINX_CONF.format(user=user, run=self.run, port=port, root=self.root, snippet=snippet), encoding="utf-8"
        )
        check = subprocess.run([self.binary, "-t", "-p", str(self.run), "-c", str(config), "-e", "stderr"],
                               capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
        assert check.returncode == 0, check.stderr
        (self.run / "nginx.pid").unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.run), "-c", str(config), "-e", str(self.run / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_nginx(self.process, self.run, TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def error_log(self) -> str:
        log = self.run / "error.log"
        return log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown of master and workers
            try:
                self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=TIMEOUT)
        self.process = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            connection.request("GET", "/" + path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@dataclass
class Site:
    out: Path
    settings: Settings
    catalog: Catalog
    nginx: Nginx

    @property
    def paths(self) -> list[str]:
        return site_paths(self.catalog, self.settings)

    def body(self, path: str) -> bytes:
        rendered = render_path(path, self.catalog, self.settings)
        assert rendered is not None
        return rendered.body


def export_articles(articles: Path, out: Path) -> tuple[Settings, Catalog]:
    settings = Settings(base_url=BASE_URL, articles_dir=articles)
    catalog = build_catalog(read_folder(articles, settings).articles, settings)
    export_site(catalog, settings, out)
    return settings, catalog


@pytest.fixture(scope="module", params=["samples", "real"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """An export of the samples (and of the real corpus when ../shared is there) behind nginx."""
    require_tool("nginx")
    articles = SAMPLES if request.param == "samples" else require_shared(REAL_CORPUS)
    tmp = tmp_path_factory.mktemp(f"nginx-{request.param}")
    settings, catalog = export_articles(articles, tmp / "out")
    nginx = Nginx(tmp / "run", tmp / "out")
    try:
        yield Site(tmp / "out", settings, catalog, nginx.start())
    finally:
        nginx.stop()


def test_every_path_has_the_apps_content_type_and_cache_headers(site: Site) -> None:
    for path in site.paths:
        status, headers, _ = site.nginx.get(path)
        assert status == 200, path
        assert headers["Content-Type"] == render_path(path, site.catalog, site.settings).media_type
        assert headers["Cache-Control"] == f"public, max-age={site.settings.cache_max_age}"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers.get("Access-Control-Allow-Origin") == (None if path.endswith(".html") else "*")
    assert site.nginx.get("all.rss")[1]["Content-Type"] == "application/rss+xml; charset=utf-8"


def test_every_file_nginx_serves_is_byte_identical_to_the_app(site: Site) -> None:
    for path in site.paths:
        assert site.nginx.get(path)[2] == site.body(path), path
    assert site.nginx.get("")[2] == site.body(INDEX_PATH)  # "/" is the index page


def test_every_file_equals_the_flask_apps_answer(site: Site) -> None:
    client = create_app(site.settings).test_client()
    for path in site.paths:
        app = client.get("/" + path)
        status, headers, body = site.nginx.get(path)
        assert (app.status_code, app.data, app.content_type) == (status, body, headers["Content-Type"]), path


def test_gzip_static_sends_the_precompressed_file(site: Site) -> None:
    for path in site.paths:
        status, headers, body = site.nginx.get(path, {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip", path
        assert body == (site.out / f"{path}.gz").read_bytes()
        assert gzip.decompress(body) == site.body(path)
        assert headers["Vary"] == "Accept-Encoding"


@pytest.mark.parametrize("accept", [{}, {"Accept-Encoding": "gzip"}], ids=["identity", "gzip"])
def test_if_none_match_with_nginxs_etag_gives_304(site: Site, accept: dict[str, str]) -> None:
    for path in ("all.rss", "all.atom", "all.json", "feeds.opml", INDEX_PATH):
        status, headers, _ = site.nginx.get(path, accept)
        assert status == 200 and headers["ETag"]
        status, again, body = site.nginx.get(path, {**accept, "If-None-Match": headers["ETag"]})
        assert (status, body) == (304, b""), path
        assert again["ETag"] == headers["ETag"]


def test_the_exports_own_metadata_is_not_served(site: Site) -> None:
    for path in METADATA_PATHS:
        assert (site.out / path).is_file()
        assert site.nginx.get(path)[0] == 404, path


def test_feedparser_reads_every_feed_nginx_serves(site: Site) -> None:
    feeds = site.catalog.feeds if len(site.catalog.feeds) <= 40 else site.catalog.feeds[:40]
    for feed in feeds:
        for fmt in (Format.RSS, Format.ATOM):  # feedparser 6.0 has no JSON Feed support
            status, headers, body = site.nginx.get(f"{feed.path}.{fmt.extension}")
            parsed = feedparser.parse(body, response_headers={"content-type": headers["Content-Type"]})
            assert status == 200 and not parsed.bozo, (feed.path, fmt, parsed.get("bozo_exception"))
            assert len(parsed.entries) == len(feed.items), (feed.path, fmt)
        status, _, body = site.nginx.get(f"{feed.path}.json")
        document = json.loads(body)
        assert document["version"] == "https://jsonfeed.org/version/1.1"
        assert len(document["items"]) == len(feed.items)


def test_newsboat_reads_the_all_feed_from_nginx(site: Site, tmp_path: Path) -> None:
    newsboat = require_tool("newsboat")
    url = site.nginx.url("all.rss")
    (tmp_path / "urls").write_text(url + "\n", encoding="utf-8")
    (tmp_path / "config").write_text("", encoding="utf-8")
    run = subprocess.run(
        [newsboat, "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"],
        cwd=tmp_path,
        env={**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    # the cache is newsboat's own record of what it parsed; counting rows beats parsing its output
    with sqlite3.connect(tmp_path / "cache.db") as db:
        (items,) = db.execute("SELECT count(*) FROM rss_item WHERE feedurl = ?", (url,)).fetchone()
        titles = {row[0] for row in db.execute("SELECT title FROM rss_item WHERE feedurl = ?", (url,))}
    all_feed = site.catalog.get("all")
    assert all_feed is not None
    assert items == len(all_feed.items) > 0
    assert all_feed.items[0].title in titles


def test_a_killed_export_leaves_nginx_serving_the_previous_site(tmp_path: Path) -> None:
    out = tmp_path / "out"
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    settings, catalog = export_articles(articles, out)
    nginx = Nginx(tmp_path / "run", out)
    try:
        nginx.start()
        served = [p for path in site_paths(catalog, settings) for p in (path, f"{path}.gz")]
        before = {path: nginx.get(path) for path in served}
        assert all(status == 200 for status, _, _ in before.values())
        for n in range(12):
            write_article(articles, f"2030-02-{n + 1:02d}-n.md", title=f"N {n}", topics=["AI"], provider="Kill Co")
        for stage in ("midway", "before-flip"):
            run_killed(articles, out, stage)
            for path in served:
                status, _, body = nginx.get(path)
                assert (status, body) == (200, before[path][2]), (stage, path)
        new_settings, new_catalog = export_articles(articles, out)  # nginx sees the flip without a reload
        for path in site_paths(new_catalog, new_settings):
            assert nginx.get(path)[2] == render_path(path, new_catalog, new_settings).body
        assert b"Kill Co" in nginx.get("all.rss")[2]
    finally:
        nginx.stop()
