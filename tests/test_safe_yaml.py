"""The fast safe loader gives exactly what PyYAML's safe loader gives, errors included."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import safe_yaml
from feeds.reader import decode, split_front_matter

from .conftest import REAL_CORPUS, SAMPLES, require_shared


def _reference(text: str):
    try:
        return ("ok", yaml.load(text, Loader=safe_yaml.Loader))  # noqa: S506 - the safe loader itself
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__)


def _fast(text: str):
    try:
        return ("ok", safe_yaml.load(text))
    except safe_yaml.MergeKeyError:
        return _reference_or_refusal(text)
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__)


def _reference_or_refusal(text: str):
    """A refused merge key is the one deliberate difference: it must really be a merge key."""
    assert "<<" in text
    return _reference(text)


CASES = [
    "title: plain\nn: 12\nf: 1.5\nb: true\nnull_value: null\nd: 2021-10-06T08:38:00Z\nday: 2021-10-06",
    "bad_date: 2024-02-30\nzero: 0000-01-01",
    "a: &x [1, 2, {k: v}]\nb: *x\nc: *x",
    "? [1, 2]\n: unhashable key",
    "obj: !!python/object:os.system {}",
    "t: !!python/name:os.system",
    "s: !!set {a, b}",
    "o: !!omap [a: 1, b: 2]",
    "bin: !!binary aGVsbG8=",
    "custom: !mytag value",
    "- a list\n- not a mapping",
    "just a scalar",
    "",
    "# only a comment",
    "a: 1\n---\nb: 2",
    "key: [unclosed",
    "dup: 1\ndup: 2",
    "quoted: '12'\nother: \"true\"",
    "octal: 0o17\nhex: 0x1F\nsexagesimal: 1:30\nyes_word: yes",
    "nested: {a: [{b: [{c: deep}]}]}",
    "empty_map: {}\nempty_list: []",
    "anchor_scalar: &s text\nagain: *s",
]


def test_cases_match_pyyaml() -> None:
    for text in CASES:
        assert _fast(text) == _reference(text), text


def test_merge_keys_are_refused_even_as_a_bomb() -> None:
    lines = ["a0: &a0 {x: 1}"]
    for level in range(1, 30):
        lines.append(f"a{level}: &a{level}\n  <<: [*a{level - 1}, *a{level - 1}]")
    for text in ("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3", "\n".join(lines)):
        try:
            safe_yaml.load(text)
        except yaml.YAMLError as exc:
            assert "merge keys" in str(exc)
        else:
            raise AssertionError("a merge key was accepted")


def test_aliases_are_shared_not_copied() -> None:
    data = safe_yaml.load("a: &x [1, 2]\nb: *x")
    assert data["a"] is data["b"]


def test_billion_laughs_is_built_in_linear_space() -> None:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    data = safe_yaml.load("\n".join(lines))
    assert data["l9"][0] is data["l8"]


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(yaml_values)
def test_any_dumped_document_loads_the_same(value) -> None:
    text = yaml.safe_dump(value, allow_unicode=True)
    assert _fast(text) == _reference(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!,'\" \n1.#<?|>")), max_size=60))
def test_arbitrary_text_loads_or_fails_the_same(text: str) -> None:
    assert _fast(text) == _reference(text)


def _fronts(folder):
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts = split_front_matter(decode(path.read_bytes())[0])
        if parts is not None:
            yield parts[0]


def test_samples_and_real_corpus_load_the_same() -> None:
    fronts = list(_fronts(SAMPLES))
    if REAL_CORPUS.exists():
        fronts += list(_fronts(require_shared(REAL_CORPUS)))
    assert fronts
    for front in fronts:
        assert _fast(front) == _reference(front)
