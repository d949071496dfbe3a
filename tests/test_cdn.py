"""CDN metadata: _headers rules give every path the app's headers; types come from the renderer."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.config import Settings
from feeds.folder.cdn import (
    FileInfo,
    ManifestLines,
    header_patterns,
    media_types_by_extension,
    render_headers,
    render_manifest,
    render_nginx,
)
from feeds.index.catalog import Catalog, build_catalog
from feeds.read.reader import read_folder
from feeds.render.site import INDEX_PATH, render_path, site_paths

from .conftest import BASE_URL, REAL_CORPUS, SAMPLES, require_shared


def parse_headers_file(text: str) -> list[tuple[str, dict[str, str]]]:
    """Netlify / Cloudflare Pages ``_headers``: a URL pattern, then indented ``Name: value`` lines."""
    rules: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("/"):
            rules.append((line.strip(), {}))
        else:
            name, _, value = line.strip().partition(":")
            assert name not in rules[-1][1]
            rules[-1][1][name] = value.strip()
    return rules


def headers_for(rules: list[tuple[str, dict[str, str]]], url_path: str) -> dict[str, str]:
    """Both hosts apply every matching rule; a splat matches any characters."""
    found: dict[str, str] = {}
    for pattern, headers in rules:
        if re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), url_path):
            for name, value in headers.items():
                assert name not in found, f"{url_path}: {name} set by two rules (hosts would join them)"
                found[name] = value
    return found


def load(articles) -> tuple[Settings, Catalog]:
    settings = Settings(base_url=BASE_URL, articles_dir=articles, cache_max_age=600)
    return settings, build_catalog(read_folder(articles, settings).articles, settings)


def types_of(settings: Settings, catalog: Catalog) -> dict[str, str]:
    return {path: render_path(path, catalog, settings).media_type for path in site_paths(catalog, settings)}


@pytest.mark.parametrize("corpus", ["samples", "real"])
def test_headers_file_gives_every_path_the_apps_type_and_cache_control(corpus: str) -> None:
    settings, catalog = load(SAMPLES if corpus == "samples" else require_shared(REAL_CORPUS))
    types = types_of(settings, catalog)
    rules = parse_headers_file(render_headers(types, settings).decode("utf-8"))
    assert len(rules) <= 100  # Cloudflare Pages' limit, whatever the number of feeds
    for path, media_type in [*types.items(), ("", types[INDEX_PATH])]:
        headers = headers_for(rules, "/" + path)
        assert headers["Content-Type"] == media_type, path
        assert headers["Cache-Control"] == "public, max-age=600"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers.get("Access-Control-Allow-Origin") == (None if path == "" or path.endswith(".html") else "*")


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["index.html", "all.rss"], ["/index.html", "/all.rss"]),
        (["topics/ai.rss", "topics/ml.rss", "topics/ai.atom"], ["/topics/*.rss", "/topics/*.atom"]),
        (["providers/ign.json"], ["/providers/*.json"]),
    ],
)
def test_header_patterns_are_root_files_and_folder_extension_splats(paths: list[str], expected: list[str]) -> None:
    assert header_patterns(paths) == expected


def test_one_extension_with_two_types_is_a_bug_not_a_guess() -> None:
    with pytest.raises(ValueError, match=r"\.rss"):
        media_types_by_extension({"all.rss": "application/rss+xml", "topics/x.rss": "text/xml"})


def test_nginx_snippet_takes_its_types_from_the_renderer() -> None:
    settings, catalog = load(SAMPLES)
    snippet = render_nginx(types_of(settings, catalog), settings).decode("utf-8")
    for extension, media_type in media_types_by_extension(types_of(settings, catalog)).items():
        assert re.search(rf'^\s+"{re.escape(media_type)}"\s+{extension};$', snippet, re.MULTILINE)
    assert 'add_header Cache-Control "public, max-age=600";' in snippet
    assert "location ~ ^/_ {" in snippet


def test_nginx_snippet_refuses_a_value_that_would_break_out_of_its_quotes() -> None:
    settings = Settings(base_url=BASE_URL)
    with pytest.raises(ValueError, match="nginx"):
        render_nginx({"all.rss": 'application/rss+xml"; evil'}, settings)


_SIZES = st.tuples(st.integers(0, 3), st.sampled_from(["x", "y"]))
# a site: each path's (size and digest, type, its .gz's size and digest or none), and the cache rule's max age
_SITES = st.tuples(
    st.dictionaries(
        st.sampled_from(["all.rss", "a/b.atom", "c.json", "index.html"]),
        st.tuples(_SIZES, st.sampled_from(["application/rss+xml", "text/plain"]), st.none() | _SIZES),
        max_size=4,
    ),
    st.sampled_from([0, 600]),
)


@given(st.lists(_SITES, min_size=1, max_size=4))
def test_manifest_lines_carried_over_give_the_bytes_of_a_fresh_manifest(sites: list[tuple[dict, int]]) -> None:
    """ManifestLines (kept by an exporter between `--watch` runs) is only a memo: any sequence of
    manifests rendered with one gives, each time, the bytes rendering without it gives, whatever
    changed in between: a file, its type, an encoding alone, the cache rule (settings reloaded)."""
    memo = ManifestLines()
    for site, max_age in sites:
        settings = Settings(base_url=BASE_URL, cache_max_age=max_age)
        types = {path: media_type for path, (_, media_type, _) in site.items()}
        infos = {path: FileInfo(*info) for path, (info, _, _) in site.items()}
        infos |= {path + ".gz": FileInfo(*gz) for path, (_, _, gz) in site.items() if gz is not None}
        assert render_manifest(types, infos, settings, memo) == render_manifest(types, infos, settings)


def _headers_by_search(types: dict[str, str], settings: Settings) -> bytes:
    """render_headers as it was before issue 20: each pattern's sample found by a search over every path."""
    cache = f"public, max-age={settings.cache_max_age}"
    lines = [
        "# Generated by `feeds export`: HTTP headers for Netlify and Cloudflare Pages.",
        "# The host reads this file and does not serve it.",
        "/*",
        "  X-Content-Type-Options: nosniff",
    ]
    paths = list(types)
    for pattern in header_patterns(paths):
        sample = next(p for p in paths if header_patterns([p]) == [pattern])
        lines += ["", pattern, f"  Content-Type: {types[sample]}", f"  Cache-Control: {cache}"]
        if not sample.endswith(".html"):
            lines.append("  Access-Control-Allow-Origin: *")
        if pattern == "/index.html":
            lines += ["", "/", f"  Content-Type: {types[sample]}", f"  Cache-Control: {cache}"]
    return ("\n".join(lines) + "\n").encode("utf-8")


_SEGMENT = st.sampled_from(["all", "topics", "providers", "archive", "feeds", "ai", "ign", "3", "index"])
_SITE_PATH = st.builds(
    lambda folders, name, ext: "/".join([*folders, f"{name}.{ext}"]),
    st.lists(_SEGMENT, max_size=3), _SEGMENT, st.sampled_from(["rss", "atom", "json", "html", "opml"]),
)  # fmt: skip


@given(st.lists(_SITE_PATH, unique=True, max_size=40), st.integers(min_value=0, max_value=86_400))
def test_render_headers_equals_the_search_for_each_patterns_first_path(paths: list[str], max_age: int) -> None:
    types = {path: f"type/{path.rpartition('.')[2]}; n={len(path) % 3}" for path in paths}
    settings = Settings(base_url=BASE_URL, cache_max_age=max_age)
    assert render_headers(types, settings) == _headers_by_search(types, settings)
