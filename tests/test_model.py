"""The model: frozen values, Problem's one-line format, and stages importing only backwards."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.model import (
    ARTICLE_FIELDS,
    DETAIL_FIELDS,
    HEAD_FIELDS,
    Article,
    Image,
    Problem,
    Provider,
    Related,
    Severity,
    details_record,
    head_record,
    pack_details,
    record_digest,
    unpack_details,
)
from tests.project_modules import imports


def _article(**changes: object) -> Article:
    values: dict[str, object] = {
        "source": "a.md",
        "uid": "urn:uuid:x",
        "title": "T",
        "link": "https://e.com/a",
        "published_at": datetime(2024, 1, 1, tzinfo=UTC),
    }
    return Article(**{**values, **changes})


def test_values_are_frozen_and_hashable() -> None:
    article = _article(images=(Image("https://e.com/i.jpg", 10, 20),), provider=Provider("E", "e.com"))
    related = Related("R", "https://r.com/")
    for value, name in [(article, "title"), (article.images[0], "url"), (article.provider, "name"), (related, "link")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, "changed")
    assert hash(article) == hash(_article(images=article.images, provider=article.provider))


def test_lead_image_is_the_first_image() -> None:
    assert _article().lead_image is None
    first, second = Image("https://e.com/1.jpg"), Image("https://e.com/2.jpg")
    assert _article(images=(first, second)).lead_image is first


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (Problem("a.md", Severity.ERROR, "bad", 3), "a.md:3: error: bad"),
        (Problem("dir/a.md", Severity.WARNING, "meh"), "dir/a.md: warning: meh"),
    ],
)
def test_problem_is_one_line(problem: Problem, text: str) -> None:
    assert str(problem) == text
    assert problem.is_error is (problem.severity is Severity.ERROR)


# STYLE §1: model ← config ← reader (text, file_text, mojibake and safe_yaml are the reader's helpers; front_matter,
# yaml_scalars and yaml_problems are safe_yaml's); nothing imports forwards. tests/test_architecture.py
# checks the same for every module.
ALLOWED = {
    "model": set(),
    "read.mojibake": set(),
    "read.text": {"read.mojibake"},
    "read.file_text": {"read.mojibake"},
    "read.front_matter": set(),
    "read.yaml_scalars": set(),
    "read.yaml_problems": {"read.yaml_scalars"},
    "read.safe_yaml": {"read.front_matter", "read.yaml_scalars", "read.yaml_problems"},
    "read.dates": set(),
    "config_values": {"formats"},
    "config": {"model", "formats", "config_values"},
    "read.file_problems": {"model", "read.safe_yaml"},
    "read.clean_shapes": {"model", "config", "read.text", "read.dates"},
    "read.article_fields": {
        "model",
        "config",
        "read.text",
        "read.dates",
        "read.safe_yaml",
        "read.file_problems",
        "read.clean_shapes",
    },
    "read.article_files": {"model"},
    "read.reader": {
        "model",
        "config",
        "read.text",
        "read.file_text",
        "read.safe_yaml",
        "read.article_fields",
        "read.article_files",
        "read.file_problems",
    },
}


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_foundation_modules_import_only_backwards(module: str) -> None:
    imported, _ = imports(module)
    assert imported <= ALLOWED[module], imported - ALLOWED[module]


def test_deferred_details_decode_once_and_can_be_released_and_decoded_again() -> None:
    from feeds.model import details_record, head_record, pack_details, unpack_details

    article = _article(summary="S", images=(Image("https://e.com/i.jpg", 10, 20),), provider=Provider("E", "e.com"))
    calls = []

    def unpack(packed: bytes) -> tuple:
        calls.append(packed)
        return unpack_details(packed)

    deferred = Article.restore(head_record(article), pack_details(details_record(article)), unpack)
    assert calls == [] and deferred.source == article.source  # the head needs no decoding
    assert deferred == article and deferred.title == "T" and len(calls) == 1
    deferred.release_details()
    assert deferred.images == article.images and len(calls) == 2
    article.release_details()  # an article built whole has nothing to release
    assert article.title == "T"
    with pytest.raises(dataclasses.FrozenInstanceError):
        deferred.title = "changed"  # type: ignore[misc]


# ----- the one field declaration: every derived form holds every value ------------------------------

_texts = st.text(max_size=20)
_urls = st.from_regex(r"https://[a-z]{1,8}\.org/[a-z0-9]{0,8}", fullmatch=True)
# fold=0: a UTC datetime the reader makes never has fold set (equal either way; only repr shows it)
_moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(fold=0)
)
_providers = st.none() | st.builds(Provider, _texts, st.none() | st.from_regex(r"[a-z]{1,8}\.com", fullmatch=True))
_images = st.builds(Image, _urls, st.none() | st.integers(0, 10_000), st.none() | st.integers(0, 10_000))
_counts = st.none() | st.integers(-(2**40), 2**40)
_articles = st.builds(
    Article, source=_texts, uid=_texts, title=_texts, link=_urls, published_at=_moments, summary=_texts,
    original_url=st.none() | _urls, web_url=st.none() | _urls, amp_url=st.none() | _urls,
    cdn_amp_url=st.none() | _urls, category=st.none() | _texts, kind=st.none() | _texts, quality=_counts,
    heat=_counts, published=st.booleans(), provider=_providers, topics=st.lists(_texts, max_size=3).map(tuple),
    images=st.lists(_images, max_size=3).map(tuple),
    related=st.lists(
        st.builds(Related, _texts, _urls, _texts, st.none() | _moments, _providers, st.none() | _images), max_size=2
    ).map(tuple),
    featured_embed_url=st.none() | _urls, body=_texts,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(_articles)
def test_an_article_restored_from_its_records_equals_the_article_built_whole(article: Article) -> None:
    """Article.restore (the parse cache's fast constructor) against the dataclass constructor."""
    packed = pack_details(details_record(article))
    head = head_record(article)
    restored = Article.restore(head, packed, unpack_details, record_digest(head, packed))
    assert [getattr(restored, name) for name in HEAD_FIELDS] == [getattr(article, name) for name in HEAD_FIELDS]
    assert restored.values() == article.values() and restored == article and hash(restored) == hash(article)
    assert restored.digest == article.digest and repr(restored) == repr(article)
    restored.release_details()
    assert restored.values() == article.values() and restored.replace(title="x") == article.replace(title="x")
    assert set(HEAD_FIELDS) | set(DETAIL_FIELDS) == set(ARTICLE_FIELDS) and not set(HEAD_FIELDS) & set(DETAIL_FIELDS)
