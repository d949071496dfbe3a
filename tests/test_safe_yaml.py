"""The fast safe loader gives exactly what PyYAML's safe loader gives, errors included."""

from __future__ import annotations

import re

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import safe_yaml
from feeds.reader import decode, split_front_matter

from .conftest import REAL_CORPUS, SAMPLES, require_shared


class _Reference(yaml.CSafeLoader):  # type: ignore[misc]
    """PyYAML's own C safe loader, resolver untouched, with the one documented timestamp difference."""


_Reference.add_constructor("tag:yaml.org,2002:timestamp", safe_yaml._timestamp)


def _typed(value, path: tuple = ()):
    """``value`` with every type spelled out (True is not 1 here, nan equals nan) and cycles named."""
    if isinstance(value, dict | list):
        if id(value) in path:
            return ("cycle", path.index(id(value)))
        path = (*path, id(value))
        if isinstance(value, dict):
            return ("dict", [(_typed(key, path), _typed(item, path)) for key, item in value.items()])
        return ("list", [_typed(item, path) for item in value])
    if isinstance(value, tuple):
        return ("tuple", [_typed(item, path) for item in value])
    if isinstance(value, set | frozenset):
        return (type(value).__name__, sorted(repr(item) for item in value))
    return (type(value).__name__, repr(value))


def _outcome(load, text: str):
    try:
        return ("ok", _typed(load(text)))
    except Exception as exc:  # noqa: BLE001 - bare ValueErrors and KeyErrors must match too
        return ("error", type(exc).__name__, str(exc))


def _reference(text: str):
    return _outcome(lambda t: yaml.load(t, Loader=_Reference), text)  # noqa: S506 - a safe loader


def _fast(text: str):
    fast = _outcome(safe_yaml.load, text)
    if fast[0] == "error" and _has_merge_key(text):
        # the one deliberate difference: refused, whichever error comes first
        return _reference(text)
    # the Loader is also used through yaml.load (the reader counts nodes with it): same answer
    assert _outcome(lambda t: yaml.load(t, Loader=safe_yaml.Loader), text) == fast  # noqa: S506
    return fast


def _has_merge_key(text: str) -> bool:
    try:
        root = yaml.compose(text, Loader=_Reference)
    except yaml.YAMLError:
        return False
    pending, seen = [root], set()
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen or isinstance(node, yaml.ScalarNode):
            continue
        seen.add(id(node))
        pairs = node.value if isinstance(node, yaml.MappingNode) else [(None, item) for item in node.value]
        for key, value in pairs:
            if key is not None and key.tag == "tag:yaml.org,2002:merge":
                return True
            pending += (key, value)
    return False


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
    "tags: [!!int 5, !!int x, !!bool yes, !!null x, !!float 1, !!str 5, ! 12, ! true]",
    "maybe: !!bool maybe",
    "big: 123456789012345678901234567890\nneg: -42\nplus: +7\nunder: 1_000\nsix: -1:30",
    "self: &a [1, *a]",
    "? yes\n: key is a bool\n? 12\n: key is an int\n~: key is null",
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


# Every kind of plain scalar the resolver tells apart, and ways of quoting or tagging them.
_SCALARS = [
    *"yes Yes YES no No On off oFF y n true True TRUE false False ~ null Null NULL nULL".split(),
    *"0 00 012 0o17 0x1F 0x 0b101 -0 +5 -5 1_000 123456789012345678901 1:30 -1:30 1:60 09".split(),
    *"1.5 1. .5 1e5 1.5e+5 1.5E-5 .inf -.Inf +.INF .NaN .nan 1_0.5 1:30.5".split(),
    *"2021-10-06 2021-10-06T08:38:00Z 2021-1-6T8:38:00.5 2024-02-30 0000-01-01 2021-10-06t08:38:00+01".split(),
    *"= << a b.c https://e.com/x?y=1 é ! !a".split(),
    "'quoted'", '"true"', "'12'", '"~"', "!!str 5", "!!int 5", "!!int x", "!!int 0x1F", "!!bool yes",
    "!!bool maybe", "!!null x", "!!float 1", "!!timestamp 2021-10-06", "! 12", "! true", "2021-10-06 08:38:00 +1",
    "&a 5", "*a", "&b true", "*b", "",
]  # fmt: skip
_SCALAR = st.sampled_from(_SCALARS)
_VALUE = _SCALAR | st.lists(_SCALAR, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
scalar_documents = st.lists(st.tuples(_SCALAR, _VALUE), min_size=1, max_size=10).map(
    lambda pairs: "\n".join(f"{key}: {value}" for key, value in pairs)
)


@settings(max_examples=400, deadline=None)
@given(scalar_documents)
def test_every_kind_of_scalar_loads_the_same(text: str) -> None:
    assert _fast(text) == _reference(text)
    assert _fast(text) == _reference(text)  # again, with every tag remembered


def test_remembered_tags_stay_bounded_and_right() -> None:
    text = "\n".join(f"k{index}: {index}" for index in range(safe_yaml._MEMO_SIZE + 500))
    assert _fast(text) == _reference(text)
    assert 0 < len(safe_yaml.Loader._plain_tags) <= safe_yaml._MEMO_SIZE
    long_word = "w" * (safe_yaml._MEMO_TEXT_CHARS + 1)
    assert safe_yaml.load(f"a: {long_word}") == {"a": long_word}
    assert long_word not in safe_yaml.Loader._plain_tags


def test_a_subclass_with_its_own_resolvers_never_sees_stale_tags() -> None:
    class Shouting(safe_yaml.Loader):
        pass

    class ReferenceShouting(_Reference):
        pass

    for loader in (Shouting, ReferenceShouting):
        loader.add_implicit_resolver("!shout", re.compile(r"^[A-Z]+$"), list("ABCXYZ"))
        loader.add_path_resolver("!named", ["named"], str)
        loader.add_constructor("!shout", lambda _, node: ("shout", node.value))
        loader.add_constructor("!named", lambda _, node: ("named", node.value))
    text = "a: ABC\nb: abc\nnamed: abc\nnamed2: abc"
    safe_yaml.load(text)  # remember "ABC" and "abc" as plain text in the base Loader
    expected = yaml.load(text, Loader=ReferenceShouting)  # noqa: S506
    assert expected["a"] == ("shout", "ABC") and expected["named"] == ("named", "abc")
    assert yaml.load(text, Loader=Shouting) == expected  # noqa: S506
    assert safe_yaml.load(text) == {"a": "ABC", "b": "abc", "named": "abc", "named2": "abc"}


def test_the_loader_keeps_its_own_copy_of_the_resolver_table() -> None:
    shared = yaml.resolver.Resolver.yaml_implicit_resolvers
    own = safe_yaml.Loader.yaml_implicit_resolvers
    assert own == shared
    assert own is not shared and all(own[first] is not shared[first] for first in shared)


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
