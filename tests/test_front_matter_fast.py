"""The front-matter fast path (feeds.read.front_matter) gives what the libyaml path gives, or bails.

"Fast paths are proven, not trusted": every check here holds
``front_matter.parse`` (through ``safe_yaml.load_counting_unreadable``, the only caller) to
``safe_yaml.load_with_libyaml``, itself held to PyYAML by tests/test_safe_yaml.py. The fast path
may bail on anything; when it does not, value, types (True is not 1, 1.0 is not 1), datetime
tzinfo and dict key order must be equal, and the Unreadable count 0. When libyaml refuses the
text, the fast path must bail. The generated documents are mostly wrong on purpose.
"""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.read import front_matter, safe_yaml
from feeds.read.reader import decode, split_front_matter

from .conftest import PROJECT, REAL_CORPUS, SAMPLES, SEED, require_shared
from .test_reader import CASES as HOSTILE_FILES
from .test_safe_yaml import CASES as SAFE_YAML_CASES
from .test_safe_yaml import _typed

KEYS = [
    "title", "a", "b", "images", "url", "x.y/z-w", "_", "1", "0x1F", "1_0", "1.5", "1.", "2001-12-14", "yes", "No",
    "ON", "off", "true", "True", "null", "Null", "NULL", "~", "<<", "=", "?x", "-x", "a b", "a:b", "é", "k" * 1001,
    "k" * 1030, "'q'", '"q"', "a#b", ".inf", "0o17", "017", "+1",
]  # fmt: skip
VALUES = [
    "x", "plain text", "yes", "Yes", "YES", "yEs", "No", "ON", "on", "Off", "y", "n", "true", "FALSE", "null", "Null",
    "~", "0", "-0", "+0", "00", "017", "0o17", "0O17", "0x1F", "0x_1F", "0b101", "0b_1", "+1_0", "1_000", "-1_0",
    "1:30", "1:30:00", "-1:30", "190:20:30", "1:60", "1:30.5", "1e3", "1E3", "1.", "1.5", "-1.5e+3", "6.8523015e+5",
    "685_230.15", ".5", "+.5", "._5", ".inf", "-.inf", "+.Inf", ".INF", ".NaN", ".nan", ".NAN", ".Nan",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-12-15T02:59:43.1Z",
    "2002-12-14", "2024-02-30", "0000-01-01", "2024-1-5", "2099-01-01T00:00:00Z", "2021-10-06T08:38:00+02:00",
    "2021-10-06T08:38:00-00:00", "2021-10-06T08:38:00-05:30", "2024-02-30T10:00:00Z", "2021-10-06T08:38:00+24:00",
    "2021-10-06T08:38:00+23:75", "2021-10-06T24:00:00Z", "0000-01-01T00:00:00Z",
    "'quoted'", "' quoted ''x'' '", "''", "'", "'a' b", "'#'", '"double"', '""', '"a" b', '"a" # c',
    '"esc \\" \\\\ \\/ \\n \\t \\x41 \\u00e9 \\U0001F600 \\N \\_ \\L \\P \\0 \\e \\ "', '"\\a\\b\\v\\f\\r"',
    '"bad \\q"', '"\\x4"', '"\\uD800"', '"\\U00110000"', '"\\xZZ"', '"trail\\"', '"# not a comment"',
    "a # c", "a #c", "a#b", "a: b", "a:b", "http://e.com/a?b=1#frag", "a:", "- x", "-x", "--x", "---", "...",
    "-", "?x", "? x", ":x", "[a]", "[]", "{}", "[ ]", "{a: 1}", "&a x", "*a", "!!int 3", "!x", "|", ">", "|-",
    "%x", "@x", "`x", ",x", "x,y", "x [y] {z}", "a\\b", "é ü", "😀", "1" * 4301, "1" * 4300, "1" * 19, "9" * 18,
    "x  ", "x\t", "\tx", "x\ry", "x\x85y", "x\u2028y", "x\u00a0y", "\ufeffx", "x\x00y", "x\x7fy", "<<", "=",
]  # fmt: skip


def _valid(*texts: str) -> bool:
    try:
        return all(safe_yaml.load_with_libyaml(text) is not None for text in texts)
    except Exception:  # noqa: BLE001
        return False


# the pools' entries that are valid in a simple place: most generated documents use only these
GOOD_KEYS = [key for key in KEYS if _valid(f"{key}: 1\n", f"- {key}:\n")]
GOOD_VALUES = [v for v in VALUES if _valid(f"k: {v}\n", f"- {v}\n") and v[:1] not in "&*!" and "#" not in v]
_BREAKS = ["\r\n", "\r", "\x85", "\u2028", "\u2029", "\t", "\n\n", "\n#c\n"]
_NOISE = list("#:\t'\"&*!|>[]{}-? ,%@`\\") + [": ", " #", "- ", "\r", "\ufeff", "\n ", "\n"]


