"""Why a YAML value cannot be built: the reason each Unreadable names, merge keys refused, the neighbours kept."""

from __future__ import annotations

import pytest

from feeds.read import safe_yaml

from .test_safe_yaml import _fast


def test_merge_keys_are_refused_even_as_a_bomb() -> None:
    lines = ["a0: &a0 {x: 1}"]
    for level in range(1, 30):
        lines.append(f"a{level}: &a{level}\n  <<: [*a{level - 1}, *a{level - 1}]")
    data = safe_yaml.load("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3")
    assert data["base"] == {"x": 1, "y": 2} and "merge keys" in str(data["derived"])
    data = safe_yaml.load("\n".join(lines))
    assert all("merge keys" in str(data[f"a{level}"]) for level in range(1, 30))


# One case a line: what the safe constructor cannot build costs only that value (issue 15).
UNREADABLE = [
    ("q: !!int abc", "q", "!!int 'abc': not an integer"),
    ("q: !!float abc", "q", "!!float 'abc': not a number"),
    ("q: !!bool maybe", "q", "!!bool 'maybe': not true or false"),
    ("q: !!timestamp soon", "q", "!!timestamp 'soon': not a date"),
    ("q: " + "1" * 5000, "q", "more than 4,300 digits"),
    ("q: 0x" + "f" * 4000, "q", "more than 4,300 digits"),
    ("q: !!binary 'not base64!'", "q", "failed to decode base64"),
    ("q: !Foo bar", "q", "!Foo 'bar': unknown tag"),
    ("q: !!python/object/apply:os.system [ls]", "q", "!!python/object/apply:os.system: unknown tag"),
    ("q: !!omap {a: 1}", "q", "expected a sequence of one-entry mappings"),
    ("q: !!map [a]", "q", "expected a mapping, but found a sequence"),
    ("q: !!seq {a: 1}", "q", "expected a sequence, but found a mapping"),
    ("q: !!str [a]", "q", "expected a scalar node"),
    ("q: {<<: {a: 1}}", "q", "merge keys"),
]


@pytest.mark.parametrize(("text", "key", "shown"), UNREADABLE)
def test_an_unbuildable_value_is_unreadable_and_its_neighbours_are_kept(text: str, key: str, shown: str) -> None:
    data, count = safe_yaml.load_counting_unreadable(f"before: 1\n{text}\nafter: [x]\n")
    assert data["before"] == 1 and data["after"] == ["x"] and count == 1
    assert isinstance(data[key], safe_yaml.Unreadable) and shown in str(data[key])
    assert _fast(text)[0] == "ok"
