"""The live Flask app through Flask's test client: routes, HTTP semantics, hostile input, reload."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient

from feeds.config import Settings
from feeds.read.parsecache import cache_path
from feeds.render.gzipped import gzip_bytes
from feeds.render.site import render_path, site_paths
from feeds.server import page_cache
from feeds.server.live import Live
from feeds.server.snapshot import read_articles_folder
from feeds.server.web import create_app
from tests.conftest import BASE_URL, SAMPLES

# (file name, title, topics, provider, quality, published at, excerpt)
ARTICLES = [
    ("a1.md", "Robots learn to fold laundry", ["AI", "Robotics"], "TechCrunch", 80, "2024-05-05T10:00:00Z",
     "A laundry robot from a lab."),
    ("a2.md", "New chips for machine learning", ["Machine Learning", "Chips"], "Wired", 40,
     "2024-05-04T10:00:00Z", "Faster training hardware."),
    ("a3.md", "Regulators look at AI models", ["Artificial Intelligence", "Policy"], "POLITICO", 65,
     "2024-05-03T10:00:00Z", "Europe drafts rules."),
    ("a4.md", "Quantum startup raises money", ["Quantum Computing"], "TechCrunch", None, "2024-05-02T10:00:00Z",
     "A funding round for qubits."),
    ("a5.md", "Drones deliver medicine", ["Drones", "Robotics"], "Wired", 90, "2024-05-01T10:00:00Z",
     "Medicine by air to remote villages."),
]  # fmt: skip


def write_article(
    folder: Path,
    name: str,
    title: str,
    topics: list[str],
    provider: str,
    quality: int | None = 50,
    published_at: str = "2024-05-01T10:00:00Z",
    excerpt: str = "An excerpt.",
) -> Path:
    """One article file in the input format (YAML front matter), for tests that need real files."""
    slug = name.rsplit(".", 1)[0]
    lines = [
        "---",
        f'title: "{title}"',
        f'excerpt: "{excerpt}"',
        f"publishedDateTime: {published_at}",
        f'webUrl: "https://news.example.com/{slug}"',
        "type: article",
        *([f"quality: {quality}"] if quality is not None else []),
        "provider:",
        f'  name: "{provider}"',
        f"  domain: {provider.lower()}.example.com",
        "topics:",
        *[f'  - "{topic}"' for topic in topics],
        "images:",
        f'  - url: "https://img.example.com/{slug}.jpg"',
        "    width: 640",
        "    height: 360",
        "---",
        "",
    ]
    path = folder / name
    # written beside the folder and renamed in, as a publisher's tool would: a watcher that caught a
    # half-written file would rebuild twice, and tests count generations
    staged = folder.parent / f".{folder.name}-{name}.partial"
    staged.write_text("\n".join(lines), encoding="utf-8")
    os.replace(staged, path)
    return path


def make_articles(folder: Path, *, samples: bool = False) -> Path:
    """The ARTICLES above in a new folder, with a copy of samples/articles when asked."""
    if samples:
        shutil.copytree(SAMPLES, folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, title, topics, provider, quality, published_at, excerpt in ARTICLES:
        write_article(folder, name, title, topics, provider, quality, published_at, excerpt)
    return folder


def vary_for(url: str) -> str:
    """A feed's URL is negotiated on Accept too (a browser's navigation gets the feed's page)."""
    return "Accept-Encoding, Accept" if url.endswith((".rss", ".atom", ".json")) else "Accept-Encoding"


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    return Settings(
        base_url=BASE_URL,
        articles_dir=make_articles(tmp_path / "articles"),
        reload_interval=0.2,
        cache_max_age=120,
        topic_aliases=(("Artificial Intelligence", "AI"),),
    )


@pytest.fixture
def app(live_settings: Settings) -> Iterator[Flask]:
    application = create_app(live_settings)
    yield application
    application.extensions["feeds"].stop()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.05)


# ----- routes and bytes -----------------------------------------------------------------------------


def test_every_site_path_serves_exactly_the_bytes_of_render_path(app, client, live_settings):
    catalog = app.extensions["feeds"].state.catalog
    paths = site_paths(catalog, live_settings)
    assert "topics/ai.rss" in paths and "providers/techcrunch.json" in paths
    for path in paths:
        rendered = render_path(path, catalog, live_settings)
        response = client.get("/" + path)
        assert response.status_code == 200, path
        assert response.data == rendered.body, path
        assert response.headers["Content-Type"] == rendered.media_type
        assert response.headers["ETag"] == f'"{rendered.etag}"'


