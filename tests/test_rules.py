"""The mapping language, one directive at a time (on the small 'demo' destination of conftest)."""
from __future__ import annotations

import json
import math
import re
import string
import textwrap
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

import transformer
from transformer import MISSING, TransformError
from transformer.language.conditions import same
from transformer.language.folders import BUILTIN
from transformer.language.functions import COERCIONS, StepError
from transformer.runtime.values import fresh, is_present
from transformer.runtime.wire import request_description

from .conftest import BASE, SETTINGS

Body = Callable[..., Any]


def test_missing_is_not_none() -> None:
    assert MISSING is not None
    assert not MISSING
    assert repr(MISSING) == "MISSING"


@pytest.mark.parametrize("value, present", [(0, True), (False, True), ([], True), ({}, True), ("x", True),
                                            (None, False), ("", False), (MISSING, False)])
def test_present_rule(value: Any, present: bool) -> None:
    assert is_present(value) is present


def test_path_takes_first_present_value(body_of: Body) -> None:
    rule = "object: {v: {path: [a.b, c, d]}}"
    assert body_of(rule, {"a": {"b": None}, "c": "", "d": 0}) == {"v": 0}
    assert body_of(rule, {"a": {"b": False}, "d": 1}) == {"v": False}
    assert body_of(rule, {"a": "not an object", "c": "x"}) == {"v": "x"}
    assert body_of(rule, {}) == {}


def test_path_prefixes_read_where_needed_are_read_again_where_not_certain(body_of: Body) -> None:
    # Generated code reads a path's prefixes (c, c.d) only when an earlier path gave nothing: a
    # later rule must not rely on a prefix read inside a branch that did not run.
    rule = """\
        object:
          first: {when: {present: {path: a}}, path: c.d.x}
          second: {path: [a, c.d.x, c.0.y]}
          third: {path: [c.d.z, c.1]}
    """
    assert body_of(rule, {"a": 1, "c": {"d": {"x": 2, "z": 3}}}) == {"first": 2, "second": 1, "third": 3}
    assert body_of(rule, {"c": {"d": {"x": 2}}}) == {"second": 2}
    assert body_of(rule, {"c": [{"y": "in a list"}, "third"]}) == {"second": "in a list", "third": "third"}
    assert body_of(rule, {"a": 1, "c": "not an object", "d": None}) == {"second": 1}


def test_path_alias_expands_in_place(body_of: Body) -> None:
    assert body_of("object: {v: {path: [$uid, anonymousId]}}", {"traits": {"id": "t"}, "anonymousId": "a"}) == {"v": "t"}


def test_path_copies_containers(make_destination: Any) -> None:
    destination = make_destination("body: {object: {v: {path: props}}}")
    event = {"type": "test", "props": {"list": [1, {"x": 2}]}}
    out = destination.transform(event, {"key": "k-123"})["body"]["JSON"]["v"]
    out["list"][1]["x"] = 99
    assert event["props"]["list"][1]["x"] == 2


def test_const_and_default_are_fresh_each_time(make_destination: Any) -> None:
    destination = make_destination("body: {object: {c: {const: [1]}, d: {path: nope, default: {k: [2]}}}}")
    first = destination.transform({"type": "test"}, {"key": "k-123"})["body"]["JSON"]
    first["c"].append(5)
    first["d"]["k"].append(5)
    assert destination.transform({"type": "test"}, {"key": "k-123"})["body"]["JSON"] == {"c": [1], "d": {"k": [2]}}


def test_setting_and_var(body_of: Body) -> None:
    assert body_of("object: {f: {setting: flag}, t: {var: event_type}}", {}) == {"f": False, "t": "test"}


def test_template_renders_scalars_as_json_text(body_of: Body) -> None:
    rule = 'object: {v: {template: "{a}/{b}/{c}/{d}", vars: {a: {path: a}, b: {path: b}, c: {path: c}, d: {path: d}}}}'
    assert body_of(rule, {"a": "x", "b": 2, "c": True, "d": 1.5}) == {"v": "x/2/true/1.5"}


def test_template_with_a_missing_placeholder_is_missing(body_of: Body) -> None:
    assert body_of('object: {v: {template: "{a}-{b}", vars: {a: {path: a}, b: {path: b}}}}', {"a": "x"}) == {}


def test_template_refuses_containers(body_of: Body) -> None:
    with pytest.raises(TransformError, match=r"test.yaml body.v: cannot put an object into text"):
        body_of('object: {v: {template: "<{a}>", vars: {a: {path: a}}}}', {"a": {"k": 1}})


def test_first_object_list_and_needs(body_of: Body) -> None:
    rule = """\
    object:
      emails:
        first:
          - path: emails
          - list:
              - object: {type: {const: home}, email: {path: email}}
                needs: [email]
    """
    assert body_of(rule, {"email": "e@x"}) == {"emails": [{"type": "home", "email": "e@x"}]}
    assert body_of(rule, {"emails": ["given"], "email": "e@x"}) == {"emails": ["given"]}
    assert body_of(rule, {}) == {}


def test_case_picks_a_branch_and_falls_back_to_default(body_of: Body) -> None:
    rule = "object: {v: {case: {setting: mode}, values: {a: {const: A}}, default: other}}"
    assert body_of(rule, {}, {"key": "k-123", "mode": "a"}) == {"v": "A"}
    assert body_of(rule, {}, {"key": "k-123", "mode": "b"}) == {"v": "other"}


def test_conditions(body_of: Body) -> None:
    rule = """\
    object:
      s: {const: S, when: {setting: flag}}
      p: {const: P, when: {present: {path: x}}}
      n: {const: N, when: {not: {setting: flag}}}
      all: {const: ALL, when: {all: [{setting: flag}, {setting: other}]}}
      any: {const: ANY, when: {any: [{setting: flag}, {present: {path: x}}]}}
    """
    assert body_of(rule, {"x": 0}, {"key": "k-123", "flag": True}) == {"s": "S", "p": "P", "any": "ANY"}
    assert body_of(rule, {}, {"key": "k-123", "flag": True, "other": True}) == {"s": "S", "all": "ALL", "any": "ANY"}
    assert body_of(rule, {}) == {"n": "N"}


