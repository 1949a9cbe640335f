"""Broken mapping files: each mistake is one clear problem with file, line and YAML path."""
from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transformer
from transformer import MappingError
from transformer.language.functions import COERCIONS

from .conftest import BASE


def problems_of(tmp_path: Path, event_yaml: str, destination_yaml: str = BASE) -> list[str]:
    (tmp_path / "destination.yaml").write_text(textwrap.dedent(destination_yaml))
    (tmp_path / "test.yaml").write_text(textwrap.dedent(event_yaml))
    with pytest.raises(MappingError) as caught:
        transformer.load(tmp_path)
    lines = [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]
    assert str(caught.value).count("\n") == len(lines) - 1  # one line per problem
    return lines


@pytest.mark.parametrize("event_yaml, expected", [
    ("body: {object: {v: {pathh: a}}}", "test.yaml:1: body.object.v.pathh: unknown key 'pathh' (did you mean `path`?)"),
    ("body:\n  object:\n    v: {path: a, then: [{coerce: lowr}]}",
     f"test.yaml:3: body.object.v.then[0].coerce: 'lowr' is not one of {sorted(COERCIONS)} (did you mean `lower`?)"),
    ("body:\n  object:\n    v:\n      const: 1\n      when: {settting: flag}",
     "test.yaml:5: body.object.v.when.settting: unknown key 'settting' (did you mean `setting`?)"),
    ("body: {object: {v: {path: [a, 3]}}}", "test.yaml:1: body.object.v.path[1]: 3 is not of type 'string'"),
    ("body:\n  object:\n    v: {path: a, then: [{coerce: shout}]}",
     "test.yaml:3: body.object.v.then[0].coerce: 'shout' is not one of ['base64', 'camel', 'compact', 'dasherize', "
     "'digits', 'email_canonical', 'json', 'json_items', 'lower', 'phone_digits', 'prune', 'rstrip', 'string', 'trim', 'unique', 'upper', 'url_component', 'url_escape', "
     "'url_parent', 'uuid5']"),
    ("body: {object: {v: {path: a, const: 1}}}",
     "test.yaml:1: body.object.v: a rule needs exactly one of path, jmespath, const, setting, var, template, first, "
     "object, list, case, lookup, each, merge, entry (found path, const)"),
    ("body:\n  object:\n    v: {const: 1, from: {path: a}}", "test.yaml:3: body.object.v.from: from goes with path or jmespath, not with const"),
    ("body:\n  object:\n    v: {path: a, map: {path: b}}", "test.yaml:3: body.object.v: 'each' is a dependency of 'map'"),
    ("body:\n  object:\n    v: {each: {path: a}}", "test.yaml:3: body.object.v: 'map' is a dependency of 'each'"),
    ("let:\n  x: {const: 1}\nbody:\n  each: {path: a}\n  as: x\n  map: {var: x}",
     "test.yaml:5: body.as: 'x' is already a variable here (a let, event_type or an enclosing each's as): choose another name"),
    ("body:\n  each: {path: a}\n  map: {lookup: {requests: [{kind: k, value: {var: item}, endpoint: {const: u}}], found: id}}",
     "test.yaml:3: body.map.lookup.requests[0].value.var: unknown variable 'item': a rule may use only the let bindings "
     "declared before it (event_type)"),
    ("body:\n  entry: {key: {path: k}}", "test.yaml:2: body.entry: 'value' is a required property"),
    ("body:\n  const: 1\n  when: {matches: [{path: a}, '(']}",
     "test.yaml:3: body.when.matches[1]: the regular expression '(' does not compile (missing ): ()"),
    ("body:\n  const: 1\n  when: {matches: [{path: a}, 'a{4294967296}']}",
     "test.yaml:3: body.when.matches[1]: the regular expression 'a{4294967296}' repeats 4,294,967,296 times, over the limit of 1,000"),
    ("body:\n  const: 1\n  when: {in: [{path: a}, {const: a}]}", "test.yaml:3: body.when.in[1].const: in needs a list to look in"),
    ("body:\n  const: 1\n  when: {equals: [{path: a}]}", "test.yaml:3: body.when.equals: [{'path': 'a'}] is too short"),
    ("body:\n  path: a\n  then: [{date: {to: unix_seconds, precision: millis}}]",
     "test.yaml:3: body.then[0].date.precision: precision goes with to: iso only (unix times are whole numbers)"),
    ("body:\n  path: a\n  then: [{replace: {regex: '[', with: x}}]",
     "test.yaml:3: body.then[0].replace.regex: the regular expression '[' does not compile (missing ]: [)"),
    ("body:\n  path: a\n  then: [{replace: {regex: '(a)\\1', with: x}}]",
     "test.yaml:3: body.then[0].replace.regex: the regular expression '(a)\\\\1' does not compile (invalid escape sequence: \\1; "
     "RE2 has no back references or look-arounds)"),
    ("body:\n  path: a\n  then: [{truncate: {chars: 1, bytes: 1}}]",
     "test.yaml:3: body.then[0].truncate: {'chars': 1, 'bytes': 1} has too many properties"),
    ("body:\n  path: a\n  then: [{split: ',', coerce: lower}]",
     "test.yaml:3: body.then[0]: a step needs exactly one of omit, coerce, entries, join, max_length, date, truncate, replace, hash, split"),
    ("body: {object: {v: {vars: {a: {path: a}}, path: b}}}", "test.yaml:1: body.object.v: 'template' is a dependency of 'vars'"),
    ("body:\n  object:\n    v: {jmespath: 'a[?'}",
     "test.yaml:3: body.object.v.jmespath: JMESPath does not parse (Invalid jmespath expression: Incomplete expression at column 3)"),
    ('body:\n  object:\n    v: {template: "x-{nope}"}',
     "test.yaml:3: body.object.v.template: template names {nope}, which is neither under vars nor a let binding declared before it"),
    ('body:\n  object:\n    v: {template: "x-{a:>10}", vars: {a: {path: a}}}',
     "test.yaml:3: body.object.v.template: template placeholder {a} must be a plain name (no format, index or attribute)"),
    ('body:\n  object:\n    v: {template: "x", vars: {a: {path: a}}}',
     "test.yaml:3: body.object.v.vars: vars not used by the template: a"),
    ("body:\n  object:\n    v: {setting: nope}",
     "test.yaml:3: body.object.v.setting: unknown setting 'nope' (the settings schema declares: flag, key, mode, other)"),
    ("body:\n  object:\n    v: {const: 1, when: {setting: nope}}", "test.yaml:3: body.object.v.when.setting: unknown setting 'nope'"),
    ("body:\n  object:\n    v: {path: $nope}",
     "test.yaml:3: body.object.v.path: unknown path alias $nope (declared: uid)"),
    ("let:\n  early: {var: later}\n  later: {const: 1}",
     "test.yaml:2: let.early.var: unknown variable 'later': a rule may use only the let bindings declared before it (event_type)"),
    ("let:\n  me: {var: me}", "test.yaml:2: let.me.var: unknown variable 'me': a rule may use only the let bindings declared "
                               "before it (event_type)"),
    ("let:\n  event_type: {const: x}",
     "test.yaml:2: let.event_type: event_type is bound by the engine to the event's type; choose another name"),
    ("body:\n  object: {v: {path: a}}\n  needs: [w]", "test.yaml:3: body.needs: needs names 'w', which is not a key of this object"),
    ("body: {object: {v: {const: 1, when: {setting: flag, not: {setting: flag}}}}}",
     "test.yaml:1: body.object.v.when: {'setting': 'flag', 'not': {'setting': 'flag'}} has too many properties"),
    ("body:\n  object:\n    a: {path: x}\n    a: {path: y}", "test.yaml:4: body.object.a: duplicate key (YAML keeps only the last one)"),
    ("body:\n  object:\n    yes: {path: x}", "test.yaml:2: body.object: key True must be a string (quote it: YAML reads "
                                            "yes/no/on/off and numbers as other types)"),
    ("body: {object: {v: {path: a}}", "test.yaml:1: (top): YAML syntax error: while parsing a flow mapping: "
                                     "did not find expected ',' or '}' (noticed at line 2)"),
    ("body:\n  object:\n    a: {path: x\n    b: {path: y}\n", "test.yaml:3: (top): YAML syntax error: while parsing a "
                                                            "flow mapping: did not find expected ',' or '}' (noticed at line 4)"),
    ('body:\n  object:\n    a: {template: "x}\n    b: {path: y}\n', "test.yaml:3: (top): YAML syntax error: while scanning "
                                                                   "a quoted scalar: found unexpected end of stream (noticed at line 5)"),
    ("body:\n  object:\n    a: {path: x}\n   b: {path: y}\n", "test.yaml:4: (top): YAML syntax error: while parsing a "
                                                          "block mapping: did not find expected key"),
    ("", "test.yaml: (top): file is empty"),
    ("- just\n- a list", "test.yaml:1: (top): ['just', 'a list'] is not of type 'object'"),
    ("body: {object: {}}\nextra: 1", "test.yaml:2: extra: unknown key 'extra' (expected one of: description, let, request, body, validate, for_each, as)"),
    ("body: {object: {}}\nbdoy: 1", "test.yaml:2: bdoy: unknown key 'bdoy' (did you mean `body`?)"),
])
def test_event_file_mistakes(tmp_path: Path, event_yaml: str, expected: str) -> None:
    assert problems_of(tmp_path, event_yaml) == [expected]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems_of(tmp_path, """\
    body:
      object:
        a: {setting: nope}
        b: {path: $nope}
        c: {jmespath: "[["}
    """)
    assert [line.split(": ")[0] for line in found] == ["test.yaml:3", "test.yaml:4", "test.yaml:5"]


