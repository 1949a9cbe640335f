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
from transformer.language.steps import _Entries, _Omit


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


def copying_read(omit: Any, entries: Any) -> Any:
    """The copying read ``then`` makes for ``path: properties`` followed by (omit and) entries."""
    from transformer.language.codegen import Node
    from transformer.language.steps import _copying_steps

    path = Node(lambda gen, target: None, False, owned=True, uncopied=lambda gen, target, where: None)
    made = _copying_steps(path, [(omit, None), (entries, None)] if omit is not None else [(entries, None)])
    assert made is not None
    return made[0]


# What a path read may find: plain JSON, and what fresh refuses or converts (NaN, a key that is
# not text, a subclass, a tuple, another type), at the top and one level down.
ODD = st.sampled_from([float("nan"), float("inf"), Level.HIGH, (1, "a"), {1: "a"}, {"k": float("nan")}, [object()],
                       b"bytes", {"k": (1,)}])
RAW_VALUES = st.dictionaries(st.sampled_from(["a b", "aB", "a_b", "ab", "abNum", "x", " x ", "!!", "sess", "email"]),
                             SCALAR | ODD | st.lists(SCALAR | ODD, max_size=2) | st.dictionaries(st.just("k"), SCALAR, max_size=1),
                             max_size=6)


def _outcome_any(call: Any) -> Any:
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 - the kind and words of any error are what is compared
        return (exc.__class__.__name__, str(exc))


@settings(max_examples=600, deadline=None)
@given(SPECS, RAW_VALUES, st.booleans())
def test_the_copying_read_gives_what_copy_then_steps_give(spec: dict[str, Any], value: dict[str, Any], omit: bool) -> None:
    """A path read whose steps start with (omit and) entries copies only what it keeps: the result,
    or the error, must be what copying with fresh and then running the steps gives; and the result
    shares no container with the event."""
    from transformer.runtime.values import fresh

    omit_step = _Omit(["sess", "email"]) if omit else None
    entries = _Entries(spec)
    fused = copying_read(omit_step, entries)

    def usual() -> Any:
        copied = fresh(value, "properties")
        return entries.rewrite(omit_step.in_place(copied) if omit_step else copied)

    expected = _outcome_any(usual)
    got = _outcome_any(lambda: fused(value, "properties"))
    assert got == expected
    if got[0] == "ok":
        inside = {id(v) for v in value.values() if isinstance(v, (dict, list))} | {id(value)}
        assert not any(id(v) in inside for v in [got[1], *got[1].values()])


def test_the_copying_read_refuses_what_fresh_refuses_with_its_words() -> None:
    """What the event holds under a key the omit drops, or nested past the depth limit, is still
    the error fresh reports, naming the whole path."""
    fused = copying_read(_Omit(["sess"]), _Entries({"key": ["dasherize"], "by_type": {"object": {"value": "json"}}}))
    deep: Any = "end"
    for _ in range(101):
        deep = {"k": deep}
    for value, words in (({"sess": float("nan"), "a": 1}, "properties.sess is not a finite number"),
                         ({"a": 1, "b": deep}, "properties.b.k.k.k.<94 more>.k.k is nested deeper than 100 levels"),
                         ({"a": {"k": [1, float("inf")]}}, "properties.a.k.1 is not a finite number")):
        outcome = _outcome_any(lambda value=value: fused(value, "properties"))
        assert outcome[0] == "TransformError" and outcome[1].startswith(words), outcome
    assert fused({"a b": {"k": 1}, "sess": "s"}, "properties") == {"a-b": '{"k":1}'}


def test_a_container_written_as_json_text_needs_no_copy_up_to_the_depth_limit() -> None:
    """An object or array whose value becomes JSON text is written from the event's own value when
    it is plain JSON within the depth limit; at the limit, with a null, NaN or a class of its own,
    through the copy: the same text or the same error as fresh and the steps give, every time."""
    from transformer.runtime.values import fresh

    entries = _Entries({"key": ["dasherize"], "by_type": {"object": {"value": "json"}, "array": {"value": "json_items"}}})
    fused = copying_read(_Omit(["sess"]), entries)

    def usual(value: Any) -> Any:
        return _outcome_any(lambda: entries.rewrite(_Omit(["sess"]).in_place(fresh(value, "properties"))))

    for depth in (97, 98, 99, 100, 101):
        for make in (lambda inner: {"k": inner, "b": "[{"}, lambda inner: [inner, "}]"]):
            nested: Any = 1.5
            for _ in range(depth):
                nested = make(nested)
            for value in ({"a b": nested}, {"a b": [nested, None]}, {"a b": {"x": [float("nan"), nested]}}):
                assert _outcome_any(lambda value=value: fused(value, "properties")) == usual(value), depth
    assert fused({"o": {"k": [1, "a"]}, "l": [{"k": None}, "x", 2]}, "properties") == {"o": '{"k":[1,"a"]}',
                                                                                         "l": '{"k":null},"x",2'}