def test_required_names_the_rule_and_the_paths_tried(body_of: Body) -> None:
    with pytest.raises(TransformError) as caught:
        body_of("object: {id: {path: $uid, required: needs an id}}", {})
    assert caught.value.status_code == 400
    assert str(caught.value) == "demo test: test.yaml body.id: needs an id (tried userId, traits.id)"


def test_jmespath(body_of: Body) -> None:
    rule = "object: {v: {jmespath: \"ids[?type == 'k'].id | [0]\"}}"
    assert body_of(rule, {"ids": [{"type": "j", "id": 1}, {"type": "k", "id": 2}]}) == {"v": 2}
    assert body_of(rule, {"ids": "not a list"}) == {}


def test_steps_omit_join_max_length(body_of: Body) -> None:
    rule = """\
    object:
      o: {path: o, then: [{omit: [drop]}]}
      j: {path: j, then: [{join: {keys: [a, b, c], sep: " "}}]}
      m: {path: m, then: [{max_length: 3}]}
    """
    out = body_of(rule, {"o": {"drop": 1, "keep": 2}, "j": {"a": "x", "b": "", "c": 3}, "m": "abc"})
    assert out == {"o": {"keep": 2}, "j": "x 3", "m": "abc"}
    assert body_of(rule, {"j": "as is"}) == {"j": "as is"}
    assert body_of(rule, {"j": {"z": 1}}) == {}
    with pytest.raises(TransformError, match=r"body.m: is 4 characters, over the limit of 3 \(from m\)"):
        body_of(rule, {"m": "abcd"})
    with pytest.raises(TransformError, match=r"body.o: omit needs an object, got string \(from o\)"):
        body_of(rule, {"o": "text"})


def test_omit_never_changes_the_event_or_a_value_used_twice(make_destination: Any) -> None:
    # A path's value is a copy of its own, which omit may change in place; a let's value is shared
    # by every use, so omit copies it: each use sees the object as the let gave it.
    destination = make_destination("""\
    let:
      props: {path: properties}
    body:
      object:
        direct: {path: properties, then: [{omit: [a]}]}
        first: {var: props, then: [{omit: [b]}]}
        second: {var: props, then: [{omit: [c]}]}
        raw: {var: props}
    """)
    event = {"type": "test", "properties": {"a": 1, "b": 2, "c": 3}}
    out = destination.transform(event, {"key": "k-123"})["body"]["JSON"]
    assert out == {"direct": {"b": 2, "c": 3}, "first": {"a": 1, "c": 3}, "second": {"a": 1, "b": 2},
                   "raw": {"a": 1, "b": 2, "c": 3}}
    assert event == {"type": "test", "properties": {"a": 1, "b": 2, "c": 3}}


def test_step_when(body_of: Body) -> None:
    rule = "object: {v: {path: v, then: [{coerce: lower, when: {setting: flag}}]}}"
    assert body_of(rule, {"v": "AB"}) == {"v": "AB"}
    assert body_of(rule, {"v": "AB"}, {"key": "k-123", "flag": True}) == {"v": "ab"}


@pytest.mark.parametrize("coercion, value, expected", [
    ("base64", "wk:", "d2s6"),
    ("dasherize", "  Order   Done ", "Order-Done"),
    ("json", {"a": [1, "x"]}, '{"a":[1,"x"]}'),
    ("json_items", [1, "x", {"k": True}], '1,"x",{"k":true}'),
    ("lower", "AbC", "abc"),
    ("rstrip", "x  ", "x"),
    ("string", False, "false"),
    ("string", 2.0, "2"),
    ("trim", "  x ", "x"),
    ("upper", "AbC", "ABC"),
    ("url_component", "a b/c@d+e!*'()~é", "a%20b%2Fc%40d%2Be!*'()~%C3%A9"),
    ("url_escape", "a b/c@d+e", "a%20b%2Fc@d%2Be"),
    ("url_parent", "https://h.example/v1/track", "https://h.example/v1"),
])
def test_coercions(body_of: Body, coercion: str, value: Any, expected: Any) -> None:
    assert body_of(f"object: {{v: {{path: v, then: [{{coerce: {coercion}}}]}}}}", {"v": value}) == {"v": expected}


@pytest.mark.parametrize("coercion, kept", [
    ("url_escape", string.ascii_letters + string.digits + "-_.~@"),
    ("url_component", string.ascii_letters + string.digits + "-_.!~*'()"),  # encodeURIComponent's set
])
def test_url_coercions_leave_exactly_their_documented_characters_alone(coercion: str, kept: str) -> None:
    for char in map(chr, range(128)):
        assert (COERCIONS[coercion](char) == char) is (char in kept), repr(char)
    with pytest.raises(StepError, match=f"{coercion} needs text that is valid Unicode"):
        COERCIONS[coercion]("\ud800")


@given(st.text(st.characters(blacklist_categories=("Cs",))) | st.text("abcXYZ019-_.~@!*'()/ %+"))
def test_url_coercions_give_what_quote_gives(text: str) -> None:
    """Text with nothing to encode is given back as it is, without quote(): the same text."""
    assert COERCIONS["url_escape"](text) == quote(text, safe="@")
    assert COERCIONS["url_component"](text) == quote(text, safe="!*'()")


def test_coercion_on_the_wrong_type_is_a_clear_error(body_of: Body) -> None:
    with pytest.raises(TransformError, match=r"body.v: dasherize needs a string, got a number \(from v\)"):
        body_of("object: {v: {path: v, then: [{coerce: dasherize}]}}", {"v": 5})


def test_entries_renames_keys_and_coerces_by_type(body_of: Body) -> None:
    rule = """\
    object:
      meta:
        path: meta
        then:
          - entries:
              key: [dasherize]
              by_type:
                number: {key_suffix: Num}
                datetime: {key_suffix: At}
                boolean: {value: string}
                object: {value: json}
                array: {value: json_items}
    """
    meta = {"a b": 1, "cNum": 2.5, "when": "2024-01-02", "at": "2024-01-02T03:04Z", "ok": True, "o": {"k": 1},
            "l": ["x", 2], "s": "2024-1-2", "n": None}
    assert body_of(rule, {"meta": meta}) == {"meta": {
        "a-bNum": 1, "cNum": 2.5, "whenAt": "2024-01-02", "atAt": "2024-01-02T03:04Z", "ok": "true",
        "o": '{"k":1}', "l": '"x",2', "s": "2024-1-2", "n": None}}


