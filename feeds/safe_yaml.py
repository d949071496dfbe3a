"""Safe YAML loading for front matter: PyYAML's safe semantics, at about twice its speed.

libyaml (C) scans, parses and composes the node graph, resolving every plain
scalar's tag as PyYAML's safe loader does; only building Python objects from
that graph is Python code. :func:`load` builds the common shapes (mappings,
sequences, strings, decimal ints, booleans, nulls) directly and hands every
other node (timestamps, floats, anything tagged) to the safe constructor, so
the result is what ``yaml.load(text, SafeLoader)`` gives. On any fault the
safe constructor builds the document again, so the error raised is the one it
meets first (it builds in another order). Aliases are built once and shared,
never expanded, so an alias bomb costs no memory.

One deliberate difference: merge keys (``<<``) are refused, wherever they are
(also before the safe constructor is handed a node or a document). No article needs
them, and PyYAML's own merge handling grows exponentially on nested merges of
aliases in some releases (yaml/pyyaml#897), a "merge bomb".

Speed: libyaml calls back into Python to resolve the tag of every node. Our
Loader answers quoted scalars and collections directly and remembers the tag
of each plain scalar's text (the same words recur in every file), which is
exact because, without path resolvers, a plain scalar's tag depends on its text
alone. The Loader keeps its own copy of PyYAML's implicit resolvers, so a later
change to PyYAML's shared ``Resolver`` cannot make that memo stale.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

try:  # libyaml is several times faster and bounds nesting depth in C
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"  # a plain "=" key, which SafeConstructor turns into text
_MEMO_SIZE = 10_000  # plain scalars remembered; cleared when full, so memory stays bounded
_MEMO_TEXT_CHARS = 100  # longer scalars are prose or URLs, which rarely recur
_ScalarNode = yaml.ScalarNode
_MappingNode = yaml.MappingNode
_SequenceNode = yaml.SequenceNode


class Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, except that a timestamp Python cannot hold stays text.

    ``2024-02-30`` or ``0000-01-01`` would make SafeConstructor raise a bare
    ValueError; as text they reach the reader's date parser and get a clear message.
    """

    _plain_tags: dict[str, str] = {}  # plain scalar text -> tag; replaced whenever a resolver is added

    @classmethod
    def add_implicit_resolver(cls, tag: str, regexp: Any, first: Any) -> None:
        """PyYAML's, and forget the remembered tags (set on ``cls``, so a subclass gets its own memo)."""
        super().add_implicit_resolver(tag, regexp, first)
        cls._plain_tags = {}

    @classmethod
    def add_path_resolver(cls, tag: str, path: Any, kind: Any = None) -> None:
        """PyYAML's, and forget the remembered tags (a path resolver disables the memo anyway)."""
        super().add_path_resolver(tag, path, kind)
        cls._plain_tags = {}

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


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class _NeedsFullConstructor(Exception):
    """A node shape the fast path leaves to the safe constructor ("=" keys)."""


class MergeKeyError(yaml.constructor.ConstructorError):
    """Front matter used a ``<<`` merge key, which is refused (see the module docstring)."""


# What SafeConstructor makes of the commonest typed scalars, without calling it:
# null is None whatever the text; booleans by their exact spelling; decimal ints
# short enough that int() has no digit limit to hit. Anything else goes to the constructor.
_BOOLS = {
    spelled: value
    for word, value in yaml.constructor.SafeConstructor.bool_values.items()
    for spelled in (word, word.title(), word.upper())
}
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_DECIMAL = re.compile(r"0|-?[1-9][0-9]{0,17}")


def _scalar(node: yaml.ScalarNode, loader: Loader) -> Any:
    tag, text = node.tag, node.value
    if tag == _NULL_TAG:
        return None
    if tag == _INT_TAG and _DECIMAL.fullmatch(text):
        return int(text)
    if tag == _BOOL_TAG and text in _BOOLS:
        return _BOOLS[text]
    return loader.construct_object(node, deep=True)


def _build(node: yaml.Node, loader: Loader, built: dict[int, Any]) -> Any:
    kind = type(node)
    if kind is _ScalarNode:
        return node.value if node.tag == _STR else _scalar(node, loader)
    known = built.get(id(node))
    if known is not None:
        return known
    tag = node.tag
    if tag == _MAP and kind is _MappingNode:
        mapping: dict = {}
        built[id(node)] = mapping
        for key_node, value_node in node.value:
            # plain strings, the commonest keys and values, are taken inline: no call per node
            key_tag = key_node.tag
            if key_tag == _STR and type(key_node) is _ScalarNode:
                key = key_node.value
            elif key_tag == _MERGE:
                raise _merge_key_error(key_node)
            elif key_tag == _VALUE:  # SafeConstructor retags it, as it constructs: let it, exactly
                raise _NeedsFullConstructor
            else:
                key = _build(key_node, loader, built)
            # an unhashable key raises TypeError here: load() lets SafeConstructor say so
            if value_node.tag == _STR and type(value_node) is _ScalarNode:
                mapping[key] = value_node.value
            else:
                mapping[key] = _build(value_node, loader, built)
        return mapping
    if tag == _SEQ and kind is _SequenceNode:
        sequence: list = []
        built[id(node)] = sequence
        for item in node.value:
            is_text = item.tag == _STR and type(item) is _ScalarNode
            sequence.append(item.value if is_text else _build(item, loader, built))
        return sequence
    _refuse_merge_keys(node)  # SafeConstructor would merge them
    value = loader.construct_object(node, deep=True)
    built[id(node)] = value  # a collection: aliases of it share this one object
    return value


def _merge_key_error(key_node: yaml.Node) -> MergeKeyError:
    return MergeKeyError(None, None, "merge keys (<<) are not allowed in front matter", key_node.start_mark)


def _refuse_merge_keys(root: yaml.Node) -> None:
    """Raise MergeKeyError if any mapping under ``root`` has a ``<<`` key: before SafeConstructor builds it."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen or type(node) is _ScalarNode:
            continue
        seen.add(id(node))  # each node once: aliases cost nothing
        if type(node) is _MappingNode:
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    raise _merge_key_error(key_node)
                pending += (key_node, value_node)
        else:
            pending += node.value


def load(text: str) -> Any:
    """The single YAML document in ``text``, as the safe loader builds it; raises yaml.YAMLError."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _build(node, loader, {})
        except (MergeKeyError, RecursionError):
            raise
        except Exception:  # noqa: BLE001 - not swallowed: SafeConstructor raises it again, or the one it meets first
            # SafeConstructor builds in another order, so when a document has
            # several faults its error is the one to give; "=" keys and
            # unhashable keys are left to it too
            _refuse_merge_keys(node)
            yaml.constructor.SafeConstructor.__init__(loader)  # forget the partial build
            return loader.construct_document(node)
    finally:
        loader.dispose()
