"""update_catalog, a reload's shortcut: an edit swapped in or a new file placed gives what building anew gives."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from feeds.config import FeedDefinition
from feeds.index.catalog import build_catalog
from feeds.index.catalog_update import update_catalog
from feeds.model import Provider
from feeds.read.reader import read_folder
from tests.conftest import SAMPLES
from tests.test_catalog import article, catalog_rows, make_settings, provider_names, topic_names
from tests.test_configured import SAMPLE_ARTICLES, configured, definitions, random_definition


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    catalog_rows,
    st.integers(0, 25),
    st.tuples(st.lists(topic_names, max_size=3), provider_names, st.integers(-1, 6)),
    st.booleans(),
    st.sampled_from([1, 3, 50]),
)
def test_a_catalog_with_one_article_added_is_what_building_it_anew_gives(rows, at, added, published, limit) -> None:
    """update_catalog's placing of a new file (issue 20: at a million articles a new file sorted and grouped them all)
    against build_catalog: anywhere in path order, any date (ties too), spellings that rename a feed or add one,
    unpublished, feeds of one item or of fifty."""
    old = [article(i, topics=t, provider=p, hours=h) for i, (t, p, h) in enumerate(rows)]
    topics, provider, hours = added
    new = list(old)
    new.insert(at % (len(old) + 1), article(1000, topics=topics, provider=provider, hours=hours, published=published))
    settings = make_settings(items_per_feed=limit)
    previous = build_catalog(old, settings)
    updated = update_catalog(previous, old, new, settings)
    fresh = build_catalog(new, settings)
    assert updated == fresh
    assert updated.spellings == fresh.spellings
    held = {id(a) for feed in updated.feeds for a in (*feed.items, *feed.older)}
    assert held <= {id(a) for a in new}
    kept = [after is before for before, after in zip(previous.feeds, updated.feeds, strict=False)]  # feeds may be added
    if any(kept):  # placed, not built anew: exactly the feeds the article joined are new objects
        joined = [any(a is new[at % (len(old) + 1)] for a in (*feed.items, *feed.older)) for feed in updated.feeds]
        assert kept == [not joins for joins in joined]


def test_a_new_article_of_known_feeds_is_placed_and_leaves_every_other_feed_as_it_was() -> None:
    """The fast path itself runs (the property test above holds only its result equal): an article that
    joins existing feeds under their own spellings changes exactly those feeds' objects."""
    old = [article(0, topics=["AI"], provider="IGN", hours=1), article(1, topics=["Space"], provider="NASA", hours=2)]
    new = [*old, article(2, topics=["AI"], provider="IGN", hours=3)]
    settings = make_settings()
    previous = build_catalog(old, settings)
    updated = update_catalog(previous, old, new, settings)
    assert updated == build_catalog(new, settings)
    untouched = [feed.path for feed in previous.feeds if "ai" not in feed.path and "ign" not in feed.path
                 and feed.path != "all"]  # fmt: skip
    assert untouched and all(updated.get(path) is previous.get(path) for path in untouched)
    assert updated.get("all") is not previous.get("all") and new[2] in updated.get("all").items


EDITS = ("title", "summary", "hours", "topics", "provider", "published", "remove", "add")


@hypothesis_settings(max_examples=80, deadline=None)
@given(
    catalog_rows,
    st.lists(st.tuples(st.integers(0, 24), st.sampled_from(EDITS)), min_size=1, max_size=3),
)
def test_updating_a_catalog_gives_what_building_it_anew_gives(rows, edits) -> None:
    """update_catalog (a reload's shortcut) against build_catalog, for edits that move articles and that do not."""
    old = [article(i, topics=t, provider=p, hours=h) for i, (t, p, h) in enumerate(rows)]
    new = list(old)
    for index, edit in edits:
        if not new:
            break
        at = index % len(new)
        if edit == "title":
            new[at] = new[at].replace(title=new[at].title + " (corrected)")
        elif edit == "summary":
            new[at] = new[at].replace(summary="A new summary.")
        elif edit == "hours":
            new[at] = new[at].replace(published_at=new[at].published_at + timedelta(hours=index + 1))
        elif edit == "topics":
            new[at] = new[at].replace(topics=(*new[at].topics[1:], "Fresh Topic"))
        elif edit == "provider":
            new[at] = new[at].replace(provider=Provider("Newcomer", None))
        elif edit == "published":
            new[at] = new[at].replace(published=not new[at].published)
        elif edit == "remove":
            del new[at]
        else:
            new.append(article(1000 + index, topics=["AI"], hours=index))
    settings = make_settings(items_per_feed=3)
    previous = build_catalog(old, settings)
    updated = update_catalog(previous, old, new, settings)
    assert updated == build_catalog(new, settings)
    held = {id(a) for feed in updated.feeds for a in (*feed.items, *feed.older)}
    assert held <= {id(a) for a in new}  # never an object of the old folder: its details may be stale
    if all(edit in ("title", "summary") for _, edit in edits):  # nothing moved: the old feeds were kept
        changed = {id(a) for a in new} - {id(a) for a in old}
        for before, after in zip(previous.feeds, updated.feeds, strict=True):
            if not changed & {id(a) for a in (*after.items, *after.older)}:
                assert after is before


def test_an_edited_title_that_moves_an_article_into_a_configured_feed_is_seen_on_update() -> None:
    settings = configured(feeds=(FeedDefinition("zebra", None, None, (("query", ("zebra",)),)),))
    old = read_folder(SAMPLES, settings).articles
    previous = build_catalog(old, settings)
    assert previous.get("feeds/zebra").items == ()
    new = list(old)
    edited = next(index for index, a in enumerate(old) if a.published)
    new[edited] = dataclasses.replace(old[edited], title="A zebra story")
    updated = update_catalog(previous, old, new, settings)
    assert updated.get("feeds/zebra").items == build_catalog(new, settings).get("feeds/zebra").items == (new[edited],)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=random_definition(), leaving=st.integers(0, 1000))
def test_a_new_article_placed_into_configured_feeds_is_what_building_anew_gives(definition, leaving) -> None:
    """update_catalog's placing of one new file (issue 20) with configured feeds, which resolve names against the
    families built before them: each sample article in turn is the newcomer, under the shipped and a random filter."""
    settings = configured(feeds=(*definitions(), definition))
    new = list(SAMPLE_ARTICLES)
    old = new[: leaving % len(new)] + new[leaving % len(new) + 1 :]
    previous = build_catalog(old, settings)
    assert update_catalog(previous, old, new, settings) == build_catalog(new, settings)