# A look-up let by the event's userId, for the tests of who asks it and when.
FOUND_BY_USER_ID = """\
let:
  found:
    lookup:
      requests:
        - kind: id
          value: {path: userId}
          endpoint: {template: "https://example.invalid/by-id/{id}", vars: {id: {path: userId}}}
      found: data.id
"""


def test_lookup_asks_in_order_and_stops_at_the_first_found(make_destination: Any) -> None:
    destination = make_destination("""\
    let:
      found:
        lookup:
          requests:
            - {kind: a, value: {path: a}, endpoint: {template: "https://example.invalid/by-a/{a}", vars: {a: {path: a}}}}
            - {kind: b, value: {path: b}, endpoint: {template: "https://example.invalid/by-b/{b}", vars: {b: {path: b}}}}
            - {kind: c, value: {path: c}, endpoint: {template: "https://example.invalid/by-c/{c}", vars: {c: {path: c}}}}
          found: data.id
    body: {object: {id: {var: found}}}
    """)
    asked: list[dict[str, Any]] = []

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        asked.append(request)
        return (200, {"data": {"id": 7}}) if "by-c" in request["endpoint"] else (404, None)

    out = destination.transform({"type": "test", "a": "1", "c": "3"}, {"key": "k-123"}, lookup=lookup)
    assert out["body"]["JSON"] == {"id": 7}
    assert [r["endpoint"] for r in asked] == ["https://example.invalid/by-a/1", "https://example.invalid/by-c/3"]
    assert asked[0]["method"] == "GET"
    assert asked[0]["headers"] == {"Authorization": "Key k-123"}
    assert [r["lookup"] for r in asked] == [{"kind": "a", "value": "1"}, {"kind": "c", "value": "3"}]
    # the wire shape of any request, with what is looked up beside it (written out in lookups.py)
    shape = request_description("GET", "https://example.invalid/by-a/1", {"Authorization": "Key k-123"}, {}, {})
    assert asked[0] == {**shape, "lookup": {"kind": "a", "value": "1"}}
    assert list(asked[0]) == [*shape, "lookup"]


def test_lookup_endpoint_reads_its_value_once_and_never_changes_it(make_destination: Any) -> None:
    """An endpoint that quotes its request's value takes the value's local (its path is not read
    again); a step that changes its copy in place leaves the value the caller is asked about alone."""
    destination = make_destination("""\
    let:
      found:
        lookup:
          requests:
            - kind: o
              value: {path: [traits.o, context.traits.o]}
              endpoint:
                template: "https://example.invalid/by-o/{o}"
                vars: {o: {path: [traits.o, context.traits.o], then: [{omit: [b]}, {coerce: json}, {coerce: url_escape}]}}
          found: data.id
    body: {object: {id: {var: found}}}
    """)
    asked: list[dict[str, Any]] = []

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        asked.append(request)
        return 200, {"data": {"id": 7}}

    event = {"type": "test", "context": {"traits": {"o": {"a": 1, "b": 2}}}}
    out = destination.transform(event, {"key": "k-123"}, lookup=lookup)
    assert out["body"]["JSON"] == {"id": 7}
    assert asked[0]["endpoint"] == "https://example.invalid/by-o/%7B%22a%22%3A1%7D"
    assert asked[0]["lookup"] == {"kind": "o", "value": {"a": 1, "b": 2}}
    assert event["context"]["traits"]["o"] == {"a": 1, "b": 2}
    [rule] = [r for r in destination.generated_code("test") if r.root == "let found"]
    assert len(re.findall(r"= \w+\.get\('o'\)", rule.source)) == 1  # the endpoint's var reads no path of its own


def test_a_method_and_endpoint_that_read_the_event_come_after_the_body_and_its_checks(make_destination: Any) -> None:
    """Where both read the event, body, checks, method and endpoint run in one function, in the
    order a request is built in: a body its check refuses asks no look-up, and a method that
    gives no value is the error before the endpoint's look-up is asked."""
    destination = make_destination(FOUND_BY_USER_ID + textwrap.dedent("""\
    request:
      method: {path: verb}
      endpoint: {template: "https://example.invalid/customers/{id}", vars: {id: {var: found}}}
    body: {object: {name: {path: name}}}
    validate:
      - schema: {properties: {name: {maxLength: 3}}}
    """))
    asked: list[dict[str, Any]] = []

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        asked.append(request)
        return 200, {"data": {"id": "c7"}}

    plan = destination._mapping.plans["test"]
    assert plan.request is not None  # the three in one function
    assert destination.generated_code("test")[0].root == "body, method and endpoint"
    out = destination.transform({"type": "test", "userId": "u1", "verb": "PUT", "name": "Ada"}, SETTINGS, lookup=lookup)
    assert (out["method"], out["endpoint"], out["body"]["JSON"]) == ("PUT", "https://example.invalid/customers/c7",
                                                                     {"name": "Ada"})
    assert len(asked) == 1
    with pytest.raises(TransformError, match="body.name is 7 characters, over the limit of 3"):
        destination.transform({"type": "test", "userId": "u1", "verb": "PUT", "name": "Adalind"}, SETTINGS, lookup=lookup)
    with pytest.raises(TransformError, match="request.method: the rule gave no value for this event"):
        destination.transform({"type": "test", "userId": "u1", "name": "Ada"}, SETTINGS, lookup=lookup)
    with pytest.raises(TransformError, match="request.method: must be a string, got number"):
        destination.transform({"type": "test", "userId": "u1", "verb": 5, "name": "Ada"}, SETTINGS, lookup=lookup)
    assert len(asked) == 1  # neither the refused body nor the bad methods asked the endpoint's look-up