def _fast(text: str):
    """The fast path's result, or None when it bails."""
    return front_matter.parse(text, safe_yaml._PlainScalars(), safe_yaml.Loader._plain_values)


def _check(text: str) -> str:
    """Hold the fast path to the libyaml path on ``text``; say what happened ("fast", "bail", "error")."""
    fast = _fast(text)
    try:
        reference, unreadable = safe_yaml.load_with_libyaml(text)
    except Exception:  # noqa: BLE001 - whatever libyaml raises (YAMLError, a codec error), the fast path bails
        assert fast is None, text
        return "error"
    if fast is None:
        return "bail"
    assert unreadable == 0, text
    assert _typed(fast) == _typed(reference), text
    value, count = safe_yaml.load_counting_unreadable(text)  # the wiring: every caller gets the same
    assert count == 0 and _typed(value) == _typed(reference), text
    return "fast"


def test_every_value_and_key_in_simple_places() -> None:
    seen = {"fast": 0, "bail": 0, "error": 0}
    for value in VALUES:
        for text in (f"k: {value}\n", f"- {value}", f"a:\n  - {value}\n  - x\n", f"- k: {value}\n  j: 1\n",
                     f"a:\n- {value}\nb: {value}  \n", f"k:  {value}\n\n"):  # fmt: skip
            seen[_check(text)] += 1
    for key in KEYS:
        for text in (f"{key}: 1\n", f"{key}:\n", f"- {key}: x\n  {key}: y\n", f"a: 1\n{key}: 2\na: 3\n"):
            seen[_check(text)] += 1
    assert seen["fast"] > len(VALUES) * 3 and seen["bail"] and seen["error"]  # the checks reached both paths


def test_equal_keys_of_other_types_are_left_to_libyaml_which_names_them() -> None:
    """A key given twice bails (the libyaml path reports it); libyaml keeps the first key and the last value."""
    for text in ("1: a\ntrue: b\n1.0: c\n", "0: a\nfalse: b\nno: c\n", "null: a\n~: b\nNull: c\n", "1_0: a\n10: b\n"):
        assert _check(text) == "bail"
    assert _typed(safe_yaml.load_with_libyaml("1: a\ntrue: b\n1.0: c\n")) == _typed(({1: "c"}, 0))
    assert safe_yaml.load_reporting("1: a\ntrue: b\n1.0: c\n")[2] == (("true", 2), ("1.0", 3))

def test_nans_are_shared_or_not_as_libyaml_builds_them() -> None:
    """[a] == [b] holds for one nan object, not for two: the fast path hands out what the constructor does."""
    reference, _ = safe_yaml.load_with_libyaml("a: .nan\nb: .nan\n")
    for _ in range(2):  # the second time with every plain value remembered
        assert _check("a: .nan\nb: .NaN\nc: .nan\n") == "fast"
        built = _fast("a: .nan\nb: .nan\n")
        assert (built["a"] is built["b"]) == (reference["a"] is reference["b"])


def test_every_caller_gets_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    front = _fronts(SAMPLES)[0]
    expected = _typed(safe_yaml.load_with_libyaml(front))

    def refuse(text: str) -> None:
        raise AssertionError("a front matter in the subset reached libyaml")

    monkeypatch.setattr(safe_yaml, "load_with_libyaml", refuse)
    assert _typed(safe_yaml.load_counting_unreadable(front)) == expected


def document(rng: random.Random) -> str:
    """Block mappings and sequences of keys and values from the pools, nested, at right and wrong columns,
    with blank lines, comments, odd line breaks and one stray character now and then."""
    lines: list[str] = []
    nasty = rng.random() < 0.3  # else only good keys and values at the right columns, and only noise below
    keys, values = (KEYS, VALUES) if nasty else (GOOD_KEYS, GOOD_VALUES)

    def column(indent: int) -> int:
        return max(0, indent + rng.choice([0] * 12 + [-2, -1, 1, 2])) if nasty else indent

    def spaces() -> str:
        return rng.choice([" "] * 6 + ["  ", "", "\t", " \t"]) if nasty else rng.choice([" ", " ", "  "])

    def block(indent: int, depth: int, first: str | None = None) -> None:
        if depth > 3 or rng.random() < 0.55:
            mapping(indent, depth, first)
        else:
            sequence(indent, depth, first)

    def mapping(indent: int, depth: int, first: str | None) -> None:
        for index in range(rng.randint(1, 3)):
            prefix = first if index == 0 and first is not None else " " * column(indent)
            key = rng.choice(keys)
            colon = rng.choice([":"] * 8 + [" :", "::", ""]) if nasty else ":"
            kind = rng.random()
            if kind < 0.6:
                lines.append(f"{prefix}{key}{colon}{spaces()}{rng.choice(values)}{rng.choice(['', '', ' ', '  '])}")
            else:
                lines.append(f"{prefix}{key}{colon}{rng.choice(['', '', ' '])}")
                if kind < 0.9:  # else null
                    block(indent + rng.choice([2, 2, 4, 1, 0, 0, -1] if nasty else [2, 2, 4, 1]), depth + 1)

    def sequence(indent: int, depth: int, first: str | None) -> None:
        for index in range(rng.randint(1, 3)):
            start = first if index == 0 and first is not None else " " * column(indent)
            prefix = start + rng.choice(["- ", "- ", "-  ", "-   ", "-", "-\t"] if nasty else ["- ", "- ", "-  "])
            kind = rng.random()
            if kind < 0.45:
                lines.append(prefix + rng.choice(values))
            elif kind < 0.75:
                block(len(prefix), depth + 1, first=prefix)  # "- key: value" or "- - item"
            else:
                lines.append(prefix.rstrip(" "))
                if kind < 0.9:
                    block(indent + rng.choice([2, 2, 4, 1, 0] if nasty else [2, 2, 4, 1]), depth + 1)

    block(rng.choice([0] * 8 + [1, 2]), 0)
    between = ["", "  ", "# c", "  # c", "---", "...", "%YAML 1.1"] if nasty else ["", "  "]
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        lines.insert(rng.randint(0, len(lines)), rng.choice(between))
    text = "\n".join(lines) + rng.choice(["\n", "\n", "", "\n\n", "\n  "])
    if not nasty:
        return text
    if rng.random() < 0.5:
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(_NOISE) + text[at:]
    if rng.random() < 0.2 and "\n" in text:
        text = text.replace("\n", rng.choice(_BREAKS), 1)
    if rng.random() < 0.05:
        text = "\ufeff" + text
    return text


