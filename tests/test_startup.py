"""Start-up cost (issue 26): what `import transformer` and `load()` do and do not do, and that the
work deferred to first use gives exactly what doing it at load gave."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_specifications
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import transformer
from transformer.language import _schema, checks, messages, patterns
from transformer.language.yamlsource import Limits, Source

from .conftest import BASE, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
Make = Callable[..., transformer.Destination]


def error_of(destination: transformer.Destination, event: dict[str, object], event_type: str = "test") -> str:
    with pytest.raises(transformer.TransformError) as caught:
        destination.transform({"type": event_type, **event}, SETTINGS)
    assert caught.value.status_code == 400
    return caught.value.message


def error_paths(destination: transformer.Destination) -> list[messages._RunAgain]:
    """The error paths of `required` rules that the destination's generated functions hold."""
    plans = [*destination._mapping.plans.values()]
    found: dict[int, messages._RunAgain] = {}
    seen: set[int] = set()
    stack = [part.fn for plan in plans for part in (plan.method, plan.endpoint, *plan.headers.values(),
                                                      *plan.params.values())]
    stack += [plan.body for plan in plans if plan.body is not None]
    while stack:
        function = stack.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        for value in function.__globals__.values():
            if isinstance(value, messages._RunAgain):
                found[id(value)] = value
            elif callable(value) and getattr(value, "__name__", "").startswith("rule_"):
                stack.append(value)
    return list(found.values())


def test_load_generates_no_error_path_until_a_rule_fails(make_destination: Make) -> None:
    destination = make_destination("""\
        body:
          object:
            u: {path: [userId, anonymousId], required: no user}
            e: {path: event, required: "no event for {who}", }
        let:
          who: {path: userId}
        """.replace(", }", "}"))
    paths = error_paths(destination)
    assert len(paths) == 2 and all(path.function is None for path in paths)
    assert "= []" not in destination._mapping.plans["test"].body.__doc__  # type: ignore[union-attr]
    destination.transform({"type": "test", "userId": "u", "event": "e"}, SETTINGS)
    assert all(path.function is None for path in paths)
    assert error_of(destination, {}) .endswith("body.u: no user (tried userId, anonymousId)")
    assert sum(path.function is not None for path in paths) == 1
    assert error_of(destination, {"userId": "ada"}).endswith("body.e: no event for ada (tried event)")
    assert error_of(destination, {}).endswith("body.u: no user (tried userId, anonymousId)")  # built once, run again


def test_an_error_path_inside_nested_eaches_reads_their_elements(make_destination: Make) -> None:
    destination = make_destination("""\
        body:
          object:
            orders:
              each: {path: properties.orders}
              as: order
              map:
                each: {path: lines, from: {var: order}}
                as: line
                map:
                  path: [sku, id]
                  from: {var: line}
                  required: {message: "order {o} line {l} needs a sku", vars: {o: {path: n, from: {var: order}}, l: {var: line}}}
        """)
    event = {"properties": {"orders": [{"n": 1, "lines": [{"sku": "a"}]}, {"n": 2, "lines": [{"sku": "b"}, {"qty": 3}]}]}}
    assert error_of(destination, event).endswith('body.orders.map.map: order 2 line {"qty":3} needs a sku (tried sku, id)')
    # explain generates the error path inline (a tracing plan): the same message
    assert destination.explain({"type": "test", **event}, SETTINGS)["error"]["message"] == error_of(destination, event)


def test_an_error_path_quoting_the_event_type_in_a_rule_shared_by_types(tmp_path: Path) -> None:
    (tmp_path / "destination.yaml").write_text(BASE.replace("  test: test.yaml\n", "  test: test.yaml\n  other: test.yaml\n"))
    (tmp_path / "test.yaml").write_text(textwrap.dedent("""\
        body:
          object:
            a: {path: a, required: "{event_type} needs a"}
            b: {path: b, required: "b is missing"}
        """))
    destination = transformer.load(tmp_path)
    for _ in range(2):
        assert error_of(destination, {}, "other").endswith("body.a: other needs a (tried a)")
        assert error_of(destination, {}, "test").endswith("body.a: test needs a (tried a)")
        assert error_of(destination, {"a": 1}, "other").endswith("body.b: b is missing (tried b)")
        assert error_of(destination, {"a": 1}, "test").endswith("body.b: b is missing (tried b)")


# -- what import and load import -------------------------------------------------------------------

def modules_after(code: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                          capture_output=True, text=True, check=True, cwd=ROOT, timeout=60)
    return set(done.stdout.split())


LAZY = ("jsonschema", "referencing", "importlib.resources", "zipfile", "hashlib", "difflib")