@pytest.mark.parametrize("reader", ["method", "header"])
def test_a_lookup_read_by_two_rules_is_asked_once_per_event(make_destination: Any, reader: str) -> None:
    """A look-up let that only the body, method and endpoint read is written into their one
    function (read from a local, not the memo); read by a header too, it is read from the event's
    memo. Either way it is asked once per event, whichever of its readers run, and each event asks
    it again."""
    method = "{first: [{const: PUT, when: {present: {var: found}}}, {path: verb}]}" if reader == "method" else "{path: verb}"
    headers = "headers: {X-Found: {var: found}}" if reader == "header" else ""
    destination = make_destination(FOUND_BY_USER_ID + textwrap.dedent(f"""\
    request:
      method: {method}
      endpoint: {{template: "https://example.invalid/customers/{{id}}", vars: {{id: {{var: found}}}}}}
      {headers}
    body: {{object: {{name: {{path: name}}}}}}
    """))
    asked: list[str] = []

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        asked.append(request["lookup"]["value"])
        return (200, {"data": {"id": "c7"}}) if request["lookup"]["value"] == "u1" else (404, None)

    source = "\n".join(rule.source for rule in destination.generated_code("test"))
    assert ("ctx.vars.get(" in source) is (reader == "header")  # read from the memo only where another function reads it
    out = destination.transform({"type": "test", "userId": "u1", "name": "Ada", "verb": "POST"}, SETTINGS, lookup=lookup)
    assert (out["method"], out["endpoint"]) == ("PUT" if reader == "method" else "POST", "https://example.invalid/customers/c7")
    assert out["headers"].get("X-Found") == ("c7" if reader == "header" else None)
    with pytest.raises(TransformError, match="request.endpoint: the rule gave no value"):
        destination.transform({"type": "test", "userId": "u2", "verb": "POST"}, SETTINGS, lookup=lookup)
    assert asked == ["u1", "u2"]


@pytest.mark.parametrize("answer, status, message", [
    (lambda r: (500, None), 500, "failed with status 500"),
    (lambda r: (429, {"errors": []}), 429, "failed with status 429"),
    (lambda r: (200, {"data": {}}), 502, "answered 200 without data.id"),
    (lambda r: "nonsense", 502, "must return \\(status_code, body\\)"),
    (lambda r: 1 / 0, 502, "the lookup function raised ZeroDivisionError"),
])
def test_lookup_failures_become_errors_with_a_status(make_destination: Any, answer: Any, status: int, message: str) -> None:
    destination = make_destination("""\
    let:
      found: {lookup: {requests: [{kind: x, value: {const: x}, endpoint: {const: "https://example.invalid/x"}}], found: data.id}}
    body: {object: {id: {var: found}}}
    """)
    with pytest.raises(TransformError, match=message) as caught:
        destination.transform({"type": "test"}, {"key": "k-123"}, lookup=answer)
    assert caught.value.status_code == status


class _Body(dict):  # type: ignore[type-arg]
    """An answer body of a dict subclass: read by the found rule, not the quick read of plain objects."""


@pytest.mark.parametrize("body, found", [
    ({"result": {"customer": {"id": "c7"}}}, "c7"),  # the usual answer: plain objects down to an ASCII id
    ({"result": {"customer": {"id": "cé7"}}}, "cé7"),
    ({"result": {"customer": {"id": 7}}}, 7),
    (_Body({"result": {"customer": {"id": "c7"}}}), "c7"),
    ({"result": {"customer": _Body({"id": "c7"})}}, "c7"),
    (transformer.Found("c7"), "c7"),  # the caller's own answer: the id itself
    (transformer.Found("cé7"), "cé7"),
    (transformer.Found(""), "not a string or a number"),
    ({"result": {"customer": {"id": ""}}}, "without result.customer.id"),
    ({"result": {"customer": ["c7"]}}, "without result.customer.id"),
    ({"result": {"customer": {"id": "c\ud800"}}}, "not valid Unicode"),
    ({"result": {"customer": {"id": {"n": 1}}}}, "not a string or a number"),
])
def test_a_found_id_is_read_as_the_found_path_reads_it(make_destination: Any, body: Any, found: Any) -> None:
    destination = make_destination("""\
    let:
      found: {lookup: {requests: [{kind: x, value: {const: x}, endpoint: {const: "https://example.invalid/x"}}],
                       found: result.customer.id}}
    body: {object: {id: {var: found}}}
    """)
    if isinstance(found, str) and found.startswith(("without", "not")):
        with pytest.raises(TransformError, match=found) as caught:
            destination.transform({"type": "test"}, {"key": "k-123"}, lookup=lambda request: (200, body))
        assert caught.value.status_code == 502
    else:
        assert destination.transform({"type": "test"}, {"key": "k-123"}, lookup=lambda request: (200, body))["body"]["JSON"] == {"id": found}


def test_lookup_without_a_lookup_function_is_a_clear_error(make_destination: Any) -> None:
    destination = make_destination("""\
    let:
      found: {lookup: {requests: [{kind: x, value: {const: x}, endpoint: {const: "https://example.invalid/x"}}], found: data.id}}
    body: {object: {id: {var: found}}}
    """)
    with pytest.raises(TransformError, match=r"needs a look-up x \(GET https://example.invalid/x\) and no lookup function"):
        destination.transform({"type": "test"}, {"key": "k-123"})


def test_settings_only_parts_follow_settings_changed_in_place(make_destination: Any) -> None:
    destination = make_destination("body: {object: {f: {setting: flag}}}")
    settings: dict[str, Any] = {"key": "k-123"}
    assert destination.transform({"type": "test"}, settings)["headers"] == {"Authorization": "Key k-123"}
    settings["key"] = "k-456"
    settings["flag"] = True
    out = destination.transform({"type": "test"}, settings)
    assert out["headers"] == {"Authorization": "Key k-456"}
    assert out["body"]["JSON"] == {"f": True}


def test_fresh_refuses_what_json_cannot_hold() -> None:
    assert fresh({"a": [1, 2.5, "x", None, True]}, "v") == {"a": [1, 2.5, "x", None, True]}
    for bad, reason in [({"a": math.nan}, "v.a is not a finite number"), ({1: "x"}, "v has a key that is not a string"),
                        ({"s": {1, 2}}, "v.s holds a set")]:
        with pytest.raises(TransformError, match=reason):
            fresh(bad, "v")
    deep: Any = "leaf"
    for _ in range(150):
        deep = [deep]
    with pytest.raises(TransformError, match="nested deeper than 100 levels"):
        fresh(deep, "v")


