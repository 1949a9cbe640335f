"""Issue 20: a mapping file is input too (whatever it holds, load returns or raises MappingError,
quickly); patterns run in linear time; a Destination is safe to share between threads; integers
too long to write as JSON, and unusable look-up answers, are errors that name their source."""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transformer
from transformer import MappingError, TransformError

from .conftest import BASE, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
KUSTOMER = transformer.load("kustomer")
KUSTOMER_SETTINGS = {"apiKey": "key-abcdefgh12345"}
HUGE = 10 ** 4400


def load(folder: Path, event_yaml: str, destination_yaml: str = BASE) -> transformer.Destination:
    (folder / "destination.yaml").write_text(destination_yaml)
    (folder / "test.yaml").write_text(event_yaml)
    return transformer.load(folder)


# -- the loader ----------------------------------------------------------------------------------

NOT_JSON = {"2024-01-01": "YAML reads '2024-01-01' as a date", "2024-01-01 10:00:00": "YAML reads '2024-01-01T10:00:00' as a date",
            ".nan": "YAML's .nan is not a JSON number", ".inf": "YAML's .inf is not a JSON number",
            "-.inf": "YAML's .inf is not a JSON number", "!!binary aGk=": "a YAML !!binary value",
            "!!set {a, b}": "a YAML !!set value"}
# Where a mapping holds a value (a constant, every numeric setting of the language), as event-file
# and destination.yaml texts with a {} slot; each gives a load error at the slot's line.
IN_EVENT_FILE = ["body: {object: {v: {const: X}}}", "body: {object: {v: {path: a, default: X}}}",
                 "body: {object: {v: {path: a, then: [{truncate: {chars: X}}]}}}",
                 "body: {object: {}}\nvalidate:\n  - schema: {properties: {v: {maximum: X}}}",
                 "body: {object: {}}\nvalidate:\n  - schema: {properties: {v: {const: [1, {a: X}]}}}"]
IN_DESTINATION = ["max_body_bytes: X", "delivery: {timeout_seconds: X}", "delivery: {retry: {backoff_seconds: X}}",
                  "delivery: {retry: {max_wait_seconds: X, tries: 3}}", "delivery: {retry: {tries: X}}",
                  "delivery: {rate_limit: {requests: 10, per_seconds: X}}", "delivery: {rate_limit: {requests: X, per_seconds: 1}}",
                  "batch: {endpoint: {const: x}, key: b, max_events: X, max_request_bytes: 10, max_event_bytes: 10}"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slot=st.sampled_from([("test.yaml", text) for text in IN_EVENT_FILE] + [("destination.yaml", text) for text in IN_DESTINATION]),
       value=st.sampled_from(sorted(NOT_JSON)))
def test_a_value_that_is_not_json_is_a_load_error_naming_it(tmp_path: Path, slot: tuple[str, str], value: str) -> None:
    file_name, text = slot
    event_yaml = text.replace("X", value) + "\n" if file_name == "test.yaml" else "body: {object: {v: {path: a}}}\n"
    destination_yaml = BASE + text.replace("X", value) + "\n" if file_name == "destination.yaml" else BASE
    with pytest.raises(MappingError) as caught:
        load(tmp_path, event_yaml, destination_yaml)
    [problem] = caught.value.problems
    assert problem.file.endswith(file_name) and NOT_JSON[value] in problem.message
    line = (event_yaml if file_name == "test.yaml" else destination_yaml).splitlines()[problem.line - 1]
    assert value.split()[0] in line


def _let_chain(links: int, shape: str) -> str:
    """``links`` lets, each using the one before twice (in a template, a first, an object...)."""
    uses = {"template": "{{template: \"{{{p}}}{{{p}}}\"}}", "first": "{{first: [{{var: {p}}}, {{var: {p}}}]}}",
            "object": "{{object: {{a: {{var: {p}}}, b: {{var: {p}}}}}}}", "list": "{{list: [{{var: {p}}}, {{var: {p}}}]}}",
            "concat": "{{concat: [{{var: {p}}}, {{var: {p}}}]}}"}[shape]
    lets = "".join(f"  l{i}: {uses.format(p=f'l{i - 1}')}\n" for i in range(1, links + 1))
    return f"let:\n  l0: {{path: a}}\n{lets}body: {{object: {{v: {{var: l{links}}}}}}}\n"


