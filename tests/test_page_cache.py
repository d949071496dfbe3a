"""The live app's page memo: pages beyond the hot ones are kept within a byte budget, least recently used out."""

from __future__ import annotations

from pathlib import Path

from feeds.config import Settings
from feeds.model import Article
from feeds.render.feed import ARCHIVE_FOLDER
from feeds.render.site import render_path, site_paths
from feeds.server.page_cache import ByteBudgetCache, hot_paths, page_memo
from feeds.server.web import create_app
from tests.conftest import BASE_URL
from tests.test_web import make_articles, write_article


class FakePage:
    """Stands in for feeds.server.responses.Page: only its size matters here."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes


def test_the_least_recently_used_pages_go_first_once_over_the_budget() -> None:
    cache = ByteBudgetCache(100)
    for key in "abc":
        cache.put(key, FakePage(30))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", FakePage(30))
    assert cache.get("b") is None and all(cache.get(k) is not None for k in "acd")
    assert cache.total == 90


def test_a_page_that_grows_is_charged_again_on_its_next_hit() -> None:
    cache = ByteBudgetCache(100)
    first, second = FakePage(40), FakePage(40)
    cache.put("first", first)
    cache.put("second", second)
    second.nbytes = 70  # its gzip variant was made after it was stored
    assert cache.get("second") is second
    assert cache.get("first") is None and cache.total == 70


def test_one_page_over_the_budget_is_still_kept() -> None:
    cache = ByteBudgetCache(10)
    cache.put("big", FakePage(50))
    assert cache.get("big") is not None and len(cache) == 1


def test_a_crawl_of_every_page_and_many_filters_stays_within_the_budget_and_serves_the_same_bytes(
    tmp_path: Path,
) -> None:
    """Issue 16: every page rendered was kept for the whole generation (1.5 GB a worker at 100k articles)."""
    folder = make_articles(tmp_path / "articles", samples=True)
    for n in range(60):  # enough items for several archive pages
        write_article(folder, f"extra{n:03d}.md", f"Story number {n}", ["Robotics"], "Wired",
                      published_at=f"2023-01-{1 + n % 28:02d}T{n % 24:02d}:00:00Z")  # fmt: skip
    settings = Settings(base_url=BASE_URL, articles_dir=folder, archive_page_size=5, page_cache_bytes=1_048_576)
    app = create_app(settings)
    client = app.test_client()
    live = app.extensions["feeds"]
    catalog = live.state.catalog
    paths = site_paths(catalog, settings)
    assert sum(p.startswith(f"{ARCHIVE_FOLDER}/") for p in paths) > 10
    memo = page_memo(live.state, settings)
    memo.cache.budget = 40_000  # far less than the site: most pages must be dropped and made again
    for _ in range(2):
        for path in paths:
            response = client.get(f"/{path}", headers={"Accept-Encoding": "gzip"})
            assert response.status_code == 200
            assert memo.cache.total <= memo.cache.budget or len(memo.cache) == 1
        for n in range(30):
            assert client.get(f"/filter.rss?q=number+{n}").status_code == 200
    assert len(memo.cache) < len(paths)
    assert set(memo.hot) == {p for p in hot_paths(settings) if p in paths}
    for path in paths[:5] + paths[-5:]:  # made again after being dropped: the renderer's bytes
        assert client.get(f"/{path}").data == render_path(path, catalog, settings).body
    live.stop()


def test_each_snapshot_gets_its_filter_index_as_it_goes_live(tmp_path: Path) -> None:
    """Issue 16: built with the snapshot (before the fork, then on the reload thread), not by a request."""
    folder = make_articles(tmp_path / "articles")
    settings = Settings(base_url=BASE_URL, articles_dir=folder, reload_interval=0.2)
    app = create_app(settings)
    live = app.extensions["feeds"]
    assert page_memo(live.state, settings).index is not None  # made in create_app
    write_article(folder, "new.md", "Indexed at once", ["AI"], "Wired")
    assert live.refresh()
    assert page_memo(live.state, settings).index is not None and live.state.generation == 2
    live.stop()


def decoded(article: Article) -> bool:
    """The article holds its details decoded (the slot's own descriptor: reading it never decodes)."""
    try:
        Article.summary.__get__(article)
    except AttributeError:
        return False
    return True


def test_rendered_pages_and_the_filter_index_leave_no_details_decoded(tmp_path: Path) -> None:
    """Issue 16: every article a worker rendered kept its decoded details (its own copy, written into the
    master's articles): a crawl grew each worker by most of the site. The page keeps the bytes only."""
    folder = make_articles(tmp_path / "articles", samples=True)
    for n in range(30):
        write_article(folder, f"extra{n:03d}.md", f"Story number {n}", ["Robotics"], "Wired",
                      published_at=f"2023-01-{1 + n % 28:02d}T{n % 24:02d}:00:00Z")  # fmt: skip
    settings = Settings(base_url=BASE_URL, articles_dir=folder, archive_page_size=5)
    create_app(settings).extensions["feeds"].stop()  # the first load fills the parse cache
    app = create_app(settings)  # this one restores every article from it
    live = app.extensions["feeds"]
    articles = live.state.articles
    assert articles and not any(decoded(a) for a in articles)  # the filter index read every one, then let go
    client = app.test_client()
    paths = site_paths(live.state.catalog, settings)
    bodies = {path: client.get(f"/{path}").data for path in paths}
    assert client.get("/filter.rss?q=number").status_code == 200
    assert not any(decoded(a) for a in articles)
    for path in paths:  # the renderer's bytes, from details decoded again
        assert bodies[path] == render_path(path, live.state.catalog, settings).body
    live.stop()