class _Text(str):
    pass


def _reference_copy(value: Any, keys: tuple[str, ...] = ()) -> Any:
    """What fresh promises, written plainly: a new JSON value, or ValueError(key path, problem)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (str, int)):
        return str.__str__(value) if isinstance(value, str) else int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        raise ValueError(keys, "is not a finite number")
    if len(keys) >= 100:
        raise ValueError(keys, "is nested deeper")
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.__class__ is not str:
                raise ValueError(keys, "has a key that is not a string")
            out[key] = _reference_copy(item, (*keys, key))
        return out
    if isinstance(value, (list, tuple)):
        return [_reference_copy(item, (*keys, str(index))) for index, item in enumerate(value)]
    raise ValueError(keys, f"holds a {value.__class__.__name__}")


_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
            | st.text(max_size=3).map(_Text) | st.just({1, 2}))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
                       | st.dictionaries(st.text(max_size=2) | st.integers(0, 3) | st.text(max_size=2).map(_Text), inner,
                                         max_size=4), max_leaves=25)


@given(_VALUES)
def test_fresh_copies_as_its_plain_definition_does(value: Any) -> None:
    """The fast paths (a container's classes tested at C speed, comprehensions) give what the
    plain definition gives: equal JSON of plain types, sharing no container, or the same problem."""
    try:
        expected: Any = _reference_copy(value)
    except ValueError as problem:
        keys, reason = problem.args
        with pytest.raises(TransformError) as raised:
            fresh(value, "v")
        if len(keys) <= 8:  # a longer path is shortened in the message
            assert raised.value.message.startswith("v" + "".join(f".{key}" for key in keys) + " " + reason)
        assert reason in raised.value.message
        return
    copied = fresh(value, "v")
    assert copied == expected and json.dumps(copied) == json.dumps(expected)

    def types_and_ids(value: Any) -> Any:
        if isinstance(value, dict):
            return [(type(value), id(value))] + [x for item in value.values() for x in types_and_ids(item)]
        if isinstance(value, list):
            return [(type(value), id(value))] + [x for item in value for x in types_and_ids(item)]
        return [(type(value), None)]

    assert [t for t, _ in types_and_ids(copied)] == [t for t, _ in types_and_ids(expected)]  # plain types only
    containers = {i for _, i in types_and_ids(copied) if i is not None}
    assert not containers & {id(x) for x in _containers(value)}


def _containers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(x for item in value.values() for x in _containers(item))]
    if isinstance(value, (list, tuple)):
        return [value, *(x for item in value for x in _containers(item))]
    return []


def test_builtin_destinations_are_listed() -> None:
    """Every mapping folder shipped, the two of the project and any a user adds (`transformer new`)."""
    assert transformer.builtin_destinations() == sorted(p.parent.name for p in BUILTIN.glob("*/destination.yaml"))
    assert {"kustomer", "segment"} <= set(transformer.builtin_destinations())


def test_request_parts_may_read_the_event(make_destination: Any) -> None:
    destination = make_destination("""\
    request:
      method: {first: [{path: verb}, {const: PUT}]}
      endpoint: {template: "https://example.invalid/items/{id}", vars: {id: {path: id, then: [{coerce: url_escape}]}}}
      headers: {X-Trace: {path: trace}}
      params: {page: {path: page}, fixed: {const: "1"}}
    """)
    settings = {"key": "k-123"}
    out = destination.transform({"type": "test", "id": "a/b", "trace": "t-9", "page": 2}, settings)
    assert (out["method"], out["endpoint"]) == ("PUT", "https://example.invalid/items/a%2Fb")
    assert out["headers"] == {"Authorization": "Key k-123", "X-Trace": "t-9"}
    assert out["params"] == {"page": 2, "fixed": "1"}
    bare = destination.transform({"type": "test", "id": "c", "verb": "PATCH"}, settings)
    assert bare["method"] == "PATCH" and bare["headers"] == {"Authorization": "Key k-123"} and bare["params"] == {"fixed": "1"}
    with pytest.raises(TransformError, match=r"demo test: test.yaml request.endpoint: the rule gave no value for this event"):
        destination.transform({"type": "test"}, settings)
    with pytest.raises(TransformError, match=r"request.method: must be a string, got number"):
        destination.transform({"type": "test", "id": "c", "verb": 5}, settings)


def test_a_numeric_path_segment_indexes_a_list_and_is_a_key_of_an_object(body_of: Body) -> None:
    rule = "object: {v: {path: context.externalId.1.id}, w: {path: a.0}}"
    event = {"context": {"externalId": [{"id": "x"}, {"id": "y"}]}, "a": {"0": "key zero"}}
    assert body_of(rule, event) == {"v": "y", "w": "key zero"}
    assert body_of(rule, {"context": {"externalId": [{"id": "x"}]}, "a": []}) == {}
    assert body_of("object: {v: {path: a.01}}", {"a": ["x", "y"]}) == {}  # not an index: a key


def test_from_reads_a_rule_value_instead_of_the_event(body_of: Body) -> None:
    rule = """\
    object:
      p: {path: [x.y, z], from: {path: nested}}
      s: {path: a, from: {const: {a: 1}}}
      j: {jmespath: "a || b", from: {object: {a: {path: nope}, b: {setting: mode}}}}
      all: {jmespath: "@"}
      none: {path: a, from: {path: absent}}
    """
    out = body_of(rule, {"nested": {"z": 3}}, {"key": "k-123", "mode": "b"})
    assert out == {"p": 3, "s": 1, "j": "b", "all": {"type": "test", "nested": {"z": 3}}}


def test_each_maps_a_list_with_the_event_and_settings_still_visible(body_of: Body) -> None:
    rule = """\
    each: {path: properties.products}
    map:
      object:
        id: {path: sku, from: {var: item}}
        order: {path: properties.order}
        mode: {setting: mode}
        label: {template: "{item}", when: {present: {path: x, from: {var: item}}}, then: [{coerce: json}]}
      needs: [id]
    """
    event = {"properties": {"order": "o-1", "products": [{"sku": "a"}, {"name": "no sku"}, {"sku": "b"}]}}
    wrapped = body_of(f"object:\n  v:\n{textwrap.indent(textwrap.dedent(rule), '    ')}", event, {"key": "k-123", "mode": "a"})
    assert wrapped == {"v": [{"id": "a", "order": "o-1", "mode": "a"}, {"id": "b", "order": "o-1", "mode": "a"}]}
    assert body_of(f"object:\n  v:\n{textwrap.indent(textwrap.dedent(rule), '    ')}", {"properties": {"products": []}}) == {}
    assert body_of(f"object:\n  v:\n{textwrap.indent(textwrap.dedent(rule), '    ')}", {}) == {}


def test_each_with_as_nests_and_copies_what_it_hands_out(make_destination: Any) -> None:
    destination = make_destination("""\
    body:
      object:
        v:
          each: {path: rows}
          as: row
          map:
            each: {var: row}
            as: cell
            map: {list: [{var: cell}, {var: cell}]}
    """)
    event = {"type": "test", "rows": [[{"k": 1}], [2, 3]]}
    out = destination.transform(event, {"key": "k-123"})["body"]["JSON"]
    assert out == {"v": [[[{"k": 1}, {"k": 1}]], [[2, 2], [3, 3]]]}
    out["v"][0][0][0]["k"] = 9
    assert out["v"][0][0][1] == {"k": 1} and event["rows"][0][0] == {"k": 1}


def test_each_over_a_setting_is_computed_from_settings_alone(make_destination: Any) -> None:
    destination = make_destination("""\
    request:
      headers:
        X-Modes: {each: {setting: modes}, map: {var: item, then: [{coerce: upper}]}, then: [{coerce: json}]}
    """, BASE_WITH_LIST)
    out = destination.transform({"type": "test"}, {"key": "k-123", "modes": ["a", "b"]})
    assert out["headers"]["X-Modes"] == '["A","B"]'


BASE_WITH_LIST = BASE.replace("    mode: {enum: [a, b]}", "    mode: {enum: [a, b]}\n    modes: {type: array, items: {type: string}}")


def test_each_needs_a_list(body_of: Body) -> None:
    with pytest.raises(TransformError, match=r"^demo test: test.yaml body.v: each needs a list, got object \(from products\)$"):
        body_of("object: {v: {each: {path: products}, map: {var: item}}}", {"products": {"sku": "a"}})


def test_merge_later_keys_win_missing_items_are_skipped(body_of: Body) -> None:
    rule = """\
    object:
      device:
        merge:
          - {path: properties, then: [{omit: [secret, kind]}]}
          - {path: nothing}
          - object: {id: {path: deviceId}, model: {path: properties.kind}}
      none: {merge: [{path: a}, {path: b}]}
    """
    event = {"properties": {"model": "m1", "kind": "phone", "secret": "s", "x": 1}, "deviceId": "d-1"}
    assert body_of(rule, event) == {"device": {"model": "phone", "x": 1, "id": "d-1"}}
    with pytest.raises(TransformError, match=r"test.yaml body.none: merge item 1 must give an object, got string"):
        body_of(rule, {"b": "text"})


def test_entry_builds_a_one_key_object_with_a_computed_key(body_of: Body) -> None:
    rule = "object: {traits: {entry: {key: {path: kind}, value: {path: id}}}}"
    assert body_of(rule, {"kind": "email", "id": "a@x"}) == {"traits": {"email": "a@x"}}
    assert body_of(rule, {"kind": "email"}) == {}
    assert body_of(rule, {"id": "a@x"}) == {}
    with pytest.raises(TransformError, match=r"test.yaml body.traits: entry key must be a string, got number \(from kind\)"):
        body_of(rule, {"kind": 5, "id": "a@x"})


def test_equals_in_and_matches(body_of: Body) -> None:
    rule = """\
    object:
      eq: {const: EQ, when: {equals: [{path: a}, {setting: mode}]}}
      strict: {const: STRICT, when: {equals: [{path: t}, {const: 1}]}}
      deep: {const: DEEP, when: {equals: [{path: o}, {const: {k: [1, "x"]}}]}}
      in: {const: IN, when: {in: [{path: a}, {const: [x, a]}]}}
      email: {const: EMAIL, when: {matches: [{path: e}, "^[^@\\\\s]+@[^@\\\\s]+$"]}}
      not_missing: {const: NM, when: {not: {equals: [{path: nope}, {path: nope2}]}}}
    """
    settings = {"key": "k-123", "mode": "a"}
    assert body_of(rule, {"a": "a", "t": 1.0, "o": {"k": [1, "x"]}, "e": "a@b.c"}, settings) == {
        "eq": "EQ", "strict": "STRICT", "deep": "DEEP", "in": "IN", "email": "EMAIL", "not_missing": "NM"}
    assert body_of(rule, {"a": "b", "t": True, "o": {"k": [True, "x"]}, "e": "a b@c"}, settings) == {"not_missing": "NM"}
    assert body_of(rule, {"t": "1", "e": 5}, settings) == {"not_missing": "NM"}


@pytest.mark.parametrize("a, b, equal", [
    (1, 1.0, True), (True, 1, False), (False, 0, False), ("1", 1, False), (None, None, True), ([], {}, False),
    ({"a": 1}, {"a": 1.0}, True), ({"a": 1}, {"a": 1, "b": 2}, False), ([1, [True]], [1, [True]], True),
])
def test_same_is_json_equality_with_types(a: Any, b: Any, equal: bool) -> None:
    assert same(a, b) is equal and same(b, a) is equal


@pytest.mark.parametrize("value, to, expected", [
    ("2024-01-02", {"to": "unix_seconds"}, 1704153600),
    ("2024-01-02T03:04:05Z", {"to": "unix_seconds"}, 1704164645),
    ("2024-01-02T03:04:05.678Z", {"to": "unix_millis"}, 1704164645678),
    ("2024-01-02T03:04:05.6789+01:00", {"to": "unix_millis"}, 1704161045678),
    ("2024-01-02T03:04:05-0530", {"to": "iso"}, "2024-01-02T08:34:05.000Z"),
    ("2024-01-02 03:04", {"to": "iso", "precision": "seconds"}, "2024-01-02T03:04:00Z"),
    ("2024-01-02T03:04:05.123456789Z", {"to": "iso", "precision": "micros"}, "2024-01-02T03:04:05.123456Z"),
    (1704164645, {"to": "iso"}, "2024-01-02T03:04:05.000Z"),
    (1704164645.5, {"to": "unix_millis"}, 1704164645500),
    (1704164645678, {"to": "unix_seconds", "epoch": "millis"}, 1704164645),
    (-1, {"to": "iso", "epoch": "millis"}, "1969-12-31T23:59:59.999Z"),
    (-1, {"to": "unix_seconds", "epoch": "millis"}, -1),
])
def test_date_step(body_of: Body, value: Any, to: dict[str, str], expected: Any) -> None:
    options = ", ".join(f"{k}: {v}" for k, v in to.items())
    assert body_of(f"object: {{v: {{path: v, then: [{{date: {{{options}}}}}]}}}}", {"v": value}) == {"v": expected}


@pytest.mark.parametrize("value, message", [
    ("yesterday", "date cannot read the string as an ISO 8601 date"),
    ("2024-02-30", "date found no such day or time in the string"),
    ("2024-01-02T24:00:00Z", "date found no such day or time in the string"),
    ("1704164645", "date cannot read the string as an ISO 8601 date"),
    (True, "date needs an ISO 8601 string or an epoch number, got boolean"),
    (10**20, "date is outside the years 1 to 9999"),
])
def test_a_date_it_cannot_read_is_a_400_naming_the_rule_and_field(body_of: Body, value: Any, message: str) -> None:
    with pytest.raises(TransformError, match=rf"^demo test: test.yaml body.when: {message} \(from properties.when\)$") as caught:
        body_of("object: {when: {path: properties.when, then: [{date: {to: iso}}]}}", {"properties": {"when": value}})
    assert caught.value.status_code == 400


def test_truncate_replace_split(body_of: Body) -> None:
    rule = """\
    object:
      chars: {path: s, then: [{truncate: {chars: 3}}]}
      bytes: {path: s, then: [{truncate: {bytes: 4}}]}
      short: {path: t, then: [{truncate: {bytes: 4}}]}
      phone: {path: p, then: [{replace: {regex: "[^0-9+]", with: ""}}]}
      literal: {path: p, then: [{replace: {regex: "\\\\d+", with: "<\\\\1>"}}]}
      tags: {path: tags, then: [{split: ","}]}
    """
    out = body_of(rule, {"s": "héllo", "t": "hé", "p": "+1 (555) 01", "tags": "a,,b"})
    assert out == {"chars": "hél", "bytes": "hél", "short": "hé", "phone": "+155501", "literal": "+<\\1> (<\\1>) <\\1>",
                   "tags": ["a", "", "b"]}
    assert body_of("object: {v: {path: s, then: [{truncate: {bytes: 2}}]}}", {"s": "€uro"}) == {}  # no half character
    with pytest.raises(TransformError, match=r"body.v: split needs a string, got a number \(from s\)"):
        body_of("object: {v: {path: s, then: [{split: ','}]}}", {"s": 5})


def test_settings_errors_word_a_failed_setting(make_destination: Any) -> None:
    worded = BASE.replace("secrets: [key]", "secrets: [key]\nsettings_errors:\n  key: key not found in Configs")
    destination = make_destination("body: {object: {}}", worded)
    for settings, message in [({}, "key not found in Configs"), ({"key": 5}, "key not found in Configs"),
                              ({"mode": "c"}, "key not found in Configs; setting mode must be one of \"a\", \"b\""),
                              ({"key": "", "flag": "x"}, "setting flag must be of type boolean; key not found in Configs")]:
        with pytest.raises(TransformError) as caught:
            destination.transform({"type": "test"}, settings)
        assert caught.value.message == f"demo: configuration error: {message}"
        assert caught.value.status_code == 400


def test_long_candidate_lists_compile_and_keep_their_order(make_destination: Any) -> None:
    """A path list, a first and an any of hundreds of alternatives stay within Python's nesting limit."""
    paths = ", ".join(f"p{i}" for i in range(300))
    firsts = ", ".join(f"{{path: f{i}}}" for i in range(300))
    anys = ", ".join(f"{{present: {{path: a{i}}}}}" for i in range(300))
    destination = make_destination(f"""\
    body:
      object:
        path: {{path: [{paths}]}}
        first: {{first: [{firsts}]}}
        any: {{const: ok, when: {{any: [{anys}]}}}}
    """)
    event = {"type": "test", "p299": "last", "p150": "middle", "f280": 1, "a299": True}
    assert body_of_destination(destination, event) == {"path": "middle", "first": 1, "any": "ok"}
    assert body_of_destination(destination, {"type": "test", "p299": "last"}) == {"path": "last"}


def body_of_destination(destination: Any, event: dict[str, Any]) -> Any:
    return destination.transform(event, {"key": "k-123"})["body"]["JSON"]


def test_template_and_present_read_a_settings_only_let_without_a_copy(make_destination: Any) -> None:
    """A template and present read a let kept per settings value without copying it (they only
    look at it): a text is used as it is, a container is present and is refused by a template as
    any other, at every event."""
    destination = make_destination("""\
        let:
          mode: {first: [{setting: mode}, {const: none}]}
          shape: {const: {k: 1}}
        body:
          object:
            v: {template: "<{mode}>/{w}", vars: {w: {path: w}}}
            u: {template: "<{shape}>", when: {present: {path: u}}}
            s: {const: shaped, when: {present: {var: shape}}}
        """)
    for _ in range(2):  # the second event reads the kept value
        assert destination.transform({"type": "test", "w": 1}, {**SETTINGS, "mode": "b"})["body"]["JSON"] == {
            "v": "<b>/1", "s": "shaped"}
        with pytest.raises(TransformError, match=r"test.yaml body.u: cannot put an object into text"):
            destination.transform({"type": "test", "u": 1}, SETTINGS)



def test_a_settings_only_let_that_fails_fails_only_where_it_is_read(make_destination: Any) -> None:
    """A let on settings alone is computed once per settings value, before the rules read it: its
    error is raised where a rule reads it, at every such event, and an event whose rules do not
    read it is transformed."""
    destination = make_destination("""\
        let:
          mode: {setting: mode, required: this event needs the mode setting}
        body:
          object:
            v: {template: "<{mode}>", when: {present: {path: w}}}
            m: {var: mode, when: {present: {path: m}}}
            n: {const: 1}
        """)
    assert destination.transform({"type": "test"}, SETTINGS)["body"]["JSON"] == {"n": 1}
    for event in ({"type": "test", "w": 1}, {"type": "test", "m": 1}, {"type": "test", "w": 1}):
        with pytest.raises(TransformError, match=r"^demo test: test.yaml let.mode: this event needs the mode setting"):
            destination.transform(event, SETTINGS)
    assert destination.transform({"type": "test", "w": 1, "m": 1}, {**SETTINGS, "mode": "a"})["body"]["JSON"] == {
        "v": "<a>", "m": "a", "n": 1}
    assert destination.transform({"type": "test"}, SETTINGS)["body"]["JSON"] == {"n": 1}

def test_jmespath_failure_is_the_rules_error(body_of: Body) -> None:
    """A search the jmespath library refuses for this event is the event's error, naming the rule;
    a search that finds nothing (null, "") gives nothing; a container it finds is the output's own."""
    rule = "object: {v: {jmespath: \"a[?b > `1`].c | [0]\"}, w: {jmespath: \"x\"}}"
    with pytest.raises(TransformError, match=r"test.yaml body.v.jmespath: JMESPath failed on this event "
                                             r"\(it compared a string with a number\)"):
        body_of(rule, {"a": [{"b": "text", "c": 1}]})
    event = {"a": [{"b": 2, "c": ""}], "x": {"k": [1]}}
    body = body_of(rule, event)
    assert body == {"w": {"k": [1]}} and body["w"] is not event["x"] and body["w"]["k"] is not event["x"]["k"]


def test_the_coercions_said_to_give_text_give_a_str() -> None:
    """Generated code uses what GIVES_TEXT's coercions give as text, untested: each must give a
    plain str (its signature says so), and every coercion that says so is in it."""
    from transformer.language.functions import GIVES_TEXT

    assert GIVES_TEXT == {function for function in COERCIONS.values() if function.__annotations__["return"] == "str"}
    for function in GIVES_TEXT:
        try:
            given = function(" Ada Lovelace/7 ")
        except StepError:  # refuses this input: its error is the rule's, as for any step
            continue
        assert given.__class__ is str, function


def test_a_required_rule_that_fails_asks_its_look_up_once(make_destination: Any) -> None:
    """A required rule's error names the paths it tried by running it again: that run finds the
    look-up's answer where the first run kept it, also where the look-up is written into the
    request's one function (read by the body and the endpoint), and never asks again."""
    destination = make_destination(FOUND_BY_USER_ID + textwrap.dedent("""\
    request:
      method: {path: verb}
      endpoint: {template: "https://example.invalid/customers/{id}", vars: {id: {var: found}}}
    body: {object: {id: {var: found, required: {message: "no customer for {u}", vars: {u: {path: userId}}}}}}
    """))
    asked: list[str] = []

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        asked.append(request["lookup"]["value"])
        return 404, None

    with pytest.raises(TransformError, match="body.id: no customer for u1"):
        destination.transform({"type": "test", "userId": "u1", "verb": "PUT"}, SETTINGS, lookup=lookup)
    assert asked == ["u1"]


def test_a_lookup_a_check_reads_is_asked_once_before_the_method(make_destination: Any) -> None:
    """A look-up let read by a check's condition and by the method is read from the event's memo
    in both (the check runs first, in its own function): asked once."""
    destination = make_destination(FOUND_BY_USER_ID + textwrap.dedent("""\
    request:
      method: {first: [{const: PUT, when: {present: {var: found}}}, {path: verb}]}
      endpoint: {template: "https://example.invalid/{v}", vars: {v: {path: verb}}}
    body: {object: {name: {path: name}}}
    validate:
      - when: {present: {var: found}}
        schema: {required: [name]}
    """))
    asked: list[str] = []

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        asked.append(request["lookup"]["value"])
        return 200, {"data": {"id": "c7"}}

    out = destination.transform({"type": "test", "userId": "u1", "verb": "POST", "name": "Ada"}, SETTINGS, lookup=lookup)
    assert out["method"] == "PUT" and asked == ["u1"]


def test_lists_firsts_and_needs_hand_their_values_on_as_explain_traces_them(make_destination: Any) -> None:
    """first, list and an object with needs put a value straight where it goes (Node.store); the
    tracing copy explain runs computes each value apart. Both give the same body, a fresh one."""
    destination = make_destination("""\
        body:
          object:
            many: {list: [{path: a}, {const: k}, {path: b}]}
            one: {list: [{path: a}]}
            none: {list: [{path: nothing}, {path: nowhere}]}
            fallback:
              first:
                - {path: emails}
                - list: [{object: {type: {const: home}, email: {path: [email, properties.email]}}, needs: [email]}]
            guarded: {list: [{path: a, when: {present: {path: b}}}]}
        """)
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"a": 1, "b": "x", "email": "e@x"},
         {"many": [1, "k", "x"], "one": [1], "fallback": [{"type": "home", "email": "e@x"}], "guarded": [1]}),
        ({"a": {"n": 1}, "emails": [{"email": "z"}], "properties": {"email": "p@x"}},
         {"many": [{"n": 1}, "k"], "one": [{"n": 1}], "fallback": [{"email": "z"}]}),
        ({"properties": {"email": "p@x"}, "b": ""}, {"many": ["k"], "fallback": [{"type": "home", "email": "p@x"}]}),
        ({}, {"many": ["k"]}),
    ]
    for fields, body in cases:
        event = {"type": "test", **fields}
        before = json.dumps(event)
        out = destination.transform(event, SETTINGS)
        assert out["body"]["JSON"] == body, fields
        assert destination.explain(event, SETTINGS)["request"]["body"] == out["body"]
        for value in out["body"]["JSON"].values():  # nothing in the output is the event's own
            if isinstance(value[0], dict):
                value[0]["changed"] = True
        assert json.dumps(event) == before
