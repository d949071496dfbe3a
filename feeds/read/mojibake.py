"""Mojibake repair (ftfy), and a quick test for the text it would leave as it is.

:func:`repair_mojibake` turns UTF-8 that was decoded as Windows-1252 (``itâ€™s``) back into what was
meant (``it’s``) with ftfy. ftfy costs ~100 µs for a title or an excerpt, and real news text is rarely
broken: over ../shared/corpus/real, six in ten of the values it was asked to repair held only curly
apostrophes, dashes, CJK or emoji, which it returns unchanged (issue 20: a fifth of reading those
files). :func:`leaves_alone` recognises such text from ftfy's own tables, so ftfy runs only where it
may change something. tests/test_mojibake.py holds ``repair_mojibake`` equal to ftfy's ``fix_text``
(generated text from the characters that matter, and every character of the Basic Multilingual
Plane), and :func:`leaves_alone`'s reading of ftfy's heuristic to the heuristic's pattern.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

try:  # the stdlib's regular-expression parser (private; in every Python this package supports): see _branch_clues
    from re import _parser
except ImportError:  # pragma: no cover - a Python without it: ftfy decides every text that is not ASCII, as before
    _parser = None  # type: ignore[assignment]

__all__ = ["leaves_alone", "prepare_repair", "repair_mojibake"]

Clues = tuple[tuple[frozenset[str], ...], ...]  # per branch of the heuristic: the sets of its fixed positions


@dataclass(frozen=True, slots=True)
class Heuristic:
    """What a text must hold for ftfy to change it (see :func:`_heuristic_clues`)."""

    branches: Clues
    # one fixed position's characters from each branch (its smallest set without ASCII, where it has one:
    # text is mostly ASCII): a text holding none of them matches no branch, which most texts show in one
    # set operation; None when a branch has no clue
    keys: frozenset[str] | None

    @classmethod
    def of(cls, branches: Clues) -> Heuristic:
        keys = frozenset().union(*(min(branch, key=_key_order) for branch in branches)) if all(branches) else None
        return cls(branches, keys)

    def may_match(self, present: set[str]) -> bool:
        """Whether a text holding the characters ``present`` may match a branch: each fixed position finds one."""
        if self.keys is not None and present.isdisjoint(self.keys):
            return False
        return any(all(not chars.isdisjoint(present) for chars in branch) for branch in self.branches)


def repair_mojibake(text: str) -> str:
    """UTF-8 that was decoded as Windows-1252 (``itâ€™s``) back to what was meant (``it’s``)."""
    return text if text.isascii() or leaves_alone(text) else _mojibake_fixer()(text)


def prepare_repair() -> None:
    """Import what :func:`repair_mojibake` needs now: before forking readers, which then share it."""
    _mojibake_fixer()
    _heuristic_clues()


def leaves_alone(text: str) -> bool:
    """True when ftfy's repair (as :func:`_mojibake_fixer` configures it) returns ``text`` unchanged, for
    certain; False when it may not (then ftfy decides).

    ftfy's steps, in the order ``fix_and_explain`` runs them, and why none changes such a text:
    ``fix_encoding`` leaves alone text its mojibake heuristic does not call "bad", and no branch of
    that heuristic can match (:func:`_heuristic_clues`); the C1, line-break, surrogate and
    terminal-escape fixes act on characters that are not printable, and ``text`` holds none but line
    feeds, which they keep; ``remove_control_chars`` drops characters that are not printable but
    U+FFFC, a clue of its own; the NFC normalization finds the text normalized already.
    """
    if not text.replace("\n", " ").isprintable() or not unicodedata.is_normalized("NFC", text):
        return False
    return not _heuristic_clues().may_match(set(text))


def _key_order(chars: frozenset[str]) -> tuple[bool, int]:
    return any(char.isascii() for char in chars), len(chars)


@functools.cache
def _mojibake_fixer() -> Callable[[str], str]:
    """ftfy's fix_text with mojibake repair only (curly quotes, ligatures and full-width forms kept as written).

    Imported at the first non-ASCII text, not with this module (issue 20): ftfy's import (~50 ms of
    CPU, its tables and regular expressions) is most of reading nothing, which is what a warm export does.
    """
    import ftfy

    config = ftfy.TextFixerConfig(
        unescape_html=False, uncurl_quotes=False, fix_latin_ligatures=False, fix_character_width=False, explain=False
    )
    return functools.partial(ftfy.fix_text, config=config)


@functools.cache
def _heuristic_clues() -> Heuristic:
    """What a text must hold for ftfy to touch it: per branch of ``ftfy.badness.BADNESS_RE``, the character
    sets of the positions every match of that branch fills; and U+FFFC, which ``remove_control_chars``
    drops though it is printable (every character ftfy's ``chardata.CONTROL_CHARS`` names that is).

    Built once, at the first non-ASCII text (ftfy imports then, see :func:`_mojibake_fixer`).
    """
    from ftfy import badness, chardata

    printable_controls = frozenset(chr(code) for code in chardata.CONTROL_CHARS if chr(code).isprintable())
    controls = tuple((frozenset((char,)),) for char in sorted(printable_controls))
    return Heuristic.of((*_branch_clues(badness.BADNESS_RE), *controls))


def _branch_clues(pattern: re.Pattern[str]) -> Clues:
    """Per top-level branch of ``pattern``, the character sets of its fixed positions: a literal, or a
    class of literals and ranges, that is neither repeated nor optional. A position of another kind
    (``\\s``, ``\\w``, a negated class, ``.``, an anchor, a group) gives no set: its branch needs only
    the others. A branch with no set at all, a case-insensitive pattern, or a pattern the parser reads
    differently from what is expected gives one clue-free branch, which every text matches: the
    test then never says "left alone", and ftfy decides as before.
    """
    unconstrained: Clues = ((),)
    if _parser is None or pattern.flags & re.IGNORECASE:
        return unconstrained
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        branches = parsed.data[0][1][1] if len(parsed.data) == 1 and parsed.data[0][0] == _parser.BRANCH else [parsed]
        return tuple(
            tuple(chars for op, value in branch.data if (chars := _fixed_chars(op, value))) for branch in branches
        )
    except (AttributeError, IndexError, TypeError, ValueError, re.error):  # a parse tree of another shape
        return unconstrained


def _fixed_chars(op: object, value: object) -> frozenset[str] | None:
    """The characters one position matches when it is a literal or a class of literals and ranges, else None."""
    if op == _parser.LITERAL:
        return frozenset((chr(value),))  # type: ignore[arg-type]
    if op != _parser.IN:
        return None
    chars: set[str] = set()
    for kind, item in value:  # type: ignore[attr-defined]
        if kind == _parser.LITERAL:
            chars.add(chr(item))
        elif kind == _parser.RANGE:
            chars.update(chr(code) for code in range(item[0], item[1] + 1))
        else:
            return None  # NEGATE, CATEGORY (\s, \w): no finite set
    return frozenset(chars)
