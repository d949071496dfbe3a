"""Why a YAML value cannot be built: the problem an :class:`~feeds.read.safe_yaml.Unreadable` names.

Asked at two moments (see :mod:`feeds.read.safe_yaml`): :func:`shape_problem` before the safe
constructor fills a node, since it checks a collection's shape only after handing the empty
collection out, when an error could no longer be confined to it (and what we refuse to build at
all: merge keys, integers of more than :data:`MAX_INT_DIGITS` digits); :func:`explain` after a
constructor raised one of :data:`CONSTRUCTION_ERRORS`. Each answer is a short phrase the reader's
warning shows after the value's tag.
"""

from __future__ import annotations

from typing import Any

import yaml

from feeds.read.yaml_scalars import INT_TAG

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
MERGE_TAG = "tag:yaml.org,2002:merge"
VALUE_TAG = "tag:yaml.org,2002:value"  # a plain "=" key, which SafeConstructor turns into text
_SET = "tag:yaml.org,2002:set"
_OMAP = "tag:yaml.org,2002:omap"
_PAIRS = "tag:yaml.org,2002:pairs"
MAX_INT_DIGITS = 4_300  # Python's own limit for decimal integers (sys.get_int_max_str_digits)
TOO_LONG = f"an integer of more than {MAX_INT_DIGITS:,} digits"
_ScalarNode = yaml.ScalarNode
_MappingNode = yaml.MappingNode
_SequenceNode = yaml.SequenceNode


# What a constructor raises on a value it cannot build: ConstructorError for a wrong
# node kind, an unknown tag or bad base64; ValueError for int("abc") (and the 4,300-digit
# limit); KeyError for !!bool maybe; AttributeError for !!timestamp soon (PyYAML
# 6.0 calls .groupdict() on a failed match); OverflowError and TypeError for out-of-range
# dates. RecursionError and MemoryError are not among them: the reader reports those.
CONSTRUCTION_ERRORS = (yaml.YAMLError, ValueError, KeyError, AttributeError, OverflowError, TypeError, IndexError)
_WHAT_TAGS_HOLD = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:null": "null",
}


def built_kind(value: Any) -> str:
    """What a value the Loader built is, in words: "a mapping", "a list", "a set", else its type's name
    (a message on YAML's terms; :func:`feeds.read.article_fields.kind_of` names a field's value)."""
    return {dict: "a mapping", list: "a list", set: "a set"}.get(type(value), type(value).__name__)


def explain(exc: Exception, tag: str) -> str:
    """Why a constructor failed on a value tagged ``tag``, having raised ``exc`` (one of CONSTRUCTION_ERRORS)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        return "unknown tag" if exc.problem.startswith("could not determine a constructor") else exc.problem
    return f"not {_WHAT_TAGS_HOLD.get(tag, 'readable')}"


def shape_problem(node: yaml.Node) -> str | None:
    """Why SafeConstructor would fail to fill this collection node (it checks only after
    handing the empty collection out), or why we refuse to (merge keys, overlong integers)."""
    tag, kind = node.tag, type(node)
    if tag == INT_TAG and kind is _ScalarNode:
        return TOO_LONG if len(node.value) > MAX_INT_DIGITS else None
    if tag in (MAP_TAG, _SET):
        if kind is not _MappingNode:
            return f"expected a mapping, but found a {node.id}"
        if any(key.tag == MERGE_TAG for key, _ in node.value):
            return "merge keys (<<) are not read"
    elif tag == SEQ_TAG:
        if kind is not _SequenceNode:
            return f"expected a sequence, but found a {node.id}"
    elif tag in (_OMAP, _PAIRS):
        if kind is not _SequenceNode or any(
            type(item) is not _MappingNode or len(item.value) != 1 for item in node.value
        ):
            return "expected a sequence of one-entry mappings"
    elif kind is _MappingNode and _value_key_cycle(node):
        return "a value that contains itself"
    return None


def _value_key_cycle(node: yaml.MappingNode) -> bool:
    """Whether SafeConstructor.construct_scalar, which reads a scalar-tagged mapping as its "=" key's
    value, would follow "=" keys round a cycle (``&a !!str {=: *a}``) until Python's recursion limit."""
    seen = set()
    while type(node) is _MappingNode:
        if id(node) in seen:
            return True
        seen.add(id(node))
        node = next((value for key, value in node.value if key.tag == VALUE_TAG), None)
    return False
