"""Feed signatures: equal signature means equal bytes, and a change touches only its feeds."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from feeds.config import FeedDefinition, Settings
from feeds.index.catalog import build_catalog
from feeds.index.catalog_update import update_catalog
from feeds.read.reader import read_folder
from feeds.render.feed import Format, render_feed
from feeds.render.signature import SignatureMemo, Signer
from feeds.render.site import render_path

from .conftest import BASE_URL, SAMPLES


def _signatures(articles, settings: Settings) -> tuple[dict[str, str], dict[str, bytes]]:
    catalog = build_catalog(articles, settings)
    signer = Signer(catalog, settings)
    signatures, bodies = {}, {}
    for feed in catalog.feeds:
        for fmt in Format:
            path = f"{feed.path}.{fmt.extension}"
            signatures[path] = signer.feed(feed, fmt.extension)
            bodies[path] = render_feed(feed, fmt, catalog, settings).body
        page = f"{feed.path}.html"  # the feed's page is signed like its documents
        signatures[page] = signer.document(feed, 0, "html")
        bodies[page] = render_path(page, catalog, settings).body
    return signatures, bodies


def test_one_changed_article_changes_only_the_feeds_it_belongs_to() -> None:
    settings = Settings(base_url=BASE_URL, include_unpublished=True)
    articles = list(read_folder(SAMPLES, settings).articles)
    before, before_bodies = _signatures(articles, settings)

    target = max(articles, key=lambda a: a.published_at)
    changed = target.replace(
        title=target.title + " (updated)", published_at=target.published_at + timedelta(minutes=1)
    )
    after, after_bodies = _signatures([changed if a is target else a for a in articles], settings)

    differing = {path.rsplit(".", 1)[0] for path in before if before[path] != after.get(path)}
    holding = {feed.path for feed in build_catalog(articles, settings).feeds if target in feed.items}
    assert "all" in holding and len(holding) >= 3  # all, its topics, its provider
    assert differing == holding
    for path in before.keys() & after.keys():
        if before[path] == after[path]:
            assert before_bodies[path] == after_bodies[path], path  # equal signature, equal bytes
        else:
            assert before_bodies[path] != after_bodies[path], path
    # feeds the article is not in keep their signature
    untouched = [p for p in before if p.startswith("topics/") and before[p] == after[p]]
    assert untouched, "a change to one article re-signed every topic feed"


def test_settings_change_every_signature() -> None:
    settings = Settings(base_url=BASE_URL, include_unpublished=True)
    articles = list(read_folder(SAMPLES, settings).articles)
    before, _ = _signatures(articles, settings)
    after, _ = _signatures(articles, dataclasses.replace(settings, site_title="Another title"))
    assert all(before[path] != after[path] for path in before)


def test_signers_of_other_provider_paths_never_share_an_article_digest() -> None:
    """Digests are remembered across Signers (for `export --watch`), but only for the same provider paths."""
    settings = Settings(base_url=BASE_URL)
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    moved_paths = {provider: path + "-moved" for provider, path in catalog.source_paths.items()}
    moved = dataclasses.replace(catalog, source_paths=moved_paths)
    feed = catalog.get("all")
    assert feed is not None and feed.items
    memo = SignatureMemo()
    first, second = Signer(catalog, settings, memo), Signer(moved, settings, memo)  # the second takes it over
    moved_signature, kept_signature = second.feed(feed, "rss"), first.feed(feed, "rss")
    assert moved_signature != kept_signature  # the RSS <source url> of every item moved
    assert kept_signature == Signer(catalog, settings, memo).feed(feed, "rss")
    assert moved_signature == Signer(moved, settings, memo).feed(feed, "rss")
    # and a Signer made after another of the same paths reuses its digests, with equal results
    assert Signer(moved, settings, memo).feed(feed, "atom") == second.feed(feed, "atom")


def test_a_signer_reusing_earlier_page_digests_signs_as_a_fresh_one_would() -> None:
    """Digests of documents whose items are the same objects are reused across Signers; a change is not."""
    settings = Settings(base_url=BASE_URL, include_unpublished=True, archive_page_size=2, items_per_feed=2)
    articles = list(read_folder(SAMPLES, settings).articles)
    catalog = build_catalog(articles, settings)
    target = max(articles, key=lambda a: a.published_at)
    changed = build_catalog([a.replace(title="Changed") if a is target else a for a in articles], settings)

    def every_document(signer: Signer, of) -> dict[tuple[str, int, str], str]:
        return {(feed.path, page, fmt.extension): signer.document(feed, page, fmt.extension)
                for feed in of.feeds for page in range(0, 3) for fmt in Format}  # fmt: skip

    memo = SignatureMemo()
    first = every_document(Signer(catalog, settings, memo), catalog)
    again = every_document(Signer(catalog, settings, memo), catalog)  # from the earlier Signer's memo
    after = every_document(Signer(changed, settings, memo), changed)
    # a Signer without the memo computes everything afresh, as a new process would
    assert again == first and after == every_document(Signer(changed, settings), changed)
    assert {key[0] for key in first if first[key] != after[key]} >= {"all"}


def test_signers_sharing_a_memo_over_updated_catalogs_sign_as_fresh_ones_would() -> None:
    """Kept Feed objects keep their documents' signatures (issue 20); a changed feed or new settings never."""
    settings = Settings(base_url=BASE_URL, archive_page_size=2, items_per_feed=2)
    articles = list(read_folder(SAMPLES, settings).articles)
    newest = max(articles, key=lambda a: a.published_at)
    added = newest.replace(uid=newest.uid + "-copy", source="zz-new.md", title="Added", link=newest.link + "/added",
                           published_at=newest.published_at + timedelta(hours=1))  # fmt: skip
    edited = [a.replace(title="Edited") if a is newest else a for a in (*articles, added)]
    steps = [articles, [*articles, added], edited]
    catalogs = [build_catalog(steps[0], settings)]
    for old, new in zip(steps, steps[1:], strict=False):
        catalogs.append(update_catalog(catalogs[-1], old, new, settings))
    for before, after in zip(catalogs, catalogs[1:], strict=False):  # some feeds were kept: the memo matters
        assert {id(feed) for feed in before.feeds} & {id(feed) for feed in after.feeds}

    def every_document(signer: Signer, of) -> dict[tuple[str, int, str], str]:
        return {(feed.path, page, ext): signer.document(feed, page, ext)
                for feed in of.feeds for page in range(0, 4) for ext in ("rss", "atom", "json", "html")}  # fmt: skip

    memo = SignatureMemo()
    for catalog in catalogs:
        fresh = every_document(Signer(catalog, settings), catalog)
        assert every_document(Signer(catalog, settings, memo), catalog) == fresh
    other = dataclasses.replace(settings, site_title="Another title")
    assert every_document(Signer(catalogs[-1], other, memo), catalogs[-1]) == every_document(
        Signer(catalogs[-1], other), catalogs[-1]
    )


