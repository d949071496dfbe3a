"""The merge of every file's result, kept current while a few files change (``export --watch``, the live app).

:func:`feeds.read.reader.collect` merges a whole folder: every story's copies settled, the kept
articles sorted by path, every problem in path order. At a million files that pass is ~1 s of
each change. :class:`Merge` keeps what it derives (each story's copies, the kept articles in
order, the files with problems, the duplicate warnings) and patches it for the files that
changed, so a change costs its own stories and places. It is equal to ``collect`` over the same
results, in path order, after any changes: a hypothesis test holds it so (tests/test_merge.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter

from feeds.model import Article, Problem
from feeds.read.reader import Folder, ReadResult, collect

_source = attrgetter("source")


def path_key(name: str) -> tuple[str, ...]:
    """Where ``name`` comes in the walk's path order (:func:`feeds.read.article_files.walk_article_files`:
    each folder's entries sorted by name, depth first): its parts, compared in turn."""
    return tuple(name.split("/"))


class Merge:
    """``collect`` of a folder's results, patched per changed file (:meth:`changed`).

    ``result_of(name)`` gives a file's current result (the loader's memory of every file);
    :meth:`changed` is told each changed file's result before and after (None: absent).
    """

    def __init__(self, named: Iterable[tuple[str, ReadResult]], result_of: Callable[[str], ReadResult]) -> None:
        """``named``: every (name, result), in path order."""
        self._result_of = result_of
        # uid → the name of its only copy, or its copies' names in path order (a duplicate group, rare)
        self._copies: dict[str, str | list[str]] = {}
        self._problems: dict[tuple[str, ...], tuple[Problem, ...]] = {}  # path key → that file's problems
        results = []
        for name, result in named:
            results.append(result)
            if result.problems:
                self._problems[path_key(name)] = result.problems
            if result.article is not None:
                copies = self._copies.setdefault(result.article.uid, name)
                if copies is not name:
                    self._copies[result.article.uid] = [*([copies] if isinstance(copies, str) else copies), name]
        self._problem_keys = list(self._problems)  # in path order, as ``named`` came
        folder = collect(results)
        self._kept = list(folder.articles)  # by source, then by their story's first copy (collect's stable sort)
        # each duplicate group: its first copy's path key → (uid, winner, warnings)
        self._groups: dict[tuple[str, ...], tuple[str, Article, tuple[Problem, ...]]] = {}
        for uid, copies in self._copies.items():
            if not isinstance(copies, str):
                self._settle(uid, copies)
        self._group_keys = sorted(self._groups)

    def folder(self, listing_problems: Iterable[Problem], files: int) -> Folder:
        """What ``collect`` gives for the current results (``files`` of them) and ``listing_problems``."""
        problems = list(listing_problems)
        for key in self._problem_keys:
            problems.extend(self._problems[key])
        for key in self._group_keys:
            problems.extend(self._groups[key][2])
        return Folder(tuple(self._kept), tuple(problems), files)

    def changed(self, changes: Mapping[str, tuple[ReadResult | None, ReadResult | None]]) -> None:
        """Patch for ``changes``: name → (its result before, after); ``result_of`` gives the after ones."""
        touched: dict[str, None] = {}  # the stories whose kept copy is taken out, to settle again
        for name, (before, after) in changes.items():
            key = path_key(name)
            if before is not None and before.problems:
                del self._problem_keys[bisect.bisect_left(self._problem_keys, key)]
                del self._problems[key]
            if after is not None and after.problems:
                bisect.insort(self._problem_keys, key)
                self._problems[key] = after.problems
            for result, joins in ((before, False), (after, True)):
                if result is None or result.article is None:
                    continue
                uid = result.article.uid
                if uid not in touched:
                    touched[uid] = None
                    self._take_out(uid, changes)
                self._move(uid, name, joins)
        for uid in touched:
            self._put_back(uid)

    # --- one story ---------------------------------------------------------------------------------

    def _names(self, uid: str) -> list[str]:
        copies = self._copies.get(uid)
        return [] if copies is None else [copies] if isinstance(copies, str) else copies

    def _take_out(self, uid: str, changes: Mapping[str, tuple[ReadResult | None, ReadResult | None]]) -> None:
        """Remove the story's kept copy (as it was before ``changes``) from the kept articles and its group."""
        names = self._names(uid)
        if not names:
            return
        if len(names) > 1:
            first = path_key(names[0])
            kept = self._groups.pop(first)[1]
            del self._group_keys[bisect.bisect_left(self._group_keys, first)]
        else:
            before = changes.get(names[0])
            kept = before[0].article if before is not None else self._result_of(names[0]).article
        kept_list, at = self._kept, bisect.bisect_left(self._kept, kept.source, key=_source)
        while kept_list[at] is not kept:  # past another story's copy printed alike
            at += 1
        del kept_list[at]

    def _move(self, uid: str, name: str, joins: bool) -> None:
        names = [n for n in self._names(uid) if n != name]
        if joins:
            names.insert(bisect.bisect_left([path_key(n) for n in names], path_key(name)), name)
        if not names:
            self._copies.pop(uid, None)
        else:
            self._copies[uid] = names[0] if len(names) == 1 else names

    def _put_back(self, uid: str) -> None:
        names = self._names(uid)
        if not names:
            return
        if len(names) == 1:
            kept = self._result_of(names[0]).article
        else:
            kept = self._settle(uid, names)
            bisect.insort(self._group_keys, path_key(names[0]))
        assert kept is not None
        self._kept.insert(self._place(kept, path_key(names[0])), kept)

    def _settle(self, uid: str, names: list[str]) -> Article:
        """A duplicate group's winner, its warnings recorded under its first copy's path key: ``collect``
        of the group's copies alone settles it (their files' own problems left out: they are kept apart)."""
        settled = collect([ReadResult(self._result_of(name).article) for name in names])
        winner = settled.articles[0]
        self._groups[path_key(names[0])] = (uid, winner, settled.problems)
        return winner

    def _place(self, article: Article, first: tuple[str, ...]) -> int:
        """Where ``article`` (its story's first copy at ``first``) goes among the kept articles: by
        source, then (equal sources: two names printed alike) by its story's first copy, as
        ``collect``'s stable sort of the stories in path order leaves them."""
        kept = self._kept
        at = bisect.bisect_left(kept, article.source, key=_source)
        while at < len(kept) and kept[at].source == article.source and path_key(self._names(kept[at].uid)[0]) < first:
            at += 1
        return at