@pytest.mark.parametrize("url", ["/", "/index.html"])
def test_root_and_index_html_serve_the_index_page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'rel="alternate"' in response.data
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/all.rss", "application/rss+xml; charset=utf-8"),
        ("/all.atom", "application/atom+xml; charset=utf-8"),
        ("/all.json", "application/feed+json; charset=utf-8"),
        ("/topics/robotics.atom", "application/atom+xml; charset=utf-8"),
        ("/providers/wired.rss", "application/rss+xml; charset=utf-8"),
        ("/filter.json?topic=ai", "application/feed+json; charset=utf-8"),
    ],
)
def test_feeds_have_content_type_caching_and_safety_headers(client, url, media_type):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == media_type
    assert response.headers["Cache-Control"] == "public, max-age=120"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Vary"] == vary_for(url)
    assert "Last-Modified" not in response.headers  # the ETag is the validator (issue 16)
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_a_hot_feed_is_rendered_once_per_generation(app, client, monkeypatch):
    calls = []
    original = page_cache.render_path

    def counting(path, catalog, settings):
        calls.append(path)
        return original(path, catalog, settings)

    monkeypatch.setattr(page_cache, "render_path", counting)
    for _ in range(5):
        assert client.get("/topics/drones.rss").status_code == 200
        assert client.get("/topics/drones.rss", headers={"Accept-Encoding": "gzip"}).status_code == 200
    assert calls == ["topics/drones.rss"]


def test_feed_items_come_newest_first(client):
    parsed = feedparser.parse(client.get("/all.atom").data)
    assert [e.title for e in parsed.entries] == [a[1] for a in ARTICLES]


# ----- conditional GET, HEAD, gzip ------------------------------------------------------------------


def test_if_none_match_with_the_etag_gives_304_without_a_body(client):
    first = client.get("/all.rss")
    again = client.get("/all.rss", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert again.headers["Vary"] == vary_for("/all.rss")


def test_if_none_match_compares_weakly_and_lists_work(client):
    etag = client.get("/all.json").headers["ETag"]
    assert client.get("/all.json", headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get("/all.json", headers={"If-None-Match": "*"}).status_code == 304
    assert client.get("/all.json", headers={"If-None-Match": '"other"'}).status_code == 200


def test_if_modified_since_never_gives_304_there_is_no_last_modified(client):
    for moment in ("Sun, 05 May 2024 10:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"):
        assert client.get("/topics/ai.rss", headers={"If-Modified-Since": moment}).status_code == 200


def test_a_backdated_article_is_never_hidden_by_if_modified_since(app, client, live_settings):
    """Issue 16: the newest item's date does not move for a backdated article; the bytes do."""
    first = client.get("/all.rss")
    held = {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT", "If-None-Match": '"other"'}
    write_article(live_settings.articles_dir, "old.md", "A backdated scoop", ["AI"], "Wired",
                  published_at="2020-01-01T00:00:00Z")  # fmt: skip
    wait_for(lambda: b"A backdated scoop" in client.get("/all.rss").data)
    for headers in ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, held):
        again = client.get("/all.rss", headers=headers)
        assert again.status_code == 200 and b"A backdated scoop" in again.data
    assert client.get("/all.rss", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-Match": "*"}, 200),  # RFC 9110 §13.1.1: true whenever the representation exists
        ({"If-Match": "CURRENT"}, 200),
        ({"If-Match": '"other", CURRENT'}, 200),
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": "W/CURRENT"}, 412),  # If-Match compares strongly
        ({"If-Match": "*", "If-None-Match": "CURRENT"}, 304),
        ({"If-Match": '"other"', "If-None-Match": "CURRENT"}, 412),  # If-Match is evaluated first
        ({"If-None-Match": "W/CURRENT"}, 304),  # If-None-Match compares weakly
        ({"If-Match": "*", "If-None-Match": '"other"'}, 200),
    ],
)
def test_preconditions_follow_rfc_9110_in_order(client, headers, status):
    etag = client.get("/all.json").headers["ETag"]
    sent = {name: value.replace("CURRENT", etag) for name, value in headers.items()}
    response = client.get("/all.json", headers=sent)
    assert response.status_code == status
    assert (response.data != b"") == (status == 200)


def test_head_sends_the_get_headers_and_no_body(client):
    get = client.get("/providers/techcrunch.atom")
    head = client.head("/providers/techcrunch.atom")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(get.data))
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


