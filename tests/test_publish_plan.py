"""The publish plan: targets, manifests, the state object, and the plan's contract as properties."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.bucket.plan import (
    UPLOAD_ORDER,
    Entry,
    Manifest,
    PlanError,
    Target,
    decode_state,
    encode_state,
    make_plan,
    parse_manifest,
    parse_target,
    public_urls,
    tier_of,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s3://bucket", Target("bucket", "")),
        ("s3://bucket/", Target("bucket", "")),
        ("s3://my.bucket-1/news", Target("my.bucket-1", "news/")),
        ("s3://bucket//a//b/", Target("bucket", "a/b/")),
    ],
)
def test_targets(text: str, expected: Target) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    "text",
    ["bucket", "https://bucket/x", "s3://", "s3://ab", "s3://UPPER", "s3://a_b/x", "s3://b..c/x", "s3://bucket/a/../b",
     "s3://bucket/./b", "s3://bucket/x?y=1", "s3://bucket/x#y", "s3://bucket/a\nb"],
)  # fmt: skip
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(PlanError):
        parse_target(text)


def _manifest(files: list[dict], base_url: str = "https://e.example/") -> bytes:
    return json.dumps({"base_url": base_url, "files": files, "version": 1}).encode()


def _file(path: str, **changes) -> dict:
    entry = {"path": path, "content_type": "application/rss+xml; charset=utf-8",
             "cache_control": "public, max-age=300", "size": 3, "sha256": "a" * 64, "encodings": {}}  # fmt: skip
    return {**entry, **changes}


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ([_file("../x.rss")], "bad path"),
        ([_file("/abs.rss")], "bad path"),
        ([_file("_headers")], "bad path"),
        ([_file("a//b.rss")], "bad path"),
        ([_file("a.rss", content_type="text/html\r\nX-Evil: 1")], "content_type"),
        ([_file("a.rss", cache_control="")], "cache_control"),
        ([_file("a.rss"), _file("b.rss", content_type=["text/html"])], "content_type"),  # unhashable, not a crash
        ([_file("a.rss", cache_control={"max-age": 1})], "cache_control"),
        ([_file("a.rss", sha256="xyz")], "sha256"),
        ([_file("a.rss", size=-1)], "size"),
        ([_file("a.rss"), _file("a.rss")], "listed twice"),
    ],
)
def test_bad_manifests_are_refused_naming_the_path(files: list[dict], fragment: str) -> None:
    with pytest.raises(PlanError, match=fragment):
        parse_manifest(_manifest(files), "out/_manifest.json")


def test_a_manifest_ignores_gz_twins_and_keeps_the_base_url() -> None:
    files = [_file("all.rss", encodings={"gzip": {"path": "all.rss.gz", "size": 2, "sha256": "b" * 64}})]
    manifest = parse_manifest(_manifest(files, "https://e.example/news"), "m")
    assert list(manifest.entries) == ["all.rss"] and manifest.base_url == "https://e.example/news/"


@pytest.mark.parametrize(
    ("path", "content_type", "step"),
    [
        ("archive/topics/ai/1.rss", "application/rss+xml; charset=utf-8", "pages and archive pages"),
        ("feed.xsl", "text/xsl; charset=utf-8", "pages and archive pages"),
        ("topics/ai.html", "text/html; charset=utf-8", "pages and archive pages"),
        ("topics/ai.rss", "application/rss+xml; charset=utf-8", "feeds"),
        ("all.json", "application/feed+json; charset=utf-8", "feeds"),
        ("feeds/x.atom", "application/atom+xml; charset=utf-8", "feeds"),
        ("index.html", "text/html; charset=utf-8", "lists of feeds"),
        ("feeds.opml", "text/x-opml; charset=utf-8", "lists of feeds"),
    ],
)
def test_upload_order(path: str, content_type: str, step: str) -> None:
    assert UPLOAD_ORDER[tier_of(Entry(path, content_type, "c", 1, "a" * 64))].name == step


def test_the_index_is_purged_at_its_folder_url_too() -> None:
    assert public_urls("https://e.example/n/", ["index.html", "all.rss", "index.html"]) == [
        "https://e.example/n/index.html", "https://e.example/n/", "https://e.example/n/all.rss",
    ]  # fmt: skip


_PATHS = st.sampled_from(
    ["index.html", "feeds.opml", "all.rss", "all.atom", "topics/ai.rss", "archive/topics/ai/1.rss", "feed.xsl"]
)
_FACTS = st.tuples(
    st.sampled_from(["a" * 64, "b" * 64]),
    st.sampled_from(["application/rss+xml; charset=utf-8", "text/html; charset=utf-8"]),
    st.sampled_from(["public, max-age=300", "public, max-age=60"]),
)
_STATES = st.dictionaries(_PATHS, st.none() | _FACTS)


@given(_STATES)
def test_the_state_object_round_trips_and_is_deterministic(state) -> None:
    assert decode_state(encode_state(state)) == state
    assert encode_state(state) == encode_state(dict(reversed(list(state.items()))))


@pytest.mark.parametrize("data", [b"", b"not gzip", encode_state({})[:-3]])
def test_a_damaged_state_object_is_a_plan_error(data: bytes) -> None:
    with pytest.raises(PlanError, match="damaged"):
        decode_state(data)


@given(st.dictionaries(_PATHS, _FACTS), _STATES, st.sets(_PATHS))
def test_a_plan_is_exactly_the_difference_and_its_result_needs_no_further_plan(facts, state, kept) -> None:
    manifest = Manifest("https://e.example/", {p: Entry(p, f[1], f[2], 1, f[0]) for p, f in facts.items()})
    plan = make_plan(manifest, state)
    uploaded = {entry.path for tier in plan.uploads for entry in tier}
    assert uploaded == {p for p in facts if state.get(p) != facts[p]}
    assert set(plan.deletions) == set(state) - set(facts)
    assert plan.unchanged + len(uploaded) == len(facts)
    assert all(tier_of(entry) == rank for rank, tier in enumerate(plan.uploads) for entry in tier)
    # killed after the intent was stored: whatever the export holds next, every path in flight goes up again
    assert make_plan(manifest, plan.intent(state)).uploads == plan.uploads
    # done (deletions kept back where asked): only the kept deletions remain to be done
    kept_back = [p for p in plan.deletions if p in kept]
    after = plan.done(kept_back, state)
    assert make_plan(manifest, after).upload_count == 0
    assert set(make_plan(manifest, after).deletions) == set(kept_back)