REGEXES = ["a{4294967296}", "a{1001}", "(a+)+$", "(\\w+\\s?)*$", "(a)\\1", "(?=a)", "(", "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"]
PATTERN_SLOTS = ["body: {object: {v: {const: 1, when: {matches: [{path: a}, 'R']}}}}",
                 "body: {object: {v: {path: a, then: [{replace: {regex: 'R', with: ''}}]}}}",
                 "body: {object: {}}\nvalidate:\n  - schema: {properties: {v: {pattern: 'R'}}}",
                 "body: {object: {}}\nvalidate:\n  - schema: {patternProperties: {'R': {}}}"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.one_of(st.tuples(st.integers(1, 40), st.sampled_from(["template", "first", "object", "list", "concat"]))
                      .map(lambda c: (_let_chain(*c), BASE)),
                      st.tuples(st.sampled_from(PATTERN_SLOTS), st.sampled_from(REGEXES))
                      .map(lambda c: (c[0].replace("R", c[1]) + "\n", BASE)),
                      st.sampled_from(REGEXES).map(lambda r: ("body: {object: {v: {path: a}}}\n",
                                                              BASE.replace("mode: {enum: [a, b]}", f"mode: {{type: string, pattern: '{r}'}}")))))
def test_any_mapping_loads_or_is_a_mapping_error_quickly(tmp_path: Path, case: tuple[str, str]) -> None:
    """Exponential let chains, huge repeat counts, patterns RE2 refuses or that backtrack in re."""
    start = time.monotonic()
    try:
        load(tmp_path, *case)
    except MappingError:
        pass
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("text", [(".nan"), ("2024-01-01")])
def test_a_settings_schema_default_that_is_not_json_is_a_load_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(MappingError, match="settings.properties.flag.default"):
        load(tmp_path, "body: {object: {}}\n", BASE.replace("flag: {type: boolean, default: false}", f"flag: {{default: {text}}}"))


def test_a_settings_pattern_re2_cannot_run_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as caught:
        load(tmp_path, "body: {object: {}}\n", BASE.replace("mode: {enum: [a, b]}", "mode: {pattern: 'a{4294967296}'}"))
    assert [f"{p.line}: {p.yaml_path}: {p.message}" for p in caught.value.problems] == [
        "9: settings.properties.mode.pattern: not a valid JSON Schema: the regular expression 'a{4294967296}' repeats "
        "4,294,967,296 times, over the limit of 1,000"]


# -- linear-time patterns --------------------------------------------------------------------------

BACKTRACKS = "a@" + "a." * 32_000 + "@"  # 64,003 characters: 19 s in re's backtracking, per pattern


def test_the_braze_email_pattern_runs_in_linear_time() -> None:
    braze = transformer.load(ROOT / "examples" / "mappings" / "braze")
    braze_settings = yaml.safe_load((ROOT / "examples" / "braze-settings.yaml").read_text())
    start = time.monotonic()
    [result] = braze.process([{"message": {"type": "identify", "traits": {"email": BACKTRACKS}},
                               "destination": {"Config": braze_settings}}])
    assert time.monotonic() - start < 1
    assert result["statusCode"] == 400 and "traits.email" in result["error"]  # not an e-mail: no identifier


@pytest.mark.parametrize("slot", PATTERN_SLOTS[:3] + ["body: {object: {v: {path: a}}}"])
def test_patterns_applied_to_events_and_settings_run_in_linear_time(tmp_path: Path, slot: str) -> None:
    pattern = "^(a|a)+$" if "validate" in slot or "matches" in slot else "(a|a)+b"
    destination_yaml = BASE.replace("mode: {enum: [a, b]}", "mode: {type: string, pattern: '^(a|a)+$'}")
    destination = load(tmp_path, slot.replace("R", pattern) + "\n", destination_yaml)
    text = "a" * 5_000 + "!"  # exponential in re
    start = time.monotonic()
    results = destination.process([{"message": {"type": "test", "a": text}, "destination": {"Config": SETTINGS}},
                                   {"message": {"type": "test", "a": "x"}, "destination": {"Config": {**SETTINGS, "mode": text}}}])
    assert time.monotonic() - start < 1
    assert results[1]["statusCode"] == 400 and "setting mode must match the pattern" in results[1]["error"]


# -- threads -------------------------------------------------------------------------------------

