"""Payload checks (``validate``), limits that settings may change, and the coercions added with them."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import transformer
from transformer import TransformError
from transformer.language import checks

from .conftest import BASE, SETTINGS
from .test_mapping_errors import problems_of

Body = Callable[..., Any]

STRICT = """\
body:
  object:
    name: {path: name}
    tags: {path: tags}
validate:
  - when: {setting: flag}
    schema:
      properties:
        name: {type: string, pattern: "^[a-z]+$", maxLength: 5}
        tags: {type: array, maxItems: 2, uniqueItems: true, items: {$ref: "#/$defs/tag"}}
      $defs:
        tag: {type: string, minLength: 1, maxLength: 3}
"""


def test_a_check_passes_a_body_that_satisfies_it(make_destination: Any) -> None:
    destination = make_destination(STRICT)
    request = destination.transform({"type": "test", "name": "abc", "tags": ["x"]}, {**SETTINGS, "flag": True})
    assert request["body"]["JSON"] == {"name": "abc", "tags": ["x"]}


def test_a_check_refuses_naming_each_field_and_rule_never_the_value(make_destination: Any) -> None:
    destination = make_destination(STRICT)
    event = {"type": "test", "name": "Hello World", "tags": ["secret-tag-value", ""]}
    with pytest.raises(TransformError) as caught:
        destination.transform(event, {**SETTINGS, "flag": True})
    assert caught.value.status_code == 400
    assert str(caught.value) == (
        "demo test: test.yaml validate[0]: body.name must match the pattern ^[a-z]+$; "
        "body.name is 11 characters, over the limit of 5; body.tags.0 is 16 characters, over the limit of 3; and 1 more")
    assert "secret-tag-value" not in str(caught.value) and "Hello" not in str(caught.value)


def test_a_check_applies_only_when_its_condition_holds(make_destination: Any) -> None:
    destination = make_destination(STRICT)
    body = destination.transform({"type": "test", "name": "Hello World"}, SETTINGS)["body"]["JSON"]
    assert body == {"name": "Hello World"}


@pytest.mark.parametrize("body, message", [
    ({"tags": ["a", "a"]}, "body.tags must not hold the same item twice"),
    ({"tags": ["a", "b", "c"]}, "body.tags has 3 items, over the limit of 2"),
    ({"tags": "a"}, "body.tags must be of type array"),
    ({"name": 5}, "body.name must be of type string"),
])
def test_check_messages(make_destination: Any, body: dict[str, Any], message: str) -> None:
    destination = make_destination(STRICT)
    with pytest.raises(TransformError, match="validate\\[0\\]: " + message.replace(".", "\\.")):
        destination.transform({"type": "test", **body}, {**SETTINGS, "flag": True})


def test_destination_checks_apply_to_every_event_type_before_the_files(make_destination: Any) -> None:
    destination_yaml = BASE + "validate:\n  - schema: {properties: {v: {type: string}}}\n"
    destination = make_destination("body: {object: {v: {path: v}}}", destination_yaml)
    with pytest.raises(TransformError, match=r"^demo test: destination.yaml validate\[0\]: body.v must be of type string$"):
        destination.transform({"type": "test", "v": 1}, SETTINGS)
    assert destination.transform({"type": "test", "v": "1"}, SETTINGS)["body"]["JSON"] == {"v": "1"}


@pytest.mark.parametrize("event_yaml, expected", [
    ("body: {object: {}}\nvalidate:\n  - schema: {type: strin}",
     "test.yaml:3: validate[0].schema.type: not a valid JSON Schema: type must be one of array, boolean, integer, "
     "null, number, object, string, or a list of them"),
    ("body: {object: {}}\nvalidate:\n  - schema: {properties: {a: {maxLength: -1}}}",
     "test.yaml:3: validate[0].schema.properties.a.maxLength: not a valid JSON Schema: maxLength must be a whole "
     "number, 0 or more"),
    ("body: {object: {}}\nvalidate:\n  - schema: {pattern: '(a'}",
     "test.yaml:3: validate[0].schema.pattern: not a valid JSON Schema: the regular expression '(a' does not compile "
     "(missing ): (a)"),
    ("body: {object: {}}\nvalidate:\n  - schema: {properties: {v: {pattern: 'a{4294967296}'}}}",
     "test.yaml:3: validate[0].schema.properties.v.pattern: not a valid JSON Schema: the regular expression "
     "'a{4294967296}' repeats 4,294,967,296 times, over the limit of 1,000"),
    ("body: {object: {}}\nvalidate:\n  - schema: {patternProperties: {'(?=x)': {}}}",
     "test.yaml:3: validate[0].schema.patternProperties.(?=x): not a valid JSON Schema: the regular expression "
     "'(?=x)' does not compile (invalid perl operator: (?=; RE2 has no back references or look-arounds)"),
    ("body: {object: {}}\nvalidate:\n  - schema: {prefixItems: 3}",
     "test.yaml:3: validate[0].schema.prefixItems: not a valid JSON Schema: 3 is not of type 'array'"),
    ("body: {object: {}}\nvalidate:\n  - schema: {$ref: 'https://example.invalid/s.json'}",
     "test.yaml:3: validate[0].schema.$ref: only local references (#/...) are allowed, got 'https://example.invalid/s.json'"),
    ("body: {object: {}}\nvalidate:\n  - schema: {$ref: '#/$defs/nope'}",
     "test.yaml:3: validate[0].schema.$ref: reference '#/$defs/nope' points to nothing in this schema"),
    ("body: {object: {}}\nvalidate:\n  - schema: {}\n    when: {setting: nope}",
     "test.yaml:4: validate[0].when.setting: unknown setting 'nope'"),
    ("body: {object: {}}\nvalidate:\n  - {when: {setting: flag}}",
     "test.yaml:3: validate[0]: 'schema' is a required property"),
])
def test_check_mistakes_are_load_errors(tmp_path: Path, event_yaml: str, expected: str) -> None:
    assert problems_of(tmp_path, event_yaml) == [expected]


# -- limits that settings may change -------------------------------------------------------------

LIMITED = BASE.replace("    mode: {enum: [a, b]}\n", """\
    mode: {enum: [a, b]}
    maxBody: {type: integer, minimum: 1, default: 30}
    maxBatch: {type: integer, minimum: 1, default: 60}
