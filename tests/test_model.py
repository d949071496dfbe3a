"""The model: frozen values, Problem's one-line format, and stages importing only backwards."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime

import pytest

from feeds.model import Article, Image, Problem, Provider, Related, Severity
from tests.conftest import PROJECT


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


# STYLE §1: model ← config ← reader (text and safe_yaml are the reader's helpers); nothing imports
# forwards. tests/test_architecture.py checks the same for every module.
ALLOWED = {
    "model": set(),
    "text": set(),
    "safe_yaml": set(),
    "dates": set(),
    "config": {"model", "formats"},
    "article_fields": {"model", "config", "text", "dates", "safe_yaml"},
    "reader": {"model", "config", "text", "safe_yaml", "article_fields"},
}


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_foundation_modules_import_only_backwards(module: str) -> None:
    tree = ast.parse((PROJECT / "feeds" / f"{module}.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("feeds."):
            imported.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "feeds":
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name.split(".")[1] for a in node.names if a.name.startswith("feeds.")}
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