@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_a_destination_shared_by_threads_gives_the_sequential_results(tiny_switch_interval: None) -> None:
    """Eight threads, a thread switch every microsecond, 300 distinct settings (more than the
    settings cache holds, so it evicts all the time): every result equals the sequential one."""
    inputs = [[{"message": {"type": "track", "userId": f"u{i}", "event": "Order Completed", "properties": {"n": i}},
                "destination": {"Config": {"apiKey": f"key-{thread}-{i % 300}-abcdefgh"}}} for i in range(600)]
              for thread in range(8)]
    expected = [KUSTOMER.process(batch) for batch in inputs]
    got: list[Any] = [None] * len(inputs)

    def run(index: int) -> None:
        got[index] = KUSTOMER.process(inputs[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert got == expected


# -- integers too long for JSON, unusable look-up answers, explain ------------------------------------

@pytest.mark.parametrize("event, field", [({"type": "identify", "userId": HUGE}, "userId"),
                                          ({"type": "track", "userId": "u", "event": "E", "properties": {"n": [1, HUGE]}},
                                           "properties.n.1")])
def test_an_integer_too_long_for_json_is_a_400_naming_the_field(event: dict[str, Any], field: str) -> None:
    [result] = KUSTOMER.process([{"message": event, "destination": {"Config": KUSTOMER_SETTINGS}}])
    assert result == {"error": f"kustomer: the event holds an integer of more than 4,300 digits at {field}, which cannot "
                               "be written as JSON", "statusCode": 400, "metadata": None}


def test_an_integer_too_long_for_json_in_settings_is_a_400() -> None:
    with pytest.raises(TransformError, match="the settings holds an integer of more than 4,300 digits at x") as caught:
        transformer.load("segment").transform({"type": "track", "userId": "u", "event": "E"}, {"writeKey": "wk-1234", "x": HUGE})
    assert caught.value.status_code == 400


class RaisingList(list):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        raise RuntimeError("hostile")

    def __len__(self) -> int:
        raise RuntimeError("hostile")


IDENTIFY = {"type": "identify", "anonymousId": "an", "traits": {"email": "ada@example.com"}}


@pytest.mark.parametrize("answer, reason", [
    ((200, {"data": {"id": 10 ** 5000}}), "answered 200 with data.id that is an integer too long to write as JSON"),
    ((200, transformer.Found(HUGE)), "that is an integer too long to write as JSON"),
    (RaisingList([200, {}]), "the lookup function must return (status_code, body)"),
    ((200, RaisingList([1])), "answered 200 with"),
])
def test_an_unusable_lookup_answer_is_a_502_naming_the_lookup(answer: Any, reason: str) -> None:
    lookup: Callable[[dict[str, Any]], Any] = lambda request: answer  # noqa: E731
    [result] = KUSTOMER.process([{"message": IDENTIFY, "destination": {"Config": KUSTOMER_SETTINGS}}], lookup=lookup)
    assert result["statusCode"] == 502 and reason in result["error"] and "look-up email" in result["error"]


class GetRaises(dict):  # type: ignore[type-arg]
    def get(self, *args: Any) -> Any:
        raise RuntimeError("hostile")


def test_explain_tells_a_dict_subclass_whose_get_raises_as_process_does() -> None:
    message = GetRaises({"type": "track", "userId": "u", "event": "E"})
    [result] = KUSTOMER.process([{"message": message, "destination": {"Config": KUSTOMER_SETTINGS}}])
    explained = KUSTOMER.explain(message, KUSTOMER_SETTINGS)
    assert explained["error"] == {"message": result["error"], "status_code": 400}


def test_a_template_chain_that_doubles_its_text_is_a_400_not_the_process_memory(tmp_path: Path) -> None:
    """32 lets, each a template quoting the one before twice: it loads, and an event stops with a
    400 naming the rule once the text passes the limit (2**32 times the input otherwise)."""
    lets = "".join(f"  l{i}: {{template: \"{{l{i - 1}}}{{l{i - 1}}}\"}}\n" for i in range(1, 33))
    destination = load(tmp_path, "let:\n  l0: {path: a}\n" + lets + "body: {object: {v: {var: l32}}}\n")
    with pytest.raises(transformer.TransformError) as caught:
        destination.transform({"type": "test", "a": "x" * 1000}, SETTINGS)
    assert caught.value.status_code == 400
    assert "over the limit of 1,000,000" in caught.value.message and "let.l" in caught.value.message
    assert destination.transform({"type": "test", "a": ""}, SETTINGS)["body"]["JSON"] == {}  # empty text gives nothing


def test_a_jmespath_ordering_of_a_string_against_a_number_is_a_400_naming_the_rule(tmp_path: Path) -> None:
    """The jmespath library raises TypeError for `'' > 1`: an event's error, not a 500."""
    destination = load(tmp_path, "body: {object: {v: {jmespath: 'a[?b > `1`]'}}}\n")
    with pytest.raises(transformer.TransformError) as caught:
        destination.transform({"type": "test", "a": [{"b": ""}]}, SETTINGS)
    assert caught.value.status_code == 400 and "body.v" in caught.value.message
    assert "compared a string with a number" in caught.value.message
    assert destination.transform({"type": "test", "a": [{"b": 2}]}, SETTINGS)["body"]["JSON"] == {"v": [{"b": 2}]}