""") + """\
max_body_bytes: {setting: maxBody}
batch:
  endpoint: {template: "{e}/batch", vars: {e: {path: endpoint}}}
  key: items
  max_request_bytes: {setting: maxBatch}
  max_events: 100
  max_event_bytes: {setting: maxBody}
"""


def test_a_limit_may_be_a_setting_with_its_default(make_destination: Any) -> None:
    destination = make_destination("body: {object: {v: {path: v}}}", LIMITED)
    assert destination.batch_limits()["max_request_bytes"] == 60
    with pytest.raises(TransformError, match="the request body is 32 bytes, over the limit of 30 bytes"):
        destination.transform({"type": "test", "v": "x" * 24}, SETTINGS)
    assert destination.transform({"type": "test", "v": "x" * 24}, {**SETTINGS, "maxBody": 32})

    inputs = [{"message": {"type": "test", "v": "x" * 16}, "destination": {"Config": SETTINGS}, "metadata": i}
              for i in range(3)]
    results = destination.process(inputs)  # each body is 24 bytes; {"items":[]} is 12
    assert [len(b["metadata"]) for b in destination.batch(results)] == [1, 1, 1]  # 12 + 24 + 1 + 24 > 60
    assert [len(b["metadata"]) for b in destination.batch(results, {**SETTINGS, "maxBatch": 61})] == [2, 1]
    assert destination.batch_limits({**SETTINGS, "maxBatch": 61})["max_request_bytes"] == 61
    with pytest.raises(TransformError, match="setting maxBatch must be of type integer"):
        destination.batch(results, {**SETTINGS, "maxBatch": "61"})


@pytest.mark.parametrize("setting, expected", [
    ("nope", "destination.yaml:20: max_body_bytes.setting: unknown setting 'nope'"),
    ("flags", "destination.yaml:20: max_body_bytes.setting: unknown setting 'flags' (did you mean `flag`?)"),
    ("flag", "destination.yaml:20: max_body_bytes.setting: setting 'flag' must be declared with type integer, a minimum "
             "of at least 1 and a default (the limit when none is given)"),
])
def test_a_limit_setting_must_be_an_integer_with_a_default(tmp_path: Path, setting: str, expected: str) -> None:
    destination_yaml = BASE + f"max_body_bytes: {{setting: {setting}}}\n"
    assert problems_of(tmp_path, "body: {object: {}}", destination_yaml) == [expected]


# -- coercions -------------------------------------------------------------------------------------

@pytest.mark.parametrize("coercion, value, expected", [
    ("camel", "favorite_color", "favoriteColor"),
    ("camel", "Favorite  Color!", "favoriteColor"),
    ("camel", "MRR total", "mrrTotal"),
    ("camel", "userID", "userID"),
    ("camel", "plan.tier-2", "planTier2"),
    ("compact", {"a": None, "b": 0, "c": ""}, {"b": 0, "c": ""}),
    ("compact", [None, 1, None], [1]),
    ("unique", ["a", "b", "a", 1, True, 1.0, {"k": 1}, {"k": 1}], ["a", "b", 1, True, {"k": 1}]),
    ("uuid5", {"b": [1, "é"], "a": None}, str(uuid.uuid5(uuid.NAMESPACE_URL, '{"a":null,"b":[1,"é"]}'))),
])
def test_coercions(body_of: Body, coercion: str, value: Any, expected: Any) -> None:
    assert body_of(f"object: {{v: {{path: v, then: [{{coerce: {coercion}}}]}}}}", {"v": value}) == {"v": expected}


def test_uuid5_is_the_same_for_equal_values_whatever_their_key_order(body_of: Body) -> None:
    rule = "object: {v: {path: v, then: [{coerce: uuid5}]}}"
    assert body_of(rule, {"v": {"a": 1, "b": 2}}) == body_of(rule, {"v": {"b": 2, "a": 1}})
    assert body_of(rule, {"v": {"a": 1}}) == body_of(rule, {"v": {"a": 1.0}})
    assert body_of(rule, {"v": {"a": 1}}) != body_of(rule, {"v": {"a": "1"}})


@pytest.mark.parametrize("coercion, value, message", [
    ("camel", "__", "camel needs a string with a letter or digit"),
    ("compact", "x", "compact needs an object or an array, got a string"),
    ("unique", {"a": 1}, "unique needs an array, got an object"),
])
def test_coercion_refusals(body_of: Body, coercion: str, value: Any, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        body_of(f"object: {{v: {{path: v, then: [{{coerce: {coercion}}}]}}}}", {"v": value})


# -- the fast test agrees with jsonschema ------------------------------------------------------------

SCHEMAS: list[Any] = [
    {"type": "string", "pattern": "^a", "minLength": 2, "maxLength": 3},
    {"type": ["number", "null"], "minimum": 1, "exclusiveMaximum": 5},
    {"type": "integer"},
    {"enum": [1, "1", True, None, [1], {"a": 1}]},
    {"const": 1.0},
    {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": True, "items": {"type": "string"}},
    {"type": "object", "required": ["a"], "minProperties": 1, "maxProperties": 2,
     "properties": {"a": {"type": "number"}}, "patternProperties": {"^x": {"type": "string"}},
     "additionalProperties": {"type": "boolean"}},
    {"additionalProperties": False, "properties": {"a": True}},
    {"additionalProperties": {"type": ["number", "string", "null"]}},
    {"additionalProperties": {"type": "integer"}},
    {"anyOf": [{"type": "string"}, {"type": "number"}], "not": {"const": 0}},
    {"oneOf": [{"type": "number"}, {"minimum": 0}], "allOf": [{}, True]},
    {"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s", "maxLength": 1}}},
]
VALUES: list[Any] = [None, True, False, 0, 1, 1.0, 1.5, 4, 5, -1, "", "a", "ab", "abcd", "b", [], [1], ["a"], ["a", "a"],
                     ["a", "b", "c"], [1, True], {}, {"a": 1}, {"a": "1"}, {"a": 1, "x": "s"}, {"a": 1, "x": 1},
                     {"a": 1, "b": True}, {"a": 1, "b": 1}, {"b": True}, {"a": 1, "b": True, "c": True}, {"a": "ab"}]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_the_fast_test_says_valid_exactly_when_jsonschema_does(schema: Any) -> None:
    test = checks.fast_test(schema)
    assert test is not None
    validator = checks.validator_for(schema)
    for value in VALUES:
        assert test(value) == validator.is_valid(value), value


def test_a_schema_with_other_keywords_has_no_fast_test_and_is_still_checked() -> None:
    assert checks.fast_test({"type": "object", "unevaluatedProperties": False}) is None
    assert checks.fast_test({"$defs": {"n": {"items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}) is None


DOCUMENT: dict[str, Any] = {"$id": "https://example.com/doc", "$defs": {
    "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}], "items": {"type": "boolean"}},
    "names": {"propertyNames": {"pattern": "^[a-z]+$"}, "dependentRequired": {"a": ["b"]}, "x-note": "an annotation"},
    "tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}},
             "additionalProperties": {"$ref": "#/$defs/pair"}},
}}
DOCUMENT_VALUES: list[Any] = [*VALUES, ["a", 1], ["a", 1, True], ["a", 1, 2], [1, "a"], ["a"], {"a": 1, "b": 2}, {"A": 1},
                              {"kids": []}, {"kids": [{"kids": [{"n": ["a", 1]}]}]}, {"kids": [{"kids": [{"n": ["a", "b"]}]}]},
                              {"kids": [{"kids": {}}]}, {"n": ["a", 1, False]}]


@pytest.mark.parametrize("name", sorted(DOCUMENT["$defs"]))
def test_document_tests_say_valid_exactly_when_jsonschema_does(name: str) -> None:
    """What fast_test leaves to jsonschema, document_tests knows: recursive references,
    prefixItems, propertyNames, dependentRequired, keys that are no keyword."""
    tests = checks.document_tests(DOCUMENT, f"#/$defs/{name}")
    assert tests is not None
    validator = checks.validator_for({**DOCUMENT, "$ref": f"#/$defs/{name}"})
    for value in DOCUMENT_VALUES:
        assert tests[0](value) == validator.is_valid(value), value


def test_document_tests_leave_unknown_keywords_and_nested_ids_to_jsonschema() -> None:
    assert checks.document_tests({"$defs": {"a": {"if": {"type": "string"}}}}, "#/$defs/a") is None
    assert checks.document_tests({"$defs": {"a": {"$id": "https://example.com/a", "type": "string"}}}, "#/$defs/a") is None


BUNDLED_CHECKS = [check for name in ("kustomer", "segment") for plan in transformer.load(name)._mapping.plans.values()
                  for check in plan.checks]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=300), lambda inner: st.lists(inner, max_size=12)
                    | st.dictionaries(st.sampled_from(["name", "gender", "tags", "emails", "type", "custom", "bioStr",
                                                       "event", "meta", "identity", "externalId", "x"]), inner,
                                      max_size=8), max_leaves=40))
@settings(max_examples=300, deadline=None)
def test_the_fast_tests_of_the_bundled_mappings_agree_with_jsonschema(value: Any) -> None:
    for check in BUNDLED_CHECKS:
        assert check.passes is not None
        assert check.passes(value) == check.validator.is_valid(value)
