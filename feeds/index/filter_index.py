"""Where each feed key, kind, word and quality occurs among a snapshot's articles (issue 16).

Built with each live snapshot, over its articles newest first: each key maps
to the articles holding it, in an ``array`` of 4-byte integers (a Python set
per key would cost ten times the memory). A filter is then a few set unions and
intersections over the keys it names, not a scan of every article: milliseconds
at 100,000 articles. :meth:`FilterIndex.positions` equals the positions
:func:`feeds.index.filters.matcher` accepts (tests/test_filters.py holds it to that).

A reload changes a few articles of 100,000 and keeps the others' objects, so
the index of a new snapshot is derived from the previous one (``previous``):
postings hold *serial numbers*, which stay with an article object from one
index to the next, and only the removed and added articles' keys are touched;
a table of serial → position, made per index, turns a result back into
positions. Building the whole index again took ~5 CPU-s per worker at 100,000
articles, on every reload; the derived one gives equal answers
(tests/test_filter_index.py holds it equal to a fresh build over generated
sequences of edits, renames, deletions, topic changes and duplicates).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterator, Sequence

from feeds.config import Settings
from feeds.index.families import Lookup
from feeds.index.filters import WantedKeys, article_words
from feeds.model import Article

KeysOf = Callable[[Article], tuple[str, ...]]
Table = dict[str, array]
# more removed and added articles than this share of the new ones: building afresh is cheaper
REBUILD_SHARE = 0.25
SPARE_SERIALS = 64  # serials of gone articles kept before a build makes them dense again (beyond as many as articles)


def _article_keys(families: list[tuple[str, KeysOf]], article: Article) -> Iterator[tuple[str, str]]:
    """(table, key) of every posting an article has: its family keys, its kind, its words."""
    for param, keys_of in families:
        for key in keys_of(article):
            yield param, key
    if article.kind is not None:
        yield "kind", article.kind.casefold()
    words = article_words(article)
    # its words are all an index needs of its details: a restored article decodes them again from the
    # parse cache when a page shows it (issue 16: kept, they were most of the live app's memory)
    article.release_details()
    for word in words:
        yield "q", word


class FilterIndex:
    """Postings of every filterable family's keys, of kinds and words, and the articles by quality.

    ``previous``, the index of the snapshot this one replaces, made with the same
    settings, lets it touch only the articles that are not the very same objects
    as before. A family's keys for an article must depend on the article and the
    settings only, never on the catalog (true of every family with a filter
    parameter), or the keys of the articles kept would be stale.
    """

    def __init__(
        self, articles: Sequence[Article], lookup: Lookup, settings: Settings, previous: FilterIndex | None = None
    ) -> None:
        self.count = len(articles)
        self.settings = settings
        self._families = [(f.filter_param, f.article_keys(settings, lookup)) for f in lookup.families if f.filter_param]
        ids = [id(article) for article in articles]
        unique = len(set(ids)) == len(ids)  # the same object twice: positions are its only identity
        # id(article) -> serial, while the index holds the article (in _members, so no id is reused meanwhile)
        self._serials: dict[int, int] | None = None
        if previous is not None and unique and previous._serials is not None and previous.settings == settings:
            self.derived = self._derive(previous, articles, ids)
        else:
            self.derived = False
        if not self.derived:
            self._build(articles, ids if unique else None)
        serials = self._serials
        if serials is None or not self.derived:  # built afresh: serial = position
            self._positions = array("I", range(self.count))
        else:
            self._positions = positions = array("I", bytes(4 * len(self._members)))  # serial -> position
            for position, key in enumerate(ids):
                positions[serials[key]] = position
        tables = list(self._tables.values())
        postings = sum(len(found) for table in tables for found in table.values())
        # what the index holds, roughly: 4 bytes a posting, ~120 a key (the str, its array, its dict slot),
        # and per article its serial's dict entry, member slot and position
        self.nbytes = 4 * postings + 120 * sum(len(table) for table in tables) + 40 * len(self._qualities)
        self.nbytes += 100 * len(self._members)

    def _build(self, articles: Sequence[Article], ids: list[int] | None) -> None:
        """Every posting afresh; serial = position (``ids`` None: an article object occurs twice)."""
        tables: dict[str, dict[str, list[int]]] = {param: {} for param, _ in self._families}
        tables["kind"], tables["q"] = {}, {}
        qualities = []
        families = self._families
        for serial, article in enumerate(articles):
            for name, key in _article_keys(families, article):
                tables[name].setdefault(key, []).append(serial)
            if article.quality is not None:
                qualities.append((article.quality, serial))
        qualities.sort()
        self._tables = {
            name: {key: array("I", found) for key, found in table.items()} for name, table in tables.items()
        }
        self._qualities = qualities
        self._members: list[Article | None] = list(articles)
        if ids is not None:
            self._serials = dict(zip(ids, range(len(ids)), strict=True))

    def _derive(self, previous: FilterIndex, articles: Sequence[Article], ids: list[int]) -> bool:
        """Copy ``previous``, then remove the articles gone and add the new ones; False when a build is cheaper.

        ``previous`` is never changed (its snapshot may still be serving): dicts and
        lists are copied, and a posting is copied before its first change here.
        """
        old = previous._serials
        assert old is not None
        present = set(ids)
        gone = [key for key in old if key not in present]
        added = [(key, article) for key, article in zip(ids, articles, strict=True) if key not in old]
        members = previous._members
        if (
            len(gone) + len(added) > REBUILD_SHARE * max(len(ids), 1)
            or len(members) + len(added) > 2 * len(ids) + SPARE_SERIALS
        ):
            return False  # many changes, or serials of long-gone articles piling up
        serials = dict(old)
        members = list(members)
        tables = {name: dict(table) for name, table in previous._tables.items()}
        for name, _ in self._families:
            tables.setdefault(name, {})
        qualities = list(previous._qualities)
        copied: set[tuple[str, str]] = set()

        def owned(name: str, key: str) -> array:
            """The posting of ``key`` in table ``name``, this index's own copy."""
            found = tables[name].get(key)
            if found is None or (name, key) not in copied:  # absent, or (still) the previous index's
                found = tables[name][key] = array("I", found if found is not None else ())
                copied.add((name, key))
            return found

        for key in gone:
            serial = serials.pop(key)
            article = members[serial]
            members[serial] = None
            assert article is not None
            for name, found_key in _article_keys(previous._families, article):
                posting = owned(name, found_key)
                posting.remove(serial)
                if not posting:
                    del tables[name][found_key]
            if article.quality is not None:
                del qualities[bisect.bisect_left(qualities, (article.quality, serial))]
        for key, article in added:
            serial = serials[key] = len(members)
            members.append(article)
            for name, found_key in _article_keys(self._families, article):
                owned(name, found_key).append(serial)
            if article.quality is not None:
                bisect.insort(qualities, (article.quality, serial))
        self._serials, self._members, self._tables, self._qualities = serials, members, tables, qualities
        return True

    def positions(self, keys: WantedKeys) -> list[int]:
        """Positions of the matching articles, ascending (newest first)."""
        found: set[int] | None = None
        for part in self._parts(keys):
            found = part if found is None else found & part
            if not found:
                return []
        if found is None:
            return list(range(self.count))
        position = self._positions
        return sorted(position[serial] for serial in found)

    def postings(self) -> dict[tuple[str, str], list[int]]:
        """Every (table, key)'s positions, ascending, and ("quality", value)'s: what the index says, by position."""
        position = self._positions
        said = {
            (name, key): [position[s] for s in found]
            for name, table in self._tables.items()
            for key, found in table.items()
        }
        for quality, serial in self._qualities:
            said.setdefault(("quality", str(quality)), []).append(position[serial])
        return {key: sorted(found) for key, found in said.items()}

    def _parts(self, keys: WantedKeys) -> Iterator[set[int]]:
        """One set of serials per key the filter names (AND across them)."""
        tables = self._tables
        for param, wanted in keys.names:
            table = tables.get(param, {})
            yield set().union(*(table.get(key, ()) for key in wanted))
        if keys.kinds:
            yield set().union(*(tables["kind"].get(kind, ()) for kind in keys.kinds))
        if keys.min_quality is not None:
            qualities = self._qualities
            yield {serial for _, serial in qualities[bisect.bisect_left(qualities, (keys.min_quality, -1)) :]}
        if keys.phrases:
            phrases: set[int] = set()
            for phrase in keys.phrases:
                postings = sorted((tables["q"].get(word, array("I")) for word in phrase), key=len)
                within = set(postings[0])
                for posting in postings[1:]:
                    within.intersection_update(posting)
                phrases |= within
            yield phrases
