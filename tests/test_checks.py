"""Payload checks (``validate``), limits that settings may change, and the coercions added with them."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer import TransformError

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
     "test.yaml:3: validate[0].schema.type: not a valid JSON Schema: 'strin' is not valid under any of the given schemas"),
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
    assert destination.batch_limits["max_request_bytes"] == 60
    with pytest.raises(TransformError, match="the request body is 32 bytes, over the limit of 30 bytes"):
        destination.transform({"type": "test", "v": "x" * 24}, SETTINGS)
    assert destination.transform({"type": "test", "v": "x" * 24}, {**SETTINGS, "maxBody": 32})

    inputs = [{"message": {"type": "test", "v": "x" * 16}, "destination": {"Config": SETTINGS}, "metadata": i}
              for i in range(3)]
    results = destination.process(inputs)  # each body is 24 bytes; {"items":[]} is 12
    assert [len(b["metadata"]) for b in destination.batch(results)] == [1, 1, 1]  # 12 + 24 + 1 + 24 > 60
    assert [len(b["metadata"]) for b in destination.batch(results, {**SETTINGS, "maxBatch": 61})] == [2, 1]
    with pytest.raises(TransformError, match="setting maxBatch must be of type integer"):
        destination.batch(results, {**SETTINGS, "maxBatch": "61"})


@pytest.mark.parametrize("setting, expected", [
    ("nope", "destination.yaml:20: max_body_bytes.setting: unknown setting 'nope'"),
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
