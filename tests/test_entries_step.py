"""The entries step, whose fast paths (keys alone, values alone, a per-class table) must give what
the plain rule gives: each key through the key coercions, then its type class's suffix and value
coercion, in order; the first problem in key order is the one reported."""
from __future__ import annotations

import enum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from transformer.language.entries import entries_step
from transformer.language.functions import COERCIONS, StepError, type_class


def plain_rule(spec: dict[str, Any], value: Any) -> Any:
    """The rule as the language reference states it, one key at a time."""
    if not isinstance(value, dict):
        raise StepError("not an object")
    out: dict[str, Any] = {}
    for key, item in value.items():
        rule = spec.get("by_type", {}).get(type_class(item), {})
        new_key = key
        for name in spec.get("key", ()):
            new_key = COERCIONS[name](new_key)
        suffix = rule.get("key_suffix")
        if suffix and not new_key.endswith(suffix):
            new_key += suffix
        if "value" in rule:
            item = COERCIONS[rule["value"]](item)
        if new_key in out:
            raise StepError(f"{new_key!r} twice")
        out[new_key] = item
    return out


def outcome(call: Any) -> Any:
    try:
        return call()
    except StepError as exc:
        return ("two keys become one",) if "twice" in str(exc) or "both become" in str(exc) else ("error", str(exc))


class Level(int, enum.Enum):
    HIGH = 3


KINDS = ["string", "datetime", "number", "boolean", "object", "array", "null"]
SPECS = st.fixed_dictionaries({}, optional={
    "key": st.lists(st.sampled_from(["dasherize", "camel", "lower", "upper", "trim"]), min_size=1, max_size=2),
    "by_type": st.dictionaries(st.sampled_from(KINDS), st.fixed_dictionaries({}, optional={
        "key_suffix": st.sampled_from(["Num", "At", "Str", "x"]),
        "value": st.sampled_from(["string", "json", "json_items", "lower", "upper"])}).filter(bool), max_size=4)})
SCALAR = (st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False)
          | st.sampled_from(["2024-01-02", "2024-01-02T03:04:05Z", "１２３４", "a b", "", "x", Level.HIGH]))
VALUES = st.dictionaries(st.sampled_from(["a b", "aB", "a_b", "ab", "abNum", "x", " x ", "!!", "AB", "ab Str"]),
                         SCALAR | st.lists(SCALAR, max_size=2) | st.dictionaries(st.just("k"), SCALAR, max_size=1),
                         max_size=6)


def same_outcome(spec: dict[str, Any], value: Any) -> None:
    assert outcome(lambda: entries_step(spec)(value)) == outcome(lambda: plain_rule(spec, value)), (spec, value)


@settings(max_examples=600, deadline=None)
@given(SPECS, VALUES)
def test_entries_gives_what_the_plain_rule_gives(spec: dict[str, Any], value: dict[str, Any]) -> None:
    same_outcome(spec, value)
    same_outcome(spec, value)  # again: now from the names it remembered


def test_collision_names_both_keys_in_order() -> None:
    step = entries_step({"key": ["camel"]})
    try:
        step({"a_b": 1, "aB": 2, "!!": 3})
    except StepError as exc:
        assert str(exc) == "keys 'a_b' and 'aB' both become 'aB'"
    else:
        raise AssertionError("two keys became one")


def test_a_non_object_is_refused() -> None:
    for spec in ({"key": ["camel"]}, {"by_type": {"boolean": {"value": "string"}}}, {"by_type": {"number": {"key_suffix": "Num"}}}):
        assert outcome(lambda: entries_step(spec)(["a"])) == ("error", "entries needs an object, got array")


def test_values_of_other_classes_go_by_their_type_class() -> None:
    """A subclass (an int enum, a str enum) is coerced as its type class says, on every path."""
    for spec in ({"by_type": {"number": {"value": "string"}}}, {"key": ["upper"], "by_type": {"number": {"value": "string"}}},
                 {"by_type": {"number": {"value": "string", "key_suffix": "Num"}}}):
        value = {"a": Level.HIGH, "b": 2, "c": "2024-01-02"}
        assert entries_step(spec)(value) == plain_rule(spec, value)
        assert entries_step(spec)(value)[next(iter(plain_rule(spec, value)))].__class__ is str
