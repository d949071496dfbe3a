"""IncrementalLoader: a long-running process's loads read again only what changed, and equal a full read."""

from __future__ import annotations

import re
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.config import Settings
from feeds.read import incremental_load
from feeds.read.incremental_load import IncrementalLoader
from feeds.read.load import scan_identities
from feeds.read.reader import read_folder


def test_incremental_loader_rereads_only_what_changed(cached_settings: Settings) -> None:
    loader = IncrementalLoader(cached_settings)
    root = cached_settings.articles_dir
    assert loader.refresh() == read_folder(root, cached_settings)
    assert loader.refresh() is None  # nothing changed: nothing to rebuild
    source = sorted(root.glob("*.txt"))[0]
    added = root / "sub" / "added.md"
    added.parent.mkdir()
    added.write_text(source.read_text(encoding="utf-8").replace("https://", "https://added.", 1), encoding="utf-8")
    folder = loader.refresh()
    assert folder == read_folder(root, cached_settings)
    assert loader.last_stats is not None and loader.last_stats.parsed == 1
    added.unlink()
    assert loader.refresh() == read_folder(root, cached_settings)
    assert loader.refresh() is None


def test_incremental_loader_compares_only_what_a_patched_scan_replaced(cached_settings: Settings) -> None:
    """A watcher's scan is the last one with a few pairs replaced: the loader compares those, and is
    never fooled by a caller that patches one list in place and passes it again."""
    loader = IncrementalLoader(cached_settings)
    root = cached_settings.articles_dir
    listing = scan_identities(root)
    loader.refresh((listing, []))
    assert loader.refresh((listing, [])) is None
    name = listing[1][0]
    text = (root / name).read_text(encoding="utf-8")
    (root / name).write_text(re.sub(r"^title: .*$", 'title: "Patched title"', text, count=1, flags=re.M), "utf-8")
    listing[1] = (name, dict(scan_identities(root))[name])  # in place: the same list object, one new pair
    folder = loader.refresh((listing, []))
    assert folder == read_folder(root, cached_settings)
    assert loader.last_stats is not None and loader.last_stats.parsed == 1
    assert "Patched title" in {a.title for a in folder.articles}
    assert loader.refresh((list(listing), [])) is None  # equal pairs, another list: nothing to do
    listing[2] = (listing[2][0], (0, 0, 0, 0))  # a pair unlike the file's: read again, the same result
    assert loader.refresh((listing, [])) == read_folder(root, cached_settings)


_CHANGES = st.lists(
    st.tuples(st.sampled_from(["edit", "add", "remove"]), st.integers(0, 10_000), st.booleans()), max_size=6
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=_CHANGES)
def test_incremental_refreshes_equal_a_full_read(cached_settings: Settings, changes: list) -> None:
    """Differential: after any edits, additions and removals, each refresh (given a watcher's scan
    patched in place, or a fresh one) equals reading the whole folder; the loader's results list
    in scan order, patched at the places that changed, must never drift from it."""
    root = cached_settings.articles_dir
    loader = IncrementalLoader(cached_settings)
    listing = scan_identities(root)
    loader(cached_settings, scan=(listing, []))
    for step, (change, pick, patched) in enumerate(changes):
        name = listing[pick % len(listing)][0]
        if change == "edit":
            text = (root / name).read_text(encoding="utf-8")
            retitled = re.sub(r"^title: .*$", f'title: "Edit {step} {pick}"', text, count=1, flags=re.M)
            (root / name).write_text(retitled, encoding="utf-8")
        elif change == "add":
            taken = [int(path.stem.removeprefix("added-")) for path in root.glob("added-*.txt")]
            shutil.copyfile(root / name, root / f"added-{max(taken, default=0) + 1}.txt")  # examples share root
        elif len(listing) > 1:
            (root / name).unlink()
        fresh = scan_identities(root)
        if patched and len(fresh) == len(listing):  # a watcher's patch: the same list, changed pairs replaced
            for index, pair in enumerate(fresh):
                if pair != listing[index]:
                    listing[index] = pair
        elif patched:  # a watcher's patch of an addition or removal: every other pair the very same object
            kept = {pair: pair for pair in listing}
            listing = [kept.get(pair, pair) for pair in fresh]
        else:
            listing = fresh
        assert loader(cached_settings, scan=(listing, [])) == read_folder(root, cached_settings)


@given(
    st.lists(st.integers(0, 30), unique=True, max_size=30),
    st.lists(st.tuples(st.sampled_from(["insert", "remove", "replace"]), st.integers(0, 40)), max_size=5),
)
def test_what_the_loader_compares_holds_every_pair_a_patch_made(names: list[int], patches: list) -> None:
    """``_not_kept`` (in C, issue 20): any pair of the new scan that is not one of the previous scan's very
    objects is among those it returns, after insertions, removals and replacements anywhere."""
    previous = [(f"n{name}", (name,)) for name in names]
    current = list(previous)
    for step, (kind, at) in enumerate(patches):
        if kind == "insert":
            current.insert(at % (len(current) + 1), (f"new{step}", (step,)))
        elif current:
            del current[at % len(current)]
            if kind == "replace":
                current.insert(at % (len(current) + 1), (f"r{step}", (step,)))
    returned = {id(pair) for pair in incremental_load._not_kept(previous, current)}
    assert {id(pair) for pair in current} - {id(pair) for pair in previous} <= returned


def test_a_refresh_that_failed_while_reading_is_compared_again(cached_settings: Settings, monkeypatch) -> None:
    """What a failed refresh scanned is not marked as seen: its change is found by the next one,
    even when that one's scan is a patch for another file (a watcher's)."""
    loader = IncrementalLoader(cached_settings)
    root = cached_settings.articles_dir
    listing = scan_identities(root)
    loader.refresh((list(listing), []))
    loader.refresh((list(listing), []))

    def retitle(index: int, title: str) -> None:
        name = listing[index][0]
        text = (root / name).read_text(encoding="utf-8")
        (root / name).write_text(re.sub(r"^title: .*$", f'title: "{title}"', text, count=1, flags=re.M), "utf-8")
        listing[index] = (name, dict(scan_identities(root))[name])

    retitle(3, "First edit")

    def memory_error(*args, **kwargs):
        raise MemoryError("what read_article lets through")

    with monkeypatch.context() as patched:
        patched.setattr(incremental_load, "read_article", memory_error)
        with pytest.raises(MemoryError):
            loader.refresh((list(listing), []))
    retitle(5, "Second edit")
    folder = loader.refresh((list(listing), []))
    assert {"First edit", "Second edit"} <= {a.title for a in folder.articles}
    assert folder == read_folder(root, cached_settings)
