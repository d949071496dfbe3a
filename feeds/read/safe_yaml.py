"""Safe YAML loading for front matter: PyYAML's safe semantics, total, at about twice its speed.

libyaml (C) scans, parses and composes the node graph, resolving every plain
scalar's tag as PyYAML's safe loader does; only building Python objects from
that graph is Python code. :func:`load` gives what ``yaml.safe_load`` gives,
with these documented differences (tests/test_safe_yaml.py holds it to them):

- **A value the safe constructor cannot build is an** :class:`Unreadable`
  **instead of an exception for the whole document** (issue 15): a bad scalar
  (``!!int abc``, ``!!bool maybe``, ``!!timestamp soon``, an integer over 4,300
  digits), an unknown or ``!!python/...`` tag (nothing is ever constructed from
  it), a collection of the wrong shape (``!!omap {a: 1}``), an unhashable key
  (the key becomes the Unreadable). One bad value costs that value, never its
  neighbours; the reader drops it with a warning naming its field.
- **A mapping with a merge key** (``<<``) is an Unreadable: no article needs
  them, and PyYAML's merging grows exponentially on nested merges of aliases in
  some releases (yaml/pyyaml#897), a "merge bomb". Nothing is merged, ever.
- **A timestamp Python cannot hold** (``2024-02-30``, ``0000-01-01``) stays
  text, so the reader's date parser names it in its message.
- **An integer written with more than 4,300 digits is an Unreadable in every
  base**: Python refuses longer decimal ones (``int`` raises), and a sexagesimal
  one (``1:2:3:…``) costs quadratic time to build.

Only parse errors (bad syntax, bad characters) still raise ``yaml.YAMLError``.

The fast path: :func:`load` builds plain mappings and sequences (the default
``!!map``/``!!seq`` tags, no ``=`` or ``<<`` key, hashable keys) and the common
scalars itself and hands other scalars to the constructor, one node at a time.
On meeting anything else (a tagged collection, an ``=`` or ``<<`` key, an
unhashable key) it starts again with the whole safe constructor on the
untouched graph: SafeConstructor mutates nodes as it builds tagged collections
(``flatten_mapping`` retags ``=`` keys), so its result depends on its build
order, which only it can reproduce. The fast path never hands a collection to
the constructor, so it never meets that order. Aliases are built once and
shared, never expanded, so an alias bomb costs no memory.

Speed: libyaml calls back into Python to resolve the tag of every node. Our
Loader answers quoted scalars and collections directly and remembers the tag
of each plain scalar's text (the same words recur in every file), which is
exact because, without path resolvers, a plain scalar's tag depends on its text
alone. The Loader keeps its own copy of PyYAML's implicit resolvers, so a later
change to PyYAML's shared ``Resolver`` cannot make that memo stale.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import yaml

from feeds.read import front_matter
from feeds.read.yaml_problems import (
    CONSTRUCTION_ERRORS,
    MAP_TAG,
    MAX_INT_DIGITS,
    MERGE_TAG,
    SEQ_TAG,
    TOO_LONG,
    VALUE_TAG,
    built_kind,
    explain,
    shape_problem,
)
from feeds.read.yaml_scalars import INT_TAG, SLOW, plain_date_time, quick

try:  # libyaml is several times faster and bounds nesting depth in C
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_INT_LIMIT = 10**MAX_INT_DIGITS  # the smallest integer str() refuses to write
_MEMO_SIZE = 10_000  # plain scalars remembered; cleared when full, so memory stays bounded
_MEMO_TEXT_CHARS = 100  # longer scalars are prose or URLs, which rarely recur
_ScalarNode = yaml.ScalarNode
_MappingNode = yaml.MappingNode
_SequenceNode = yaml.SequenceNode


class Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, total: a value it cannot build is an :class:`Unreadable` (see the module docstring).

    ``unreadable`` counts the Unreadable values the current document holds.
    """

    unreadable = 0
    repeated: list[tuple[str, int]] | None = None  # (key, line) of each key given again; made at the first

    _plain_tags: dict[str, str] = {}  # plain scalar text -> tag; replaced whenever a resolver is added
    _plain_values: dict[str, Any] = {}  # plain scalar text -> value (immutable builtins): the fast path's memo
    _stock_resolvers = True  # PyYAML's implicit resolvers, untouched: yaml_scalars.plain_date_time may answer

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """SafeConstructor's, except that a node it cannot build becomes an Unreadable.

        Collections are checked for shape before SafeConstructor sees them: it
        checks only after handing out the empty collection, when an error could
        no longer be confined to it.
        """
        if node in self.constructed_objects:
            return self.constructed_objects[node]
        if node in self.recursive_objects:  # a key built while it is being built; not remembered
            return self._unreadable(node, "a value that contains itself")
        problem = shape_problem(node)
        if problem is None:
            deep_before = self.deep_construct
            try:
                return super().construct_object(node, deep)
            except CONSTRUCTION_ERRORS as exc:
                # restore what BaseConstructor.construct_object leaves behind when a constructor raises
                self.deep_construct = deep_before
                self.recursive_objects.pop(node, None)
                problem = explain(exc, node.tag)
        value = self.constructed_objects[node] = self._unreadable(node, problem)
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """SafeConstructor's, except that an unhashable key becomes an Unreadable (its value is not built)."""
        if type(node) is not _MappingNode:
            return super().construct_mapping(node, deep)  # raises (never reached: shape_problem)
        self.flatten_mapping(node)  # only retags "=" keys: a mapping with "<<" never gets here (shape_problem)
        mapping = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                mapping[key] = self.construct_object(value_node, deep=deep)
            else:
                mapping[self._unreadable(key_node, f"{built_kind(key)} cannot be a key")] = None
        if len(mapping) != len(node.value):
            self.note_repeated_keys(node, lambda key_node: self.construct_object(key_node, deep=deep))
        return mapping

    def note_repeated_keys(self, node: yaml.MappingNode, build: Callable[[yaml.Node], Any]) -> None:
        """Add each scalar key ``node`` gives again (``1`` after ``true`` too) to ``repeated``, with its line:
        YAML keeps the last value without a word, which hid a second ``title:`` pasted below the first.
        Asked only of a mapping built smaller than its node; ``build`` gives a key node's built (memoised) key."""
        seen = set()
        for key_node, _ in node.value:
            if type(key_node) is _ScalarNode:
                key = build(key_node)
                if key in seen:  # a list, not a tuple grown by copying: 16,000 repeats in one file took 0.7 s
                    if self.repeated is None:
                        self.repeated = []
                    self.repeated.append((key_node.value, key_node.start_mark.line + 1))
                seen.add(key)

    def _unreadable(self, node: yaml.Node, problem: str) -> Unreadable:
        self.unreadable += 1
        text = node.value if isinstance(node, yaml.ScalarNode) else None
        return Unreadable(node.tag, problem, text, node.start_mark.line + 1)

    @classmethod
    def add_implicit_resolver(cls, tag: str, regexp: Any, first: Any) -> None:
        """PyYAML's, and forget the remembered tags (set on ``cls``, so a subclass gets its own memo)."""
        super().add_implicit_resolver(tag, regexp, first)
        cls._plain_tags, cls._plain_values, cls._stock_resolvers = {}, {}, False

    @classmethod
    def add_path_resolver(cls, tag: str, path: Any, kind: Any = None) -> None:
        """PyYAML's, and forget the remembered tags (a path resolver disables the memo anyway)."""
        super().add_path_resolver(tag, path, kind)
        cls._plain_tags, cls._plain_values, cls._stock_resolvers = {}, {}, False

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """PyYAML's Resolver.resolve, answered without regexes where the answer is already known.

        libyaml calls it as ``(ScalarNode, text, (plain, quoted))`` or
        ``(SequenceNode|MappingNode, None, implicit)``. Without path resolvers
        the result depends only on the kind, whether the scalar is plain, and its text.
        """
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if kind is _ScalarNode:
            if not implicit[0]:
                return self.DEFAULT_SCALAR_TAG  # quoted, block or "!"-tagged: never implicitly typed
            memo = self._plain_tags
            tag = memo.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(value) <= _MEMO_TEXT_CHARS:
                    if len(memo) >= _MEMO_SIZE:
                        memo.clear()
                    memo[value] = tag
            return tag
        if kind is _MappingNode:
            return self.DEFAULT_MAPPING_TAG
        if kind is _SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        return super().resolve(kind, value, implicit)