GENERATED = int(os.environ.get("FEEDS_FRONT_MATTER_DOCUMENTS", "600"))


@settings(max_examples=GENERATED, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_generated_front_matter_is_read_as_libyaml_reads_it_or_left_to_it(rng: random.Random) -> None:
    _check(document(rng))


def test_the_generator_reaches_both_paths() -> None:
    rng = random.Random(20)
    seen = {"fast": 0, "bail": 0, "error": 0}
    for _ in range(400):
        seen[_check(document(rng))] += 1
    assert min(seen.values()) >= 40, seen  # neither a generator the fast path always refuses nor a trivial one


def _fronts(folder: Path) -> list[str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return [parts[0] for p in files if (parts := split_front_matter(decode(p.read_bytes())[0])) is not None]


@pytest.mark.parametrize("corpus", ["seed", "real"])
def test_shared_corpora_are_read_alike_and_mostly_by_the_fast_path(corpus: str) -> None:
    fronts = _fronts(require_shared(SEED if corpus == "seed" else REAL_CORPUS))
    outcomes = [_check(front) for front in fronts]
    assert outcomes and outcomes.count("fast") >= 0.95 * len(outcomes), (outcomes.count("fast"), len(outcomes))


def test_samples_and_hostile_cases_are_read_alike() -> None:
    texts = _fronts(SAMPLES) + SAFE_YAML_CASES
    texts += [parts[0] for _, raw, _ in HOSTILE_FILES if (parts := split_front_matter(decode(raw)[0])) is not None]
    outcomes = [_check(text) for text in texts]
    assert outcomes.count("fast") >= len(_fronts(SAMPLES))  # the samples, at least, are the fast path's


def test_the_reader_fuzzing_inputs_are_read_alike() -> None:
    """The first inputs of tools/fuzz_reader.py's campaign (issue 15), front matters hostile by design."""
    spec = importlib.util.spec_from_file_location("fuzz_reader", PROJECT / "tools" / "fuzz_reader.py")
    assert spec is not None and spec.loader is not None
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    outcomes = []
    for index in range(1500):
        parts = split_front_matter(decode(fuzz.make_input(15, index))[0])
        if parts is not None:
            outcomes.append(_check(parts[0]))
    assert outcomes.count("fast") > 100 and outcomes.count("bail") > 100, {o: outcomes.count(o) for o in set(outcomes)}


# the characters the subset check tells apart: ASCII controls, line breaks, tab, the ends of YAML's
# printable ranges, a BOM, non-characters, a surrogate, and plain text
_CHARACTERS = st.sampled_from(
    [*"\x00\x08\t\n\x0b\r\x1f \x7e\x7f\x80\x84\x85\x9f\xa0", "\u2027", "\u2028", "\u2029", "\u202a", "\ud7ff",
     "\ud800", "\udfff", "\ue000", "\ufefe", "\ufeff", "\uff00", "\ufffd", "\ufffe", "\uffff", "\U00010000",
     "\U0010ffff", "é", "a", "-", ":"]  # fmt: skip
)


@settings(max_examples=500, deadline=None)
@given(st.text(_CHARACTERS, max_size=30) | st.text(max_size=30))
def test_the_quick_character_check_is_the_regex(text: str) -> None:
    assert front_matter._outside_subset(text) == (front_matter._OUTSIDE.search(text) is not None), repr(text)
