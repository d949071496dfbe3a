"""The fast safe loader gives exactly what PyYAML's safe loader gives, errors included."""

from __future__ import annotations

import os
import random
import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.read import safe_yaml
from feeds.read.reader import decode, split_front_matter

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
        return (type(value).__name__, sorted(repr(_typed(item, path)) for item in value))
    if isinstance(value, safe_yaml.Unreadable):
        return ("Unreadable", value.tag, value.problem, value.text, value.line)
    return (type(value).__name__, repr(value))


def _outcome(load, text: str):
    try:
        return ("ok", _typed(load(text)))
    except Exception as exc:  # noqa: BLE001 - bare ValueErrors and KeyErrors must match too
        return ("error", type(exc).__name__, str(exc))


def _reference(text: str):
    return _outcome(lambda t: yaml.load(t, Loader=_Reference), text)  # noqa: S506 - a safe loader


def _fast(text: str):
    """safe_yaml.load's outcome, checked against the whole safe constructor and against PyYAML's own.

    - the fast path equals our Loader building the document with SafeConstructor's
      own code and order (``yaml.load``), Unreadable values included, exactly;
    - when it built no Unreadable value, it equals PyYAML's safe loader (value or syntax error);
    - when it built one, PyYAML's safe loader refuses the document, unless a documented
      difference put it there (a merge key, an integer over 4,300 digits).
    """
    counted = _outcome(safe_yaml.load_counting_unreadable, text)
    fast = counted if counted[0] == "error" else ("ok", counted[1][1][0])
    assert _outcome(lambda t: yaml.load(t, Loader=safe_yaml.Loader), text) == fast  # noqa: S506
    reference = _reference(text)
    if fast[0] == "error" or counted[1][1][1] == ("int", "0"):  # no Unreadable was built
        assert fast == reference
    elif reference[0] == "ok":
        assert _has_merge_key(text) or _has_overlong_integer(reference), text
    return fast


def _has_unreadable(typed) -> bool:
    if isinstance(typed, tuple) and typed and typed[0] == "Unreadable":
        return True
    if isinstance(typed, tuple | list):
        return any(_has_unreadable(part) for part in typed)
    return isinstance(typed, str) and typed.startswith("('Unreadable'")  # an element of a typed set


def _has_overlong_integer(typed) -> bool:
    if isinstance(typed, tuple) and len(typed) == 2 and typed[0] == "int":
        return len(typed[1]) > 4300
    return isinstance(typed, tuple | list) and any(_has_overlong_integer(part) for part in typed)


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
        assert _fast(text) == _fast(text), text  # _fast compares with PyYAML; again with every tag remembered


def test_an_unhashable_key_is_unreadable_and_its_value_not_built() -> None:
    data, count = safe_yaml.load_counting_unreadable("? [1, 2]\n: !!int abc\nb: 2")
    [(key, value), b] = data.items()
    assert b == ("b", 2)
    assert isinstance(key, safe_yaml.Unreadable) and "a list cannot be a key" in str(key)
    assert value is None and count == 1


def test_the_issue_15_document_is_read_as_safe_constructor_order_builds_it() -> None:
    """Refused by yaml.safe_load; our fast path once accepted it by building depth-first (issue 15)."""
    text = "a:\n  s: &s !!set {=: x}\nb: !!omap [*s]\n"
    assert _reference(text)[0] == "error"
    data = safe_yaml.load(text)
    assert isinstance(data["b"][0][0], safe_yaml.Unreadable)


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
    _fast(text)  # compares with the whole safe constructor and with PyYAML


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!,'\" \n1.#<?|>")), max_size=60))
def test_arbitrary_text_loads_or_fails_the_same(text: str) -> None:
    _fast(text)  # compares with the whole safe constructor and with PyYAML