def test_destination_file_mistakes(tmp_path: Path) -> None:
    broken = BASE.replace("  uid: [userId, traits.id]", "  uid: [userId, $loop]\n  loop: [$uid]")
    broken = broken.replace("secrets: [key]", "secrets: [key, token]")
    broken = broken.replace("    mode: {enum: [a, b]}", "    mode: {enum: 3}")
    found = problems_of(tmp_path, "body: {object: {}}", broken)
    assert found == [
        "destination.yaml:9: settings.properties.mode.enum: not a valid JSON Schema: 3 is not of type 'array'",
        "destination.yaml:10: secrets[1]: unknown setting 'token'",
        "destination.yaml:12: paths.uid: path alias cycle: uid -> loop -> uid",
    ]


def test_dead_branches_are_load_errors(tmp_path: Path) -> None:
    routed = BASE.replace("events:\n  test: test.yaml", "events:\n  test: test.yaml\n  page: test.yaml\n  track: other.yaml")
    (tmp_path / "other.yaml").write_text("body: {object: {}}\n")
    found = problems_of(tmp_path, """\
    body:
      object:
        name:
          case: {var: event_type}
          values:
            page: {const: P}
            pgae: {const: typo}
            track: {const: routed elsewhere}
        by_mode:
          case: {setting: mode}
          values: {a: {const: A}, c: {const: C}}
        is_page: {const: 1, when: {equals: [{var: event_type}, {const: pagee}]}}
        is_mode: {const: 1, when: {equals: [{const: b}, {setting: mode}]}}
        either: {const: 1, when: {in: [{var: event_type}, {const: [test, tset]}]}}
    """, routed)
    assert found == [
        "test.yaml:7: body.object.name.values.pgae: this branch never runs: 'pgae' is not an event type this file is for "
        "(test, page) (did you mean `page`?)",
        "test.yaml:8: body.object.name.values.track: this branch never runs: 'track' is not an event type this file is for "
        "(test, page)",
        "test.yaml:11: body.object.by_mode.values.c: this branch never runs: 'c' is not a value setting mode may have (a, b)",
        "test.yaml:12: body.object.is_page.when.equals[1].const: never true: 'pagee' is not an event type this file is for "
        "(test, page) (did you mean `page`?)",
        "test.yaml:14: body.object.either.when.in[1].const[1]: never true: 'tset' is not an event type this file is for "
        "(test, page) (did you mean `test`?)",
    ]