def test_gzip_is_byte_stable_with_its_own_etag(client):
    plain = client.get("/all.rss")
    packed = client.get("/all.rss", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == vary_for("/all.rss")
    assert gzip.decompress(packed.data) == plain.data
    assert packed.data == gzip_bytes(plain.data)  # the same bytes as the export's .gz files
    digest = hashlib.sha256(packed.data).hexdigest()[:12]
    assert packed.headers["ETag"] == plain.headers["ETag"][:-1] + f'-gz-{digest}"'
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    revalidated = client.get(
        "/all.rss", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert revalidated.status_code == 304
    assert client.get("/all.rss", headers={"If-None-Match": packed.headers["ETag"]}).status_code == 200


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*;q=0.5, gzip;q=0", False),
        ("br, identity", False),
        ("identity;q=0", False),
        ("gzip;q=abc", False),
        ("gzip;q=2", False),
        (";;;,,,", False),
        ("", False),
    ],
)
def test_gzip_only_when_accept_encoding_allows_it(client, accept_encoding, gzipped):
    response = client.get("/all.json", headers={"Accept-Encoding": accept_encoding})
    assert response.status_code == 200
    assert ("Content-Encoding" in response.headers) is gzipped
    assert response.headers["Vary"] == vary_for("/all.json")