def test_an_empty_feed_is_signed_again_when_a_newer_article_dates_it() -> None:
    """A configured feed that selects nothing is dated by the site's newest article: a newer article
    changes its bytes, so it must change its signature (an incremental export kept the old date)."""
    nothing = FeedDefinition("nothing", selection=(("topics", ("No such topic",)),))
    settings = Settings(base_url=BASE_URL, feeds=(nothing,))
    articles = list(read_folder(SAMPLES, settings).articles)
    newest = max(articles, key=lambda a: a.published_at)
    added = newest.replace(uid=newest.uid + "-copy", source="zz-new.md", title="Added", link=newest.link + "/added",
                           published_at=newest.published_at + timedelta(days=1))  # fmt: skip
    before, before_bodies = _signatures(articles, settings)
    after, after_bodies = _signatures([*articles, added], settings)
    changed = {path for path in before if before_bodies[path] != after_bodies.get(path)}
    assert "feeds/nothing.rss" in changed  # the case itself: the empty feed's date moved
    assert not {path for path in changed if before[path] == after.get(path)}  # equal signature, equal bytes
    old_catalog = build_catalog(articles, settings)
    new_catalog = update_catalog(old_catalog, articles, [*articles, added], settings)
    assert new_catalog.get("feeds/nothing") is old_catalog.get("feeds/nothing")  # kept: the per-feed memo is asked
    memo = SignatureMemo()
    Signer(old_catalog, settings, memo).feed(old_catalog.get("feeds/nothing"), "rss")
    kept = Signer(new_catalog, settings, memo).feed(new_catalog.get("feeds/nothing"), "rss")
    assert kept == after["feeds/nothing.rss"]
