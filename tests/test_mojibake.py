"""feeds.read.mojibake: the repair skips ftfy only where ftfy would change nothing.

The reference is ftfy's ``fix_text`` as the module configures it (``_mojibake_fixer``); the test
it skips ftfy by (``leaves_alone``) reads ftfy's mojibake heuristic, whose reading is held here to
the heuristic's own pattern with strings generated to match it.
"""

from __future__ import annotations

import unicodedata

import pytest
from ftfy import badness
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.read.mojibake import _branch_clues, _heuristic_clues, _mojibake_fixer, leaves_alone, repair_mojibake


def _reference(text: str) -> str:
    return text if text.isascii() else _mojibake_fixer()(text)


def _may_match(text: str) -> bool:
    """What leaves_alone concludes from the heuristic's clues alone: some branch finds all its positions' characters."""
    heuristic = _heuristic_clues()
    present = set(text)
    full = any(all(not chars.isdisjoint(present) for chars in branch) for branch in heuristic.branches)
    assert heuristic.may_match(present) == full  # the keys' quick "no" says no more than the branches
    return full


def test_every_branch_of_the_heuristic_is_read() -> None:
    pattern = badness.BADNESS_RE
    clues = _branch_clues(pattern)
    assert len(clues) == pattern.pattern.count("\n    |\n") + 1  # the pattern's branches, one per "|" line
    assert all(branch for branch in clues), "a branch without clues would make every text 'may be bad'"
    assert ("\ufffc",) in [tuple(chars) for branch in _heuristic_clues().branches for chars in branch]
    assert _heuristic_clues().keys is not None


def test_ftfy_has_the_steps_and_options_leaves_alone_reasons_about() -> None:
    """leaves_alone's docstring argues step by step why ftfy changes nothing: an ftfy with another step or
    option (``pyproject.toml`` allows any 6.x) must be read again before this list is updated."""
    import ftfy

    assert set(ftfy.FIXERS) == {
        "unescape_html", "remove_terminal_escapes", "restore_byte_a0", "replace_lossy_sequences",
        "decode_inconsistent_utf8", "fix_c1_controls", "fix_latin_ligatures", "fix_character_width",
        "uncurl_quotes", "fix_line_breaks", "fix_surrogates", "remove_control_chars",
    }  # fmt: skip
    assert ftfy.TextFixerConfig._fields == (
        "unescape_html", "remove_terminal_escapes", "fix_encoding", "restore_byte_a0", "replace_lossy_sequences",
        "decode_inconsistent_utf8", "fix_c1_controls", "fix_latin_ligatures", "fix_character_width",
        "uncurl_quotes", "fix_line_breaks", "fix_surrogates", "remove_control_chars", "normalization",
        "max_decode_length", "explain",
    )  # fmt: skip
    assert _mojibake_fixer().keywords["config"].normalization == "NFC"  # what leaves_alone checks


def test_repair_leaves_ascii_and_good_text_alone_and_repairs_mojibake() -> None:
    assert repair_mojibake("plain ascii") == "plain ascii"
    assert repair_mojibake("naïve café — “ok”") == "naïve café — “ok”"
    assert repair_mojibake("surveillanceâ€”a") == "surveillance—a"


def test_a_pattern_it_cannot_read_leaves_every_text_to_ftfy() -> None:
    import re

    assert _branch_clues(re.compile("x", re.IGNORECASE)) == ((),)
    assert _branch_clues(re.compile(r"\s\w")) == ((),)  # one branch, no fixed literal or class


@settings(max_examples=3000, deadline=None)
@given(st.from_regex(badness.BADNESS_RE))
def test_text_the_heuristic_matches_is_never_left_alone(text: str) -> None:
    assert badness.BADNESS_RE.search(text)
    assert _may_match(text)
    assert not leaves_alone(text)


# the characters that matter: typography real news uses, accented letters, mojibake of both, CJK, emoji,
# combining marks (NFC), controls, line breaks and separators ftfy rewrites, and U+FFFC, which it drops
_NEWS = "’‘“”–—…•©®™°€£¥×éèêëàâäçîïôöûüñÃÂâ€¢œžŠ日本語🤖👍\u0301\u0308\ufffc\x85\x9d\u2028\u200b\xa0\x1b"
_MOJIBAKE = ["â€™", "â€œ", "â€\x9d", "Ã©", "Ã¨", "Â ", "Ã ", "â€”", "Ã¼ber", "\x1b[31m", "e\u0301", "ï¬"]
texts = st.one_of(
    st.text(alphabet=st.sampled_from(_NEWS + "abcXYZ09 .,'\"-\n\r\t&<>"), max_size=24),
    st.lists(st.sampled_from(_MOJIBAKE + ["it", "’s", " ", "“ok”", "café", "\n", "日本"]), max_size=8).map("".join),
    st.text(max_size=16),
    st.from_regex(badness.BADNESS_RE),
)


@settings(max_examples=4000, deadline=None)
@given(texts)
def test_repair_equals_ftfy(text: str) -> None:
    assert repair_mojibake(text) == _reference(text)


def test_repair_equals_ftfy_for_every_character_of_the_basic_multilingual_plane() -> None:
    for code in range(0x80, 0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        for text in (f"a{chr(code)}b", f"{chr(code)} x"):
            assert repair_mojibake(text) == _reference(text), (hex(code), text)


@pytest.mark.parametrize(
    ("text", "alone"),
    [
        ("it’s – a — b…", True),  # the typography of real news
        ("日本経済新聞 🤖", True),
        ("naïve café", True),
        ("“quoted”", True),
        ("two\nlines’", True),
        ("itâ€™s", False),  # mojibake: ftfy repairs it
        ("e\u0301", False),  # not NFC
        ("a\ufffcb", False),  # dropped by remove_control_chars
        ("a\u2028b", False),  # a line separator: fix_line_breaks
        ("tab\there’s", False),  # not printable: left to ftfy (which keeps it)
    ],
)
def test_leaves_alone(text: str, alone: bool) -> None:
    assert leaves_alone(text) is alone
    if alone:
        assert _reference(text) == text
        assert unicodedata.is_normalized("NFC", text)