# ----- errors and redirects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/topics/nope.rss", "/providers/nope.atom", "/all.xml", "/all.RSS.gz", "/topics/ai", "/nope", "/filter.xml"],
)
def test_unknown_paths_get_a_small_404_page_linking_the_index(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'href="{BASE_URL}"'.encode() in response.data
    assert len(response.data) < 1000


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/topics/AI.rss", "topics/ai.rss"),
        ("/topics/Ai.ATOM", "topics/ai.atom"),
        ("/providers/TechCrunch.json", "providers/techcrunch.json"),
        ("/ALL.RSS", None),  # the all feed has its own route; other case is simply not found
        ("/topics/artificial-intelligence.rss", "topics/ai.rss"),
        ("/topics/Artificial-Intelligence.json", "topics/ai.json"),
    ],
)
def test_other_case_and_topic_aliases_redirect_permanently_to_the_canonical_url(client, url, location):
    response = client.get(url, headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    if location is None:
        assert response.status_code == 404
        return
    assert response.status_code == 301
    assert response.headers["Location"] == BASE_URL + location
    assert client.get(response.headers["Location"].removeprefix(BASE_URL.rstrip("/"))).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_with_allow(client, method):
    response = client.open("/all.rss", method=method, data=b"x")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


LONG = "/topics/" + "a" * 600 + ".rss"
HOSTILE = [
    # (method, path, headers, expected status or None for "anything but 5xx")
    ("GET", "/topics/a%2Fb.rss", {}, 404),
    ("GET", "/topics/..%2Fall.rss", {}, 404),
    ("GET", "/topics/%2e%2e/all.rss", {}, 404),
    ("GET", "/topics/%2e%2e", {}, 404),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", {}, 404),
    ("GET", "/all.rss%00", {}, 404),
    ("GET", "/topics/ai%00.rss", {}, 404),
    ("GET", "/topics/ai.rss%00.html", {}, 404),
    ("GET", "/all.rss%0D%0AX-Injected:%20yes", {}, 404),
    ("GET", "/topics/%0d%0aSet-Cookie:x=1.rss", {}, 404),
    ("GET", LONG, {}, 404),
    ("GET", "/topics/" + "A" * 600 + ".rss", {}, 404),
    ("GET", "/all.rss/", {}, 404),
    ("GET", "/topics//ai.rss", {}, 404),
    ("GET", "/topics/%C0%AE%C0%AE.rss", {}, 404),
    ("GET", "/topics/%ff%fe.rss", {}, 404),
    ("GET", "/topics/\u00e9.rss", {}, 404),
    ("GET", "/all.rss", {"If-None-Match": "garbage"}, 200),
    ("GET", "/all.rss", {"If-None-Match": '"unterminated'}, 200),
    ("GET", "/all.rss", {"If-None-Match": "W/"}, 200),
    ("GET", "/all.rss", {"If-None-Match": ',,,"'}, 200),
    ("GET", "/all.rss", {"If-Modified-Since": "yesterday"}, 200),
    ("GET", "/all.rss", {"If-Modified-Since": "Sun, 99 Foo 99999 99:99:99 GMT"}, 200),
    ("GET", "/all.rss", {"If-Modified-Since": "Sat, 01 Jan 0000 00:00:00 GMT"}, 200),
    ("GET", "/all.rss", {"If-Modified-Since": "9" * 400}, 200),
    ("GET", "/all.rss", {"If-Match": "garbage"}, None),
    ("GET", "/all.rss", {"If-Range": "garbage", "Range": "bytes=0-10"}, 200),
    ("GET", "/all.rss", {"Range": "bytes=-5-x"}, 200),
    ("GET", "/all.rss", {"Accept-Encoding": "gzip;q=nan"}, 200),
    ("GET", "/all.rss", {"Accept-Encoding": "gzip;q=1e9, *;q=-1"}, 200),
    ("GET", "/all.rss", {"Accept-Encoding": "\u00ff\u00fe"}, 200),
    ("GET", "/all.rss", {"Accept-Encoding": "gzip;" * 500}, 200),
    ("GET", "/all.rss", {"Host": "evil.example"}, 200),
    ("GET", "/all.rss", {"Host": "[::1"}, 200),
    ("GET", "/all.rss", {"Host": "a b c"}, 200),
    ("GET", "/all.rss", {"Host": "x" * 2000}, None),
    ("GET", "/all.rss", {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "gopher"}, 200),
    ("GET", "/all.rss", {"X-Forwarded-Proto": "https, http", "X-Forwarded-Port": "-1"}, 200),
    ("GET", "/", {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}, 200),
    ("GET", "/feeds.opml", {"Host": "evil.example:99999"}, 200),
    ("GET", "/filter.rss?topic=ai", {"Host": "evil.example", "X-Forwarded-Prefix": "/evil"}, 200),
    ("GET", "/filter.rss?topic=%00", {}, 400),
    ("GET", "/filter.rss?topic=%0b", {}, 400),
    ("GET", "/filter.rss?q=%c2%85", {}, 400),
    ("GET", "/filter.rss?topic=%ff", {}, 200),
    ("GET", "/filter.rss?topic=%ef%bf%be", {}, 400),
    ("GET", "/filter.atom?provider=%ed%a0%80", {}, 200),
    ("GET", "/filter.rss?q=%0d%0a", {}, 400),
    ("GET", "/filter.rss?%00=1", {}, 400),
    ("GET", "/filter.rss?min_quality=1e999", {}, 400),
    ("GET", "/filter.rss?min_quality=99999999999999999999", {}, 400),
    ("GET", "/filter.rss?" + "&".join(["topic=a"] * 21), {}, 400),
    ("GET", "/filter.rss?topic=" + "a" * 101, {}, 400),
    ("GET", "/filter.rss?topic", {}, 400),
    ("GET", "/filter.rss?&&&=&", {}, 400),
    ("GET", "/all.rss?" + "x" * 4000, {}, 200),
    ("HEAD", "/topics/%2e%2e", {}, 404),
    ("POST", "/filter.rss?topic=ai", {}, 405),
    ("OPTIONS", "/all.rss", {}, 200),
    ("TRACE", "/all.rss", {}, 405),
    ("BREW", "/all.rss", {}, 405),
    ("GET", "/healthz", {"Host": "evil.example"}, 200),
]


@pytest.mark.parametrize("path_info", ["//all.rss", "//", "///topics/ai.rss", "//feeds.opml"])
def test_extra_leading_slashes_are_not_found(client, path_info):
    # the test client would read "//all.rss" as a host name, so set PATH_INFO as a server would
    assert client.get("/", environ_overrides={"PATH_INFO": path_info}).status_code == 404


@pytest.mark.parametrize(("method", "path", "headers", "expected"), HOSTILE)
def test_hostile_requests_never_cause_a_server_error(client, method, path, headers, expected):
    response = client.open(path, method=method, headers=headers)
    assert response.status_code < 500
    if expected is not None:
        assert response.status_code == expected
    assert "X-Injected" not in response.headers and "Set-Cookie" not in response.headers
    assert b"evil" not in response.data


@pytest.mark.parametrize("path", ["/all.rss", "/all.atom", "/all.json", "/", "/feeds.opml", "/topics/ai.rss"])
def test_no_request_header_changes_a_byte_of_a_page(client, path):
    reference = client.get(path).data
    for headers in (
        {"Host": "evil.example"},
        {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http", "X-Forwarded-Port": "81"},
        {"Forwarded": "host=evil.example;proto=http", "X-Forwarded-Prefix": "/x"},
        {"Host": "127.0.0.1:9", "X-Original-URL": "/evil", "X-Rewrite-URL": "/evil"},
    ):
        assert client.get(path, headers=headers).data == reference


# ----- filtered feeds -------------------------------------------------------------------------------


def titles(client: FlaskClient, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, response.data
    return [entry.title for entry in feedparser.parse(response.data).entries]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("topic=robotics", ["Robots learn to fold laundry", "Drones deliver medicine"]),
        ("topic=AI", ["Robots learn to fold laundry", "Regulators look at AI models"]),
        ("topic=Artificial%20Intelligence", ["Robots learn to fold laundry", "Regulators look at AI models"]),
        ("topic=drones&topic=chips", ["New chips for machine learning", "Drones deliver medicine"]),
        ("topic=robotics&provider=wired", ["Drones deliver medicine"]),
        ("provider=TechCrunch", ["Robots learn to fold laundry", "Quantum startup raises money"]),
        ("provider=techcrunch&provider=politico", [a[1] for a in ARTICLES if a[3] != "Wired"]),
        ("min_quality=65", ["Robots learn to fold laundry", "Regulators look at AI models", "Drones deliver medicine"]),
        ("min_quality=65&provider=wired", ["Drones deliver medicine"]),
        ("q=MEDICINE", ["Drones deliver medicine"]),
        ("q=qubits", ["Quantum startup raises money"]),
        ("q=qubit", []),
        ("q=laundry&q=europe", ["Robots learn to fold laundry", "Regulators look at AI models"]),
        ("q=remote+villages", ["Drones deliver medicine"]),
        ("topic=no-such-topic", []),
        ("", [a[1] for a in ARTICLES]),
    ],
)
def test_filter_is_or_within_a_kind_and_across_kinds(client, query, expected):
    assert titles(client, f"/filter.atom?{query}") == expected


def test_equal_filters_in_any_order_or_spelling_give_identical_bytes(client):
    urls = [
        "/filter.rss?topic=robotics&topic=ai&provider=wired&min_quality=10&q=the",
        "/filter.rss?q=The&min_quality=10&provider=Wired&topic=AI&topic=Robotics",
        "/filter.rss?provider=wired&topic=ai&topic=robotics&topic=ai&q=the&min_quality=+10",
        "/filter.rss?topic=Artificial+Intelligence&topic=robotics&provider=wired&min_quality=10&q=the",
    ]
    bodies = {client.get(url).data for url in urls}
    assert len(bodies) == 1


def test_filtered_feed_links_to_its_canonical_url_under_the_base_url(client):
    url = "/filter.json?topic=Robotics&provider=wired&topic=drones"
    response = client.get(url, headers={"Host": "evil.example"})
    canonical = f"{BASE_URL}filter.json?topic=drones&topic=robotics&provider=wired"
    assert response.json["feed_url"] == canonical
    atom = feedparser.parse(client.get("/filter.atom?q=robots").data)
    assert [link.href for link in atom.feed.links if link.rel == "self"] == [f"{BASE_URL}filter.atom?q=robots"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("color=red", "unknown parameter 'color'"),
        ("topic=", "topic must not be empty"),
        ("q=%21%21", "q must contain a word"),
        ("min_quality=high", "min_quality must be a whole number"),
        ("min_quality=1&min_quality=2", "min_quality may be given once"),
        ("provider=" + "x" * 101, "provider must be at most 100 characters"),
        ("&".join(f"topic=t{i}" for i in range(21)), "at most 20 filter parameters"),
    ],
)
def test_bad_filters_get_400_with_a_one_line_message(client, query, message):
    response = client.get(f"/filter.rss?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = response.data.decode()
    assert message in text
    assert text.count("\n") == 1 and text.endswith("\n")


def test_filtered_feeds_support_conditional_get_and_gzip(client):
    first = client.get("/filter.rss?topic=robotics", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    again = client.get(
        "/filter.rss?topic=robotics", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_filter_requests_beyond_the_free_slots_are_shed_with_503_at_once(app, client):
    """Issue 16: a request finding every filter slot taken holds no thread waiting for one."""
    kept = client.get("/filter.rss?topic=robotics")
    slots = page_cache.page_memo(app.extensions["feeds"].state, app.extensions["feeds"].settings).filter_slots
    for _ in range(page_cache.FILTER_SLOTS):
        assert slots.acquire(blocking=False)
    try:
        shed = client.get("/filter.rss?topic=ai")
        assert shed.status_code == 503
        assert shed.headers["Retry-After"] == page_cache.FILTER_RETRY_AFTER
        assert shed.headers["Cache-Control"] == "no-store"
        assert client.get("/filter.rss?topic=robotics").data == kept.data  # a kept answer needs no slot
        assert client.get("/all.rss").status_code == 200
    finally:
        for _ in range(page_cache.FILTER_SLOTS):
            slots.release()
    assert client.get("/filter.rss?topic=ai").status_code == 200


# ----- health and reload ----------------------------------------------------------------------------


def test_healthz_reports_counts_and_the_load_time(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    health = response.json
    assert health["status"] == "ok"
    assert health["articles"] == len(ARTICLES)
    assert health["files"] == len(ARTICLES)
    assert health["problems"] == 0 and health["errors"] == 0
    assert health["loaded_at"].endswith("Z")
    assert health["last_error"] is None
    assert health["watching"] == "inotify" or health["watching"].startswith(("not started", "polling"))


def test_healthz_counts_problem_files(live_settings):
    (live_settings.articles_dir / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    app = create_app(live_settings)
    health = app.test_client().get("/healthz").json
    app.extensions["feeds"].stop()
    assert health["errors"] == 1 and health["problems"] >= 1


def test_healthz_lists_the_rendered_feeds_over_max_feed_bytes(tmp_path: Path):
    settings = Settings(
        base_url=BASE_URL, articles_dir=make_articles(tmp_path / "articles", samples=True), max_feed_bytes=20_000
    )
    app = create_app(settings)
    client = app.test_client()
    requested = ["topics/ai.rss", "topics/ai.json"]
    for path in requested:
        assert client.get(f"/{path}").status_code == 200
    health = client.get("/healthz").json
    app.extensions["feeds"].stop()
    state = app.extensions["feeds"].state
    rendered = [f"all.{ext}" for ext in settings.formats] + requested  # the all feeds are pre-rendered
    expected = sorted(p for p in rendered if render_path(p, state.catalog, settings).dropped)
    assert "all.rss" in expected and health["over_budget"] == expected
    assert health["websub"] is None  # no hub configured


def test_no_thread_starts_until_the_first_request(live_settings):
    def pollers() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "feeds-reload")

    before = pollers()
    app = create_app(live_settings)
    assert pollers() == before
    app.test_client().get("/healthz")
    assert pollers() == before + 1
    app.extensions["feeds"].stop()
    assert pollers() == before


def test_a_new_article_file_appears_and_a_deleted_one_disappears(app, client, live_settings):
    assert b"Volcano" not in client.get("/all.rss").data
    write_article(live_settings.articles_dir, "new.md", "Volcano sensors go online", ["Science"], "Wired",
                  published_at="2024-06-01T00:00:00Z")  # fmt: skip
    wait_for(lambda: b"Volcano sensors go online" in client.get("/all.rss").data)
    assert client.get("/topics/science.rss").status_code == 200
    assert client.get("/healthz").json["generation"] == 2
    (live_settings.articles_dir / "new.md").unlink()
    wait_for(lambda: b"Volcano" not in client.get("/all.rss").data)
    assert client.get("/topics/science.rss").status_code == 404


def test_an_edited_title_reaches_every_feed_of_the_article_as_a_fresh_build_would(app, client, live_settings):
    """An edit that moves no article keeps the catalog and swaps the article in (update_catalog): same bytes."""
    name, _, topics, provider, quality, published_at, excerpt = ARTICLES[2]
    paths = ["all.rss", "all.atom", "all.json", "topics/ai.rss", "topics/policy.atom", "providers/politico.json"]
    for path in paths:
        assert b"Regulators look at AI models" in client.get(f"/{path}").data
    write_article(live_settings.articles_dir, name, "Regulators rewrite the AI rules", topics, provider, quality,
                  published_at, excerpt)  # fmt: skip
    wait_for(lambda: b"Regulators rewrite the AI rules" in client.get("/all.rss").data)
    live: Live = app.extensions["feeds"]
    fresh = Live(live_settings)  # a new process's catalog: built from scratch
    for path in paths:
        served = client.get(f"/{path}", headers={"Accept-Encoding": "identity"}).data
        assert b"Regulators rewrite the AI rules" in served and b"Regulators look at AI models" not in served
        assert served == render_path(path, fresh.state.catalog, live_settings).body
    assert live.state.catalog == fresh.state.catalog


def test_a_failed_rebuild_keeps_serving_the_last_good_state(app, client, live_settings):
    live: Live = app.extensions["feeds"]
    before = client.get("/all.rss").data

    def broken_loader(settings):
        raise RuntimeError("disk on fire")

    live.loader = broken_loader
    write_article(live_settings.articles_dir, "new.md", "Never shown", ["AI"], "Wired")
    wait_for(lambda: client.get("/healthz").json["last_error"] is not None)
    health = client.get("/healthz").json
    assert health["status"] == "error"
    assert health["last_error"] == "RuntimeError: disk on fire"
    assert health["generation"] == 1 and health["articles"] == len(ARTICLES)
    assert client.get("/all.rss").data == before
    live.loader = read_articles_folder
    (live_settings.articles_dir / "new.md").touch()
    wait_for(lambda: b"Never shown" in client.get("/all.rss").data)
    assert client.get("/healthz").json["last_error"] is None


def test_healthz_shows_a_slow_reload_while_it_runs_and_how_long_it_took(app, client, live_settings):
    """Issue 20: at a million articles a reload that never ended left /healthz at generation 1 with no word why."""
    live: Live = app.extensions["feeds"]
    client.get("/healthz")
    wait_for(lambda: client.get("/healthz").json["last_refresh_seconds"] is not None)  # the first turn is done
    assert client.get("/healthz").json["reloading"] is None
    assert client.get("/healthz").json["last_rebuild_seconds"] is None  # no turn has swapped in new feeds yet
    release = threading.Event()

    def slow_loader(settings):  # the real reader, held until the test has looked
        release.wait(30)
        return read_articles_folder(settings)

    live.loader = slow_loader
    write_article(live_settings.articles_dir, "new.md", "Slowly read", ["AI"], "Wired")
    try:
        wait_for(lambda: client.get("/healthz").json["reloading"] is not None)
        time.sleep(0.3)
        reloading = client.get("/healthz").json["reloading"]
        assert reloading["seconds"] >= 0.3 and reloading["since"].endswith("Z")
        assert "changed file" in reloading["reading"] or "full scan" in reloading["reading"]
        assert client.get("/healthz").json["generation"] == 1  # the old snapshot is served meanwhile
    finally:
        release.set()
    wait_for(lambda: b"Slowly read" in client.get("/all.rss").data)
    wait_for(lambda: client.get("/healthz").json["reloading"] is None)  # the swap, then the filter index
    health = client.get("/healthz").json  # the watcher's next refresh comes with the next change (or in 30 s)
    assert health["reloading"] is None and health["last_refresh_seconds"] >= 0.3 and health["generation"] == 2
    rebuilt = health["last_rebuild_seconds"]
    assert rebuilt >= 0.3
    assert not live.refresh()  # a check that finds nothing new: it leaves the last rebuild's time standing
    assert client.get("/healthz").json["last_rebuild_seconds"] == rebuilt


def test_any_failure_of_a_scan_is_reported_and_the_reload_thread_lives_on(app, client, live_settings, monkeypatch):
    """Issue 16: a RecursionError from the scan escaped refresh's handler and killed the reload thread."""
    live: Live = app.extensions["feeds"]
    client.get("/healthz")
    with monkeypatch.context() as broken:
        def deep_scan(*args, **kwargs):
            raise RecursionError("maximum recursion depth exceeded")

        broken.setattr(live, "_scan", deep_scan)
        write_article(live_settings.articles_dir, "new.md", "After the storm", ["AI"], "Wired")
        wait_for(lambda: client.get("/healthz").json["status"] == "error")
        assert client.get("/healthz").json["last_error"] == "RecursionError: maximum recursion depth exceeded"
    assert live._thread is not None and live._thread.is_alive()
    live.refresh()  # the next turn of the reload thread would do the same
    wait_for(lambda: b"After the storm" in client.get("/all.rss").data)
    assert client.get("/healthz").json["status"] == "ok"


def test_a_reload_thread_that_died_is_started_again_and_reported(app, client, live_settings, monkeypatch):
    live: Live = app.extensions["feeds"]
    client.get("/healthz")
    live._stop.set()  # the thread ends as if it had died (its _pid stays set)
    live._thread.join(10)
    assert not live._thread.is_alive()
    # the new thread's first refresh, finding the folder as it was, clears the report: held until it was read
    # (unheld, a thread that won the race to it made /healthz say no error, a rare failure under load)
    first_turn, refresh = threading.Event(), live.refresh
    monkeypatch.setattr(live, "refresh", lambda *args, **kwargs: first_turn.wait(10) and refresh(*args, **kwargs))
    one_rebuild_at_a_time = live._rebuild
    health = client.get("/healthz").json  # any request starts it again
    first_turn.set()
    assert health["last_error"] == "RuntimeError: the reload thread stopped; started again"
    assert live._thread.is_alive()
    # the same process: a rebuild another thread runs now must still exclude the new thread's (only a fork,
    # whose threads did not come along, gets a fresh lock)
    assert live._rebuild is one_rebuild_at_a_time
    write_article(live_settings.articles_dir, "new.md", "Back again", ["AI"], "Wired")
    wait_for(lambda: b"Back again" in client.get("/all.rss").data)


def test_a_vanished_articles_folder_keeps_the_feeds_and_is_reported(app, client, live_settings):
    before = client.get("/all.rss").data
    moved = live_settings.articles_dir.with_name("moved")
    live_settings.articles_dir.rename(moved)
    wait_for(lambda: client.get("/healthz").json["last_error"] is not None)
    assert "cannot list the articles folder" in client.get("/healthz").json["last_error"]
    assert client.get("/all.rss").data == before
    moved.rename(live_settings.articles_dir)
    wait_for(lambda: client.get("/healthz").json["last_error"] is None)
    assert client.get("/all.rss").data == before


def test_an_app_whose_first_load_fails_starts_and_answers_503_on_healthz(tmp_path):
    settings = Settings(base_url=BASE_URL, articles_dir=tmp_path / "missing", reload_interval=0.2)
    app = create_app(settings)
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "cannot list the articles folder" in health.json["last_error"]
    assert client.get("/all.rss").status_code == 200
    make_articles(tmp_path / "staging").rename(tmp_path / "missing")  # appears whole
    wait_for(lambda: client.get("/healthz").status_code == 200)
    app.extensions["feeds"].stop()
    assert b"Drones deliver medicine" in client.get("/all.rss").data
    assert client.get("/healthz").json["last_error"] is None


# ----- a browser opening a feed's URL gets the feed's page (issue 18) -------------------------------

CHROMIUM_NAVIGATION = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7"
)
XML_READER = "application/atom+xml,application/rss+xml,application/xml;q=0.9,text/html;q=0.7,*/*;q=0.5"
JSON_READER = "application/feed+json, application/json;q=0.9, */*;q=0.8"
# (feed extension, a reader's Accept): none, anything, or its own types first (some list text/html after them)
READER_ACCEPTS = [
    *((extension, accept) for extension in ("rss", "atom", "json") for accept in (None, "*/*")),
    ("rss", XML_READER), ("atom", XML_READER), ("rss", "application/rss+xml"), ("json", JSON_READER),
]  # fmt: skip


@pytest.mark.parametrize("extension", ["rss", "atom", "json"])
def test_a_browser_navigation_to_a_feed_gets_the_feeds_page(client, extension):
    page = client.get("/topics/robotics.html")
    response = client.get(f"/topics/robotics.{extension}", headers={"Accept": CHROMIUM_NAVIGATION})
    assert response.status_code == 200 and response.data == page.data
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Vary"] == "Accept-Encoding, Accept"
    assert response.headers["ETag"] == page.headers["ETag"]
    assert "script-src 'sha256-" in response.headers["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in response.headers
    again = client.get(
        f"/topics/robotics.{extension}", headers={"Accept": CHROMIUM_NAVIGATION, "If-None-Match": page.headers["ETag"]}
    )
    assert again.status_code == 304 and again.headers["Vary"] == "Accept-Encoding, Accept"
    packed = client.get(
        f"/topics/robotics.{extension}", headers={"Accept": CHROMIUM_NAVIGATION, "Accept-Encoding": "gzip"}
    )
    assert gzip.decompress(packed.data) == page.data


@pytest.mark.parametrize(("extension", "accept"), READER_ACCEPTS)
def test_a_reader_gets_the_feed_whatever_it_accepts(client, app, extension, accept):
    response = client.get(f"/topics/robotics.{extension}", headers={"Accept": accept} if accept else {})
    state = app.extensions["feeds"].state
    settings = app.extensions["feeds"].settings
    assert response.data == render_path(f"topics/robotics.{extension}", state.catalog, settings).body
    assert response.headers["Vary"] == "Accept-Encoding, Accept"
    assert "Content-Security-Policy" not in response.headers


def test_archive_pages_and_filters_are_not_negotiated(client):
    for url in ("/filter.rss?topic=robotics", "/index.html", "/topics/robotics.html"):
        response = client.get(url, headers={"Accept": CHROMIUM_NAVIGATION})
        assert response.status_code == 200 and "Accept" not in response.headers["Vary"].split(", "), url
    assert client.get("/filter.rss?topic=robotics", headers={"Accept": CHROMIUM_NAVIGATION}).headers[
        "Content-Type"
    ].startswith("application/rss+xml")
    assert client.get("/feed.xsl").status_code == 404  # no XSLT any more


class Unpolled(Live):
    """A Live whose reload thread never starts: the test takes the reload thread's turns itself (refresh)."""

    def ensure_polling(self) -> None:
        pass


def test_a_damaged_parse_cache_is_a_503_and_a_reread_not_a_500(tmp_path: Path) -> None:
    """A page needs details the parse cache lost, of a file that changed since (cached_details.CacheDamaged):
    it was a 500 until the next reload. Now a 503 with Retry-After, and the next turn of the reload
    thread discards the cache and reads every file again, as `feeds export` does."""
    folder = make_articles(tmp_path / "articles")
    # the oldest article, on no hot page (all.*, index), so only its topic's feed needs its details;
    # a title of its own: items are memoised by value (feeds.render.xmlfeed.xml_item)
    write_article(folder, "old.md", "Damaged cache test: the original", ["Cachedamage"], "Wired",
                  published_at="2001-01-01T00:00:00Z")  # fmt: skip
    settings = Settings(base_url=BASE_URL, articles_dir=folder, items_per_feed=2)
    Live(settings)  # the first load fills the parse cache
    live = Unpolled(settings)  # this one restores every article from it, details left in the database
    client = create_app(settings, live=live).test_client()
    with closing(sqlite3.connect(cache_path(settings))) as database, database:
        database.execute("DELETE FROM details")  # the damage
    write_article(folder, "old.md", "Damaged cache test: rewritten", ["Cachedamage"], "Wired",
                  published_at="2001-01-01T00:00:00Z")  # fmt: skip
    response = client.get("/topics/cachedamage.rss")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    assert live.refresh()  # the reload thread's next turn
    response = client.get("/topics/cachedamage.rss")
    assert response.status_code == 200 and b"Damaged cache test: rewritten" in response.data
    assert client.get("/healthz").json["status"] == "ok"