def test_import_and_load_import_no_jsonschema() -> None:
    """jsonschema (and what it imports) waits for a document that fails its fast test; hashlib for a
    mapping that hashes or a batch; difflib for a misspelt name."""
    loaded = modules_after("import transformer\nd = transformer.load('kustomer')\n"
                           "d.transform({'type': 'track', 'event': 'Viewed', 'userId': 'u'}, {'apiKey': 'k'})")
    assert not [name for name in loaded if name.split(".")[0] in LAZY or name in LAZY]
    assert "transformer" in loaded and "yaml" in loaded


def test_invalid_settings_import_jsonschema_and_are_worded_as_before() -> None:
    loaded = modules_after("import transformer\nd = transformer.load('kustomer')\n"
                           "for s in ({'apiKey': ''}, {'apiKey': 'k', 'orgPod': 'x'}, {}):\n    try:\n"
                           "        d.transform({'type': 'track', 'event': 'Viewed', 'userId': 'u'}, s)\n"
                           "    except transformer.TransformError as e:\n        print(e.message.replace(' ', '_'))")
    assert "jsonschema" in loaded
    assert {"kustomer:_configuration_error:_setting_apiKey_must_not_be_empty",
            "kustomer:_configuration_error:_setting_orgPod_must_match_the_pattern_^prod[0-9]+$",
            "kustomer:_configuration_error:_setting_apiKey_is_required"} <= loaded


def test_the_fast_tests_know_every_keyword_jsonschema_checks() -> None:
    assert checks._KEYWORDS == frozenset(jsonschema.Draft202012Validator.VALIDATORS)


def test_known_valid_schema_leaves_every_meta_schema_keyword_it_does_not_check_to_jsonschema() -> None:
    folder = Path(jsonschema_specifications.__file__).parent / "schemas" / "draft202012"
    names: set[str] = set()
    for file in [folder / "metaschema.json", *(folder / "vocabularies").iterdir()]:
        names |= set(json.loads(file.read_text()).get("properties", {}))
    assert names <= _schema.META_SCHEMA_KEYWORDS


def jsonschema_says_valid(schema: Any) -> bool:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError:
        return False
    return True


ARGUMENTS = [0, -1, 1.5, 3, True, None, "", "string", "integer", "strin", "^a+$", "(", ["a"], ["a", "a"], [],
             ["string", "null"], ["string", "string"], [1], {}, {"type": "string"}, {"a": {"type": "number"}},
             {"a": 1}, {"(": {}}, [{}], [{"type": 1}], "#/$defs/x"]
KEYS = ["type", "enum", "const", "minLength", "maximum", "exclusiveMinimum", "pattern", "required", "properties",
        "patternProperties", "additionalProperties", "items", "prefixItems", "allOf", "anyOf", "oneOf", "not",
        "uniqueItems", "title", "description", "default", "examples", "deprecated", "format", "$comment", "$ref",
        "$defs", "multipleOf", "contains", "x-secret", "definitions", "dependencies"]
schemas = st.recursive(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(ARGUMENTS), max_size=4),
                       lambda inner: st.dictionaries(st.sampled_from(KEYS), st.one_of(inner, st.lists(inner, max_size=2),
                                                                                      st.dictionaries(st.text(max_size=2), inner, max_size=2)),
                                                     max_size=3), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(schemas)
def test_known_valid_schema_says_yes_only_where_jsonschema_does(schema: dict[str, Any]) -> None:
    if _schema.known_valid_schema(schema):
        assert jsonschema_says_valid(schema)


def test_known_valid_schema_takes_the_bundled_settings_schemas() -> None:
    for name in transformer.builtin_destinations():
        settings_schema = yaml.safe_load((ROOT / "mappings" / name / "destination.yaml").read_text())["settings"]
        assert _schema.known_valid_schema(settings_schema) and jsonschema_says_valid(settings_schema)