@pytest.mark.parametrize("event_yaml, expected", [
    ("body:\n  object:\n    v: {setting: flg}", "test.yaml:3: body.object.v.setting: unknown setting 'flg' "
                                                "(the settings schema declares: flag, key, mode, other) (did you mean `flag`?)"),
    ("body:\n  object:\n    v: {const: 1, when: {setting: moed}}",
     "test.yaml:3: body.object.v.when.setting: unknown setting 'moed' (did you mean `mode`?)"),
    ("body:\n  object:\n    v: {path: $iud}", "test.yaml:3: body.object.v.path: unknown path alias $iud (declared: uid) "
                                                "(did you mean `uid`?)"),
    ("let:\n  base: {const: 1}\nbody: {var: bsae}", "test.yaml:3: body.var: unknown variable 'bsae': a rule may use only the let "
                                                     "bindings declared before it (base, event_type) (did you mean `base`?)"),
    ('body: {template: "{evnt_type}/{a}", vars: {a: {path: a}}}',
     "test.yaml:1: body.template: template names {evnt_type}, which is neither under vars nor a let binding declared "
     "before it (did you mean `event_type`?)"),
])
def test_unknown_names_suggest_the_closest(tmp_path: Path, event_yaml: str, expected: str) -> None:
    assert problems_of(tmp_path, event_yaml) == [expected]


