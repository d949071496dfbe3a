"""Safe YAML loading for front matter: PyYAML's safe semantics, at about twice its speed.

libyaml (C) scans, parses and composes the node graph, resolving every plain
scalar's tag as PyYAML's safe loader does; only building Python objects from
that graph is Python code. :func:`load` builds the common shapes (mappings,
sequences, strings) directly and hands every other node (ints, booleans,
timestamps, nulls, anything tagged) to the safe constructor, so the result is
what ``yaml.load(text, SafeLoader)`` gives, including its errors. Aliases are
built once and shared, never expanded, so an alias bomb costs no memory.

One deliberate difference: merge keys (``<<``) are refused. No article needs
them, and PyYAML's own merge handling grows exponentially on nested merges of
aliases in some releases (yaml/pyyaml#897), a "merge bomb".
"""

from __future__ import annotations

from typing import Any

import yaml

try:  # libyaml is several times faster and bounds nesting depth in C
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, except that a timestamp Python cannot hold stays text.

    ``2024-02-30`` or ``0000-01-01`` would make SafeConstructor raise a bare
    ValueError; as text they reach the reader's date parser and get a clear message.
    """


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


class _NeedsFullConstructor(Exception):
    """A node shape the fast path does not build (unhashable keys): the safe constructor says why."""


class MergeKeyError(yaml.constructor.ConstructorError):
    """Front matter used a ``<<`` merge key, which is refused (see the module docstring)."""


def _build(node: yaml.Node, loader: Loader, built: dict[int, Any]) -> Any:
    tag = node.tag
    if tag == _STR and type(node) is yaml.ScalarNode:
        return node.value
    known = built.get(id(node))
    if known is not None:
        return known
    if tag == _MAP and type(node) is yaml.MappingNode:
        mapping: dict = {}
        built[id(node)] = mapping
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise MergeKeyError(None, None, "merge keys (<<) are not allowed in front matter", key_node.start_mark)
            key = _build(key_node, loader, built)
            try:
                mapping[key] = _build(value_node, loader, built)
            except TypeError:  # an unhashable key: let SafeConstructor say so
                raise _NeedsFullConstructor from None
        return mapping
    if tag == _SEQ and type(node) is yaml.SequenceNode:
        sequence: list = []
        built[id(node)] = sequence
        sequence.extend(_build(item, loader, built) for item in node.value)
        return sequence
    value = loader.construct_object(node, deep=True)
    if isinstance(node, yaml.CollectionNode):
        built[id(node)] = value
    return value


def load(text: str) -> Any:
    """The single YAML document in ``text``, as the safe loader builds it; raises yaml.YAMLError."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _build(node, loader, {})
        except _NeedsFullConstructor:
            return loader.construct_document(node)
    finally:
        loader.dispose()