SETTINGS_SCHEMA = {"type": "object", "required": ["key"], "additionalProperties": False,
                   "properties": {"key": {"type": "string", "minLength": 1, "pattern": "^[a-z]+$"},
                                  "n": {"type": "integer", "minimum": 1}, "mode": {"enum": ["a", "b"]},
                                  "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}}


@pytest.mark.parametrize("settings_value", [
    {"key": "abc"}, {"key": "abc", "n": 2, "mode": "a", "tags": ["x", "y"]}, {}, {"key": ""}, {"key": "ABC"},
    {"key": "a", "n": 0}, {"key": "a", "n": 1.0}, {"key": "a", "n": True}, {"key": "a", "mode": "c"},
    {"key": "a", "tags": ["x", "x"]}, {"key": "a", "other": 1}, {"key": ("a",)}, {"key": "a", "n": float("nan")}])
def test_a_lazy_validator_gives_jsonschema_s_errors(settings_value: dict[str, Any]) -> None:
    lazy = _schema.LazyValidator(SETTINGS_SCHEMA, checks.fast_test(SETTINGS_SCHEMA), no_retrieval=True)
    eager = patterns.linear_validator()(SETTINGS_SCHEMA)
    assert [e.message for e in lazy.iter_errors(settings_value)] == [e.message for e in eager.iter_errors(settings_value)]


@pytest.mark.parametrize("schema", [
    {"required": ["a", "a"]}, {"type": ["string", "string"]}, {"type": []}, {"type": "strin"}, {"pattern": "\\z"},
    {"pattern": "("}, {"minLength": -1}, {"maximum": True}, {"enum": 1}, {"title": 1}, {"examples": 1},
    {"deprecated": 1}, {"format": 1}, {"items": [{}]}, {"prefixItems": []}, {"allOf": []}, {"properties": {"a": 1}},
    {"patternProperties": {"(": {}}}, {"$comment": 1}, {"definitions": 1}, {"dependencies": 1}, {"multipleOf": 0},
    {"properties": {"a": {"properties": {"b": {"type": "nothing"}}}}}, [], "string"])
def test_known_valid_schema_refuses_what_the_meta_schema_refuses(schema: Any) -> None:
    assert not jsonschema_says_valid(schema) and not _schema.known_valid_schema(schema)


@pytest.mark.parametrize("schema", [
    {"enum": []}, {"x-secret": 1}, {"const": None}, True, {"pattern": "^[a-z]+\\d?$", "minLength": 0},
    {"type": "object", "properties": {"a": {"type": ["boolean", "null"], "default": False, "description": "d"}},
     "required": ["a"], "additionalProperties": False, "patternProperties": {"^x-": {"not": {"type": "null"}}}}])
def test_known_valid_schema_takes_plain_valid_schemas(schema: Any) -> None:
    assert jsonschema_says_valid(schema) and _schema.known_valid_schema(schema)


@pytest.mark.parametrize("change, where", [
    (("required: [key]", "required: [key, key]"), "destination.yaml:4: settings.required"),
    (("key: {type: string, minLength: 1}", "key: {type: string, minLength: 1, title: 7}"), "destination.yaml:6: settings.properties.key.title"),
    (("mode: {enum: [a, b]}", "mode: {enum: [a, b], default: {$ref: 'https://example.invalid/x'}}"),
     "destination.yaml:9: settings.properties.mode.default.$ref"),
])
def test_settings_schema_errors_are_reported_as_before(tmp_path: Path, change: tuple[str, str], where: str) -> None:
    """A settings schema known_valid_schema does not take goes to jsonschema, which words the error."""
    (tmp_path / "destination.yaml").write_text(BASE.replace(*change))
    (tmp_path / "test.yaml").write_text("body: {const: {}}\n")
    with pytest.raises(transformer.MappingError) as caught:
        transformer.load(tmp_path)
    found = [f"{Path(p.file).name}:{p.line}: {p.yaml_path}" for p in caught.value.problems]
    assert found == [where]
    assert caught.value.problems[0].message.startswith(("not a valid JSON Schema: ", "$ref 'https://example.invalid/x' is outside"))


def test_the_benchmark_times_import_and_load_with_and_without_bytecode() -> None:
    from bench.__main__ import load_times

    figures = load_times(rounds=1)
    assert 0 < figures["cold_ms"] < figures["import_load_ms"] and 0 < figures["import_load_cpu_ms"]
    assert figures["import_load_source_ms"] > 0 and "PYTHONPYCACHEPREFIX" in figures["bytecode"]


def test_the_loader_s_records_keep_what_dataclass_gave_them() -> None:
    """Written by hand (see _record.py): repr, equality by value, frozen ones immutable and hashable."""
    limits = Limits(nodes=3, chars=4)
    assert repr(limits) == "Limits(nodes=3, chars=4)" and limits == Limits(3, 4) and limits != Limits(3, 5)
    assert hash(limits) == hash(Limits(3, 4))
    with pytest.raises(AttributeError):
        limits.nodes = 5  # type: ignore[misc]
    source = Source("f.yaml", {"a": 1})
    assert source.lines == {} and source == Source("f.yaml", {"a": 1}) and source != Source("f.yaml", {"a": 2})
    with pytest.raises(TypeError):
        hash(source)
    batching = transformer.load(ROOT / "mappings" / "segment")._mapping.batching
    assert batching is not None and batching.settings
    changed = batching.for_settings({name: 7 for _, name in batching.settings})
    assert all(getattr(changed, limit) == 7 for limit, _ in batching.settings) and changed.endpoint is batching.endpoint


def test_has_references_ends_on_a_value_that_contains_itself() -> None:
    cyclic: dict[str, Any] = {"a": []}
    cyclic["a"].append(cyclic)
    assert not _schema.has_references({"type": "object", "default": cyclic})
    cyclic["a"].append({"$ref": "#/x"})
    assert _schema.has_references({"type": "object", "default": cyclic})