def test_settings_errors_name_declared_settings(tmp_path: Path) -> None:
    worded = BASE.replace("secrets: [key]", "secrets: [kye]\nsettings_errors:\n  kye: no key\n  other: 'no other'")
    assert problems_of(tmp_path, "body: {object: {}}", worded) == [
        "destination.yaml:10: secrets[0]: unknown setting 'kye' (did you mean `key`?)",
        "destination.yaml:12: settings_errors.kye: unknown setting 'kye' (did you mean `key`?)",
    ]


def test_an_event_type_without_a_file_or_request(tmp_path: Path) -> None:
    no_request = BASE.replace("  method: POST\n", "").replace("events:\n  test: test.yaml", "events:\n  test: test.yaml\n  other: other.yaml")
    found = problems_of(tmp_path, "body: {object: {}}", no_request)
    assert found == ["test.yaml:1: request: no request method for event type 'test' (declare it here or in destination.yaml)",
                     "destination.yaml:19: events.other: no file 'other.yaml' in the mapping folder"]


def test_a_typo_in_a_request_method_rule_is_named(tmp_path: Path) -> None:
    for method, message in [("{cnst: POST}", "request.method.cnst: unknown key 'cnst' (did you mean `const`?)"),
                            ("PST", "request.method: 'PST' is not one of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] "
                                    "(did you mean `POST`?)")]:
        typo = BASE.replace("  method: POST", f"  method: {method}")
        line = typo.splitlines().index(f"  method: {method}") + 1
        assert problems_of(tmp_path, "body: {object: {}}", typo) == [f"destination.yaml:{line}: {message}"]


def test_a_misspelt_event_file_is_reported_where_destination_yaml_names_it(tmp_path: Path) -> None:
    typo = BASE.replace("events:\n  test: test.yaml", "events:\n  test: tets.yaml")
    line = typo.splitlines().index("  test: tets.yaml") + 1
    (tmp_path / "destination.yaml").write_text(typo)
    (tmp_path / "test.yaml").write_text("body: {object: {}}\n")
    with pytest.raises(MappingError) as caught:
        transformer.load(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path}/destination.yaml:{line}: events.test: no file 'tets.yaml' in the mapping folder (did you mean `test.yaml`?)"]


def test_an_unknown_key_in_destination_yaml_suggests_the_nearest(tmp_path: Path) -> None:
    typo = BASE.replace("secrets: [key]", "secrts: [key]")
    line = typo.splitlines().index("secrts: [key]") + 1
    assert problems_of(tmp_path, "body: {object: {}}", typo) == [
        f"destination.yaml:{line}: secrts: unknown key 'secrts' (did you mean `secrets`?)"]


def test_a_huge_mapping_file_is_refused_not_parsed(tmp_path: Path) -> None:
    huge = "body:\n  object:\n" + "".join(f"    k{i}: {{path: a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q}}\n" for i in range(250_000))
    assert len(huge) > 10_000_000
    [problem] = problems_of(tmp_path, huge)
    assert problem.startswith("test.yaml: (top): file is ") and "mapping files are limited to 1000000" in problem