# Every kind of plain scalar the resolver tells apart, and ways of quoting or tagging them.
_SCALARS = [
    *"yes Yes YES no No On off oFF y n true True TRUE false False ~ null Null NULL nULL".split(),
    *"0 00 012 0o17 0x1F 0x 0b101 -0 +5 -5 1_000 123456789012345678901 1:30 -1:30 1:60 09".split(),
    *"1.5 1. .5 1e5 1.5e+5 1.5E-5 .inf -.Inf +.INF .NaN .nan 1_0.5 1:30.5".split(),
    *"2021-10-06 2021-10-06T08:38:00Z 2021-1-6T8:38:00.5 2024-02-30 0000-01-01 2021-10-06t08:38:00+01".split(),
    *"2021-10-06T08:38:00+02:00 2021-10-06T08:38:00-00:00 2021-10-06T08:38:00-05:30 2024-02-30T00:00:00Z".split(),
    *"2021-10-06T24:00:00Z 2021-10-06T08:38:00+24:00 2021-10-06T08:38:00-23:75 0000-01-01T00:00:00Z".split(),
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
    _fast(text)  # compares with the whole safe constructor and with PyYAML
    _fast(text)  # again, with every tag remembered


# Timestamps around the one spelling feeds.read.yaml_scalars builds itself (YYYY-MM-DDTHH:MM:SS, then Z or
# ±HH:MM): fields out of range (February 30, hour 24, offset 24:00 or more), offset minutes over 59, -00:00,
# and near misses (one-digit fields, "t", a fraction, no offset minutes) that the constructor builds.
_TWO = st.sampled_from(["00", "01", "09", "12", "13", "23", "24", "28", "29", "30", "31", "59", "60", "75", "99", "7"])
_TIMESTAMPS = st.builds(
    lambda year, month, day, hour, minute, second, t, tail: f"{year}-{month}-{day}{t}{hour}:{minute}:{second}{tail}",
    st.sampled_from(["0000", "0001", "1899", "2000", "2024", "9999"]), _TWO, _TWO, _TWO, _TWO, _TWO,
    st.sampled_from(["T", "T", "t", " "]),
    st.sampled_from(["Z", "", ".5Z", "+01", " Z"])
    | st.builds(lambda sign, hours, minutes: f"{sign}{hours}:{minutes}", st.sampled_from("+-"), _TWO, _TWO),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(_TIMESTAMPS, st.sampled_from(["k: {}", "- {}", "k: !!timestamp {}", "[{}]"]))
def test_generated_timestamps_load_as_pyyaml_builds_them(stamp: str, document: str) -> None:
    _fast(document.format(stamp))  # compares with the whole safe constructor and with PyYAML (tzinfo included)


def test_remembered_tags_stay_bounded_and_right() -> None:
    text = "\n".join(f"k{index}: {index}" for index in range(safe_yaml._MEMO_SIZE + 500))
    _fast(text)  # compares with the whole safe constructor and with PyYAML
    assert 0 < len(safe_yaml.Loader._plain_tags) <= safe_yaml._MEMO_SIZE
    assert 0 < len(safe_yaml.Loader._plain_values) <= safe_yaml._MEMO_SIZE
    _fast(text)  # again, every value from the memos
    long_word = "w" * (safe_yaml._MEMO_TEXT_CHARS + 1)
    assert safe_yaml.load(f"a: {long_word}") == {"a": long_word}
    assert long_word not in safe_yaml.Loader._plain_tags and long_word not in safe_yaml.Loader._plain_values
    assert safe_yaml.load("a: 2024-06-08T01:45:00Z")  # a date is no builtin a memo shares: never remembered
    assert not any(type(value).__module__ == "datetime" for value in safe_yaml.Loader._plain_values.values())


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
    # a loader with resolvers of its own never types a date by its shape alone; the base Loader still may
    assert not Shouting._stock_resolvers and safe_yaml.Loader._stock_resolvers


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
        assert _fast(front)[0] == "ok" and not _has_unreadable(_fast(front))


# ----- nested tagged collections, anchors and aliases (issue 15) ------------------------------------

_T = "tag:yaml.org,2002:"
# every tag SafeConstructor knows, on every kind of node, plus unknown and python ones; mostly
# none (the implicit tag), so that most documents are ones PyYAML accepts
_SEQUENCE_TAGS = [*[None] * 6, *(_T + t for t in ("seq", "omap", "omap", "pairs", "pairs", "set", "str")), "!foo"]
_MAPPING_TAGS = [*[None] * 6, *(_T + t for t in ("map", "set", "set", "omap", "str", "binary", "int")),
                 _T + "python/object/apply:os.system"]  # fmt: skip
_SCALAR_TAGS = [*[None] * 12, *(_T + t for t in ("int", "float", "bool", "null", "timestamp", "binary", "str",
                "value", "merge", "map", "seq")), "!foo"]  # fmt: skip
_TEXTS = [
    *"= << ~ yes maybe no 12 -0 0o17 0x1F 0b11 1:30 1_000 .nan -.inf 1e5 1.5 abc x y".split(),
    "2021-10-06", "2021-10-06T08:38:00Z", "2024-02-30", "0000-01-01", "aGVsbG8=", "", " ", "1" * 4301,
]


def node_graph(rng: random.Random) -> yaml.Node:
    """A node graph of nested (tagged) collections and odd scalars; a node may appear again
    anywhere later (an alias), a collection even inside itself (a cycle).

    Drawn from a seeded Random (hypothesis draws one per example): drawing each choice
    through hypothesis costs ten times what loading the document does.
    """
    pool: list[yaml.Node] = []
    resolver = yaml.resolver.Resolver()

    def scalar() -> yaml.Node:
        text = rng.choice(_TEXTS)
        tag = rng.choice(_SCALAR_TAGS) or resolver.resolve(yaml.ScalarNode, text, (True, False))
        return yaml.ScalarNode(tag, text)

    def node(depth: int) -> yaml.Node:
        choice = rng.randrange(10)
        if pool and choice == 0:
            return rng.choice(pool)  # an alias of any node made so far
        if depth >= 4 or choice < 4:
            made = scalar()
            pool.append(made)
            return made
        if choice < 6:
            made = yaml.SequenceNode(rng.choice(_SEQUENCE_TAGS) or _T + "seq", [])
            pool.append(made)  # before its items: an item may be an alias of it
            for _ in range(rng.randrange(4)):
                if made.tag in (_T + "omap", _T + "pairs") and rng.randrange(5):  # mostly well formed
                    made.value.append(yaml.MappingNode(_T + "map", [(scalar(), node(depth + 1))]))
                else:
                    made.value.append(node(depth + 1))
            return made
        made = yaml.MappingNode(rng.choice(_MAPPING_TAGS) or _T + "map", [])
        pool.append(made)
        for _ in range(rng.randrange(4)):
            key = node(depth + 1) if rng.randrange(5) == 0 else scalar()
            made.value.append((key, node(depth + 1)))
        return made

    root = yaml.MappingNode(_T + "map", [])
    pool.append(root)
    for index in range(1 + rng.randrange(4)):
        root.value.append((yaml.ScalarNode(_T + "str", f"k{index}"), node(1)))
    return root


def _serialized(root: yaml.Node) -> str | None:
    try:
        return yaml.serialize(root, Dumper=yaml.CSafeDumper, width=10_000)
    except yaml.YAMLError:
        return None  # a graph the emitter cannot write (a tag it refuses)


DIFFERENTIAL_DOCUMENTS = int(os.environ.get("FEEDS_DIFFERENTIAL_DOCUMENTS", "20000"))


@settings(max_examples=DIFFERENTIAL_DOCUMENTS, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=True))
def test_nested_tagged_collections_with_aliases_load_as_pyyaml(rng: random.Random) -> None:
    text = _serialized(node_graph(rng))
    if text is not None:
        _fast(text)
