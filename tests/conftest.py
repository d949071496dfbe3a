"""Shared fixtures: where things are, how a test asks for a system tool or ../shared, and a WebSub hub stub."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from hypothesis import settings as hypothesis_settings

from feeds.config import Settings
from feeds.read import parsecache

# No timed assertions in tests: hypothesis's per-example deadline (200 ms) fails a correct test on a
# loaded machine (test_publish_plan's state round trip took 328 ms under a load average of 25).
hypothesis_settings.register_profile("feeds", deadline=None)
hypothesis_settings.load_profile("feeds")

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "samples" / "articles"
SHARED = PROJECT.parent / "shared"
REAL_CORPUS = SHARED / "corpus" / "real"
SEED = SHARED / "seed"
BASE_URL = "https://feeds.example.org/"


def require_tool(name: str) -> str:
    """The path of a system program; skip when absent, but fail in CI, which installs it."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        message = f"{name} is not installed (Debian package; .ci/run installs it)"
        if os.environ.get("FEEDS_REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_shared(path: Path) -> Path:
    """A path under ../shared; skip with a reason when the project is cloned without it."""
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared is not beside this clone")
    return path


@pytest.fixture(autouse=True, scope="session")
def private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test's caches and statistics in a folder of this session, not the user's ~/.cache (a test run
    must neither read state another run left nor leave its own); subprocesses inherit it."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(autouse=True)
def files_settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parse cache stores only files that changed at least RACY_SECONDS before a load started (racy
    clean, see feeds.read.parsecache); tests write their files just before loading and cannot set a ctime back,
    so in-process loads here store every file that changed before they started. The race itself is
    tested with the real margin (tests/test_parsecache.py)."""
    monkeypatch.setattr(parsecache, "RACY_SECONDS", 0.0)


@pytest.fixture
def settings() -> Settings:
    """Settings for tests: a fixed base URL, unpublished articles excluded as by default."""
    return Settings(base_url=BASE_URL, articles_dir=SAMPLES)


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A copy of the sample articles (a test may change it)."""
    folder = tmp_path / "articles"
    shutil.copytree(SAMPLES, folder)
    return folder


@pytest.fixture
def cached_settings(tmp_path: Path, articles: Path) -> Settings:
    """Settings for :func:`articles` with a parse cache folder of their own."""
    return Settings(base_url=BASE_URL, articles_dir=articles, cache_dir=tmp_path / "cache")


@pytest.fixture
def real_corpus() -> Path:
    return require_shared(REAL_CORPUS)


CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def start_chromium(profile: Path):
    """Headless Debian Chromium under Selenium with a fresh profile; skips (or fails in CI) without it."""
    chromium, chromedriver = require_tool("chromium"), require_tool("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    driver.set_page_load_timeout(30)
    return driver


class Hub:
    """A hub stub: answers each POST with the next queued status (204 when none) and records its form."""

    def __init__(self) -> None:
        self.posts: list[dict[str, list[str]]] = []
        self.content_types: list[str] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hub._lock:
                    hub.posts.append(parse_qs(body.decode("ascii"), strict_parsing=True))
                    hub.content_types.append(self.headers.get("Content-Type", ""))
                    status = hub.statuses.pop(0) if hub.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def urls(self) -> list[str]:
        """Every hub.url published, in order; each POST must carry mode publish and exactly one URL."""
        with self._lock:
            posts = list(self.posts)
        for form in posts:
            assert form["hub.mode"] == ["publish"] and len(form["hub.url"]) == 1, form
        return [form["hub.url"][0] for form in posts]

    def clear(self) -> None:
        with self._lock:
            self.posts.clear()


@pytest.fixture
def hub() -> Iterator[Hub]:
    stub = Hub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()