def test_deeply_nested_yaml_is_one_problem(tmp_path: Path) -> None:
    nested = "body: " + "[" * 5000 + "]" * 5000
    [problem] = problems_of(tmp_path, nested)
    assert problem.startswith("test.yaml")


def test_unknown_destination_name() -> None:
    with pytest.raises(MappingError, match="no destination or mapping folder by that name"):
        transformer.load("nonexistent")
    with pytest.raises(MappingError, match="by that name \\(did you mean `kustomer`\\?\\)"):
        transformer.load("kustomr")


def test_schema_is_exposed_with_the_coercions_filled_in() -> None:
    schema: dict[str, Any] = transformer.mapping_schema()
    assert "url_escape" in schema["$defs"]["coercion"]["enum"]
    assert schema["$defs"]["expr"]["additionalProperties"] is False


def test_builtin_mappings_pass_check() -> None:
    for name in transformer.builtin_destinations():
        assert transformer.load(name).name == name


def test_validators_resolve_every_reference() -> None:
    from transformer.language.loader import _validators

    seen: set[int] = set()

    def refs(node: Any) -> int:
        if id(node) in seen:
            return 0
        seen.add(id(node))
        if isinstance(node, dict):
            return ("$ref" in node) + sum(refs(v) for v in node.values())
        if isinstance(node, list):
            return sum(refs(v) for v in node)
        return 0

    assert sum(refs(v.schema) for v in _validators()) == 0


MAPPING_FILES = sorted(Path(__file__).resolve().parent.parent.glob("mappings/*/*.yaml"))


@given(st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_fast_tests_of_mapping_files_agree_with_jsonschema(data: st.DataObject) -> None:
    """A mapping file is checked by a fast test, and by jsonschema only when it says no: on the
    bundled files, with parts replaced by parts of other files or by scalars, both agree."""
    from transformer.language.loader import _fast_tests, _validators
    from transformer.language.yamlsource import parse_yaml

    def parsed(path: Path) -> Any:
        source, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        assert source is not None
        return source.data

    tests = _fast_tests()
    assert tests is not None
    path = data.draw(st.sampled_from(MAPPING_FILES))
    document = parsed(path)
    other = parsed(data.draw(st.sampled_from(MAPPING_FILES)))
    replacements = (st.sampled_from([container[key] for container, key in _places(other)]).map(copy.deepcopy)
                    | st.none() | st.booleans() | st.integers(-2, 700) | st.floats(allow_nan=False)
                    | st.sampled_from(["", "x", "a.b", "$x", "GET", "iso", "lower", "t.yaml", "Bad Name"]))
    for _ in range(data.draw(st.integers(1, 3))):
        container, key = data.draw(st.sampled_from(_places(document)))
        container[key] = data.draw(replacements)
    which = 0 if path.name == "destination.yaml" else 1
    assert tests[which](document) == _validators()[which].is_valid(document)


def _places(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every value inside ``value``, however deep."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [place for key, child in items for place in [(value, key), *_places(child)]]


def test_schema_and_registries_name_the_same_directives_conditions_and_steps() -> None:
    """Each directive, condition and step lives in its family's registry and in the schema."""
    from transformer.language.conditions import CONDITIONS
    from transformer.language.directives import COMPANIONS, DIRECTIVES
    from transformer.language.steps import STEPS

    defs = transformer.mapping_schema()["$defs"]
    expr = defs["expr"]
    modifiers = {"when", "then", "default", "required"}
    companions = {key for keys in COMPANIONS.values() for key in keys}  # keys that go with a directive (vars...)
    assert set(expr["properties"]) - modifiers - companions == set(DIRECTIVES)
    assert companions <= set(expr["properties"])
    assert f"({', '.join(DIRECTIVES)})" in expr["description"]
    assert set(defs["condition"]["properties"]) == set(CONDITIONS)
    assert set(defs["step"]["properties"]) - {"when"} == set(STEPS)
