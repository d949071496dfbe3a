"""Where each feed key, kind, word and quality occurs among a snapshot's articles (issue 16).

Built once per live snapshot (on its first filter request), over its articles
newest first: each key maps to the positions of the articles holding it, in an
``array`` of 4-byte integers (a Python set per key would cost ten times the
memory). A filter is then a few set unions and intersections over the keys it
names, not a scan of every article: milliseconds at 100,000 articles.
:meth:`FilterIndex.positions` equals the positions :func:`feeds.filters.matcher`
accepts (tests/test_filters.py holds it to that).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator, Sequence

from feeds.config import Settings
from feeds.families import Lookup
from feeds.filters import WantedKeys, article_words
from feeds.model import Article


class FilterIndex:
    """Postings of every filterable family's keys, of kinds and words, and the articles by quality."""

    def __init__(self, articles: Sequence[Article], lookup: Lookup, settings: Settings) -> None:
        families = [(f.filter_param, f.article_keys(settings, lookup)) for f in lookup.families if f.filter_param]
        names: dict[str, dict[str, list[int]]] = {param: {} for param, _ in families}
        kinds: dict[str, list[int]] = {}
        words: dict[str, list[int]] = {}
        qualities: list[tuple[int, int]] = []
        for position, article in enumerate(articles):
            for param, keys_of in families:
                postings = names[param]
                for key in keys_of(article):
                    postings.setdefault(key, []).append(position)
            if article.kind is not None:
                kinds.setdefault(article.kind.casefold(), []).append(position)
            for word in article_words(article):
                words.setdefault(word, []).append(position)
            if article.quality is not None:
                qualities.append((article.quality, position))
        qualities.sort()
        self.count = len(articles)
        self._names = {param: {k: array("I", found) for k, found in table.items()} for param, table in names.items()}
        self._kinds = {key: array("I", found) for key, found in kinds.items()}
        self._words = {key: array("I", found) for key, found in words.items()}
        self._quality_values = [quality for quality, _ in qualities]
        self._quality_positions = array("I", (position for _, position in qualities))
        tables = [*self._names.values(), self._kinds, self._words]
        postings = sum(len(found) for table in tables for found in table.values())
        # what the index holds, roughly: 4 bytes a posting, ~120 a key (the str, its array, its dict slot)
        self.nbytes = 4 * postings + 120 * sum(len(table) for table in tables) + 40 * len(qualities)

    def positions(self, keys: WantedKeys) -> list[int]:
        """Positions of the matching articles, ascending (newest first)."""
        found: set[int] | None = None
        for part in self._parts(keys):
            found = part if found is None else found & part
            if not found:
                return []
        return sorted(found) if found is not None else list(range(self.count))

    def _parts(self, keys: WantedKeys) -> Iterator[set[int]]:
        """One set of positions per key the filter names (AND across them)."""
        for param, wanted in keys.names:
            table = self._names.get(param, {})
            yield set().union(*(table.get(key, ()) for key in wanted))
        if keys.kinds:
            yield set().union(*(self._kinds.get(kind, ()) for kind in keys.kinds))
        if keys.min_quality is not None:
            yield set(self._quality_positions[bisect.bisect_left(self._quality_values, keys.min_quality) :])
        if keys.phrases:
            phrases: set[int] = set()
            for phrase in keys.phrases:
                postings = sorted((self._words.get(word, array("I")) for word in phrase), key=len)
                within = set(postings[0])
                for posting in postings[1:]:
                    within.intersection_update(posting)
                phrases |= within
            yield phrases