# Loader's own copy of the resolver table (see the module docstring)
Loader.yaml_implicit_resolvers = {
    first: list(resolvers) for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class Unreadable:
    """A YAML value the safe constructor cannot build: its tag, why, its text (scalars) and line.

    Compared by identity, like the node it stands for; hashable, so it can stand for a key.
    """

    __slots__ = ("tag", "problem", "text", "line")

    def __init__(self, tag: str, problem: str, text: str | None, line: int) -> None:
        self.tag, self.problem, self.text, self.line = tag, problem, text, line

    def __str__(self) -> str:
        tag = self.tag.replace("tag:yaml.org,2002:", "!!")
        if self.text is None:
            return f"{tag}: {self.problem}"
        shown = repr(self.text[:40] + "…" if len(self.text) > 40 else self.text)
        return f"{tag} {shown}: {self.problem}"

    def __repr__(self) -> str:
        return f"Unreadable({self.tag!r}, {self.problem!r}, line {self.line})"


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


def _integer(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    """SafeConstructor's, refusing what Python cannot print (a hex or sexagesimal integer can get there)."""
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    if not -_INT_LIMIT < value < _INT_LIMIT:
        raise yaml.constructor.ConstructorError(None, None, TOO_LONG, node.start_mark)
    return value


Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
Loader.add_constructor(INT_TAG, _integer)


class _NeedsFullConstructor(Exception):
    """A node the fast path leaves to the whole safe constructor (see the module docstring)."""


def _scalar(node: yaml.ScalarNode, loader: Loader) -> Any:
    value = quick(node.tag, node.value)
    return loader.construct_object(node, deep=True) if value is SLOW else value


def _build(node: yaml.Node, loader: Loader, built: dict[int, Any]) -> Any:
    """The fast path: plain collections and scalars only; raises _NeedsFullConstructor for the rest."""
    kind = type(node)
    if kind is _ScalarNode:
        return node.value if node.tag == _STR else _scalar(node, loader)
    known = built.get(id(node))
    if known is not None:
        return known
    tag = node.tag
    if tag == MAP_TAG and kind is _MappingNode:
        mapping: dict = {}
        built[id(node)] = mapping
        for key_node, value_node in node.value:
            # plain strings, the commonest keys and values, are taken inline: no call per node
            key_tag = key_node.tag
            if key_tag == _STR and type(key_node) is _ScalarNode:
                key = key_node.value
            elif key_tag == MERGE_TAG or key_tag == VALUE_TAG:  # SafeConstructor refuses or retags them
                raise _NeedsFullConstructor
            else:
                key = _build(key_node, loader, built)
                if not isinstance(key, Hashable):
                    raise _NeedsFullConstructor
            if value_node.tag == _STR and type(value_node) is _ScalarNode:
                mapping[key] = value_node.value
            else:
                mapping[key] = _build(value_node, loader, built)
        if len(mapping) != len(node.value):
            loader.note_repeated_keys(node, lambda key_node: _build(key_node, loader, built))
        return mapping
    if tag == SEQ_TAG and kind is _SequenceNode:
        sequence: list = []
        built[id(node)] = sequence
        for item in node.value:
            is_text = item.tag == _STR and type(item) is _ScalarNode
            sequence.append(item.value if is_text else _build(item, loader, built))
        return sequence
    raise _NeedsFullConstructor


def load(text: str) -> Any:
    """The single YAML document in ``text`` (see the module docstring); raises yaml.YAMLError on bad syntax."""
    return load_counting_unreadable(text)[0]


class _PlainScalars:
    """What the Loader builds from one plain scalar's text: front_matter's ``plain`` for one document.

    The tag comes from the Loader's memo of resolved tags, or its resolver (which fills the memo); the
    value from :func:`_scalar`, which hands what it does not build itself to the Loader's constructors:
    the code the libyaml path runs. A value the Loader would make an Unreadable is not the fast path's:
    the libyaml path then reports it with its line.
    """

    __slots__ = ("_loader",)

    def __init__(self) -> None:
        self._loader: Loader | None = None

    def __call__(self, text: str) -> Any:
        tag = Loader._plain_tags.get(text)
        if tag is None:
            if Loader._stock_resolvers and (value := plain_date_time(text)) is not SLOW:
                return value  # a date (each text unique): neither resolved nor remembered
            tag = self.loader().resolve(_ScalarNode, text, (True, False))  # what libyaml asks for a plain scalar
        value = text if tag == _STR else quick(tag, text)
        if value is SLOW:
            loader = self.loader()
            value = loader.construct_object(_ScalarNode(tag, text, _NO_MARK, _NO_MARK), deep=True)
            if loader.unreadable:
                raise front_matter.NotMine
        if type(value) in _REMEMBERED and len(text) <= _MEMO_TEXT_CHARS:
            # the same words recur in every file (keys, true, sizes): front_matter takes them from the memo,
            # no call (issue 20). Exact while a text's tag and the constructors stay what they are: a
            # resolver added empties the memo, and constructors are only ever added at import.
            memo = Loader._plain_values
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[text] = value
        return value

    def loader(self) -> Loader:
        if self._loader is None:
            self._loader = Loader("")
        return self._loader


# immutable and equal to every copy, so one value can stand for them all; floats are rare in articles, and
# a nan's identity (SafeConstructor hands out one nan object) is left to the constructor
_REMEMBERED = (str, int, bool, type(None))
_NO_MARK = yaml.Mark("<front matter>", 0, 0, 0, None, None)  # a node the fast path builds is never reported


def load_counting_unreadable(text: str) -> tuple[Any, int]:
    """:func:`load`, and how many :class:`Unreadable` values the document holds (0: none to look for)."""
    value, unreadable, _ = load_reporting(text)
    return value, unreadable


def load_reporting(text: str) -> tuple[Any, int, tuple[tuple[str, int], ...]]:
    """:func:`load_counting_unreadable`, and each key given again in one mapping (key, line from 1).

    Front matter in the subset :mod:`feeds.read.front_matter` reads is read there (it holds no
    Unreadable and no key twice); anything else by libyaml, :func:`load_with_libyaml`.
    """
    if not Loader.yaml_path_resolvers:  # a path resolver types a scalar by where it is: only libyaml knows
        value = front_matter.parse(text, _PlainScalars(), Loader._plain_values)
        if value is not None:
            return value, 0, ()
    return _load_with_libyaml(text)


def load_with_libyaml(text: str) -> tuple[Any, int]:
    """:func:`load_counting_unreadable` without the front-matter fast path: the reference it is held to."""
    value, unreadable, _ = _load_with_libyaml(text)
    return value, unreadable


def _load_with_libyaml(text: str) -> tuple[Any, int, tuple[tuple[str, int], ...]]:
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, 0, ()
        try:
            return _build(node, loader, {}), loader.unreadable, tuple(loader.repeated or ())
        except _NeedsFullConstructor:
            # the fast path built scalars only, so the graph is as composed: start again
            yaml.constructor.SafeConstructor.__init__(loader)
            loader.unreadable, loader.repeated = 0, None
            return loader.construct_document(node), loader.unreadable, tuple(loader.repeated or ())
    finally:
        loader.dispose()
