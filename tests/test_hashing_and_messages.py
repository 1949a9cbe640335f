"""Hashing of personal data, messages built from the event, and the traps outsiders fell into:
what docs/language/hashing-and-messages.md promises beyond its runnable examples."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import transformer
from transformer import cli
from transformer.language.functions import digits, email_canonical, phone_digits
from transformer.language.messages import QUOTED_CHARS, quoted
from transformer.runtime.explain import render

from .conftest import BASE, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
Make = Callable[..., transformer.Destination]
ADA_SHA256 = "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"  # sha256("ada@example.com")


def problems(make_destination: Make, event_yaml: str) -> list[str]:
    with pytest.raises(transformer.MappingError) as caught:
        make_destination(event_yaml)
    return [f"{Path(p.file).name}:{p.line}: {p.yaml_path}: {p.message}" for p in caught.value.problems]


def error_of(destination: transformer.Destination, event: dict[str, object]) -> str:
    with pytest.raises(transformer.TransformError) as caught:
        destination.transform({"type": "test", **event}, SETTINGS)
    assert caught.value.status_code == 400
    return caught.value.message


# -- hashing -------------------------------------------------------------------------------------

def test_normalisations_follow_meta() -> None:
    assert email_canonical("  Ada@Example.COM\t") == "ada@example.com"
    assert digits("+1 (616) 954-7888") == "16169547888"
    assert digits(16169547888) == "16169547888"
    assert phone_digits("00 44 20 7946 0000") == "442079460000"


def test_hash_digests_lists_and_values_hashed_upstream(body_of: Callable[..., object]) -> None:
    rule = """\
        object:
          em: {path: traits.email, then: [{hash: {digest: sha256, normalize: [trim, lower]}}]}
          ids: {path: traits.ids, then: [{hash: sha1}]}
          up: {path: traits.up, then: [{hash: md5}]}
          num: {path: traits.n, then: [{hash: sha256}]}
        """
    body = body_of(rule, {"traits": {"email": " ADA@example.com", "ids": ["ada", None, ""], "up": "8C8D357B5E872BBACD45197626BD5759",
                                     "n": 7}})
    assert body == {"em": ADA_SHA256, "ids": ["e4ea294c062c525643df036a35ca579b905fa400"],
                    "up": "8c8d357b5e872bbacd45197626bd5759",
                    "num": "7902699be42c8a8e46fbbb4501726517e86b22c56a189f7625a6da49081b2451"}
    # A 64-hex value is a hash only for sha256: md5 hashes it like any text.
    assert body_of("{path: h, then: [{hash: md5}]}", {"h": ADA_SHA256}) != ADA_SHA256


def test_hash_of_an_object_is_a_400_naming_the_rule(make_destination: Make) -> None:
    destination = make_destination("body:\n  object:\n    em: {path: traits.email, then: [{hash: sha256}]}\n")
    assert error_of(destination, {"traits": {"email": {"a": 1}}}).endswith(
        "test.yaml body.em: hash needs a string or a number, got object (from traits.email)")


def test_hash_misuse_is_a_load_error_with_line_and_path(make_destination: Make) -> None:
    found = problems(make_destination, "body:\n  object:\n    em: {path: e, then: [{hash: {digest: sha512}}]}\n")
    assert len(found) == 1 and "test.yaml:3: body.object.em.then[0].hash" in found[0]


def test_explain_never_shows_what_is_hashed(make_destination: Make) -> None:
    destination = make_destination("""\
        let:
          mail: {path: traits.email}
        body:
          object:
            em: {var: mail, then: [{hash: {digest: sha256, normalize: [email_canonical]}}]}
            ph: {first: [{path: traits.phone}], then: [{hash: {digest: sha256, normalize: [phone_digits]}}]}
            also: {path: traits.email, when: {setting: flag}}
        """)
    event = {"type": "test", "traits": {"email": "Ada@Example.com", "phone": "+1 616 954 7888"}}
    data = destination.explain(event, SETTINGS)
    text = json.dumps(data) + render(data)
    for plain in ("Ada@Example.com", "ada@example.com", "616 954", "16169547888"):
        assert plain not in text
    em = next(f for f in data["fields"] if f["field"] == "body.em")
    assert em["value"] == ADA_SHA256 and em["hashed_from"] == ["let mail", "traits.email"]
    assert "hashed from traits.phone (the plain value is not shown)" in render(data)
    assert "traits.phone: found [hashed]" in render(data)


# -- messages ------------------------------------------------------------------------------------

def test_quoted_values_are_bounded_and_escaped() -> None:
    assert quoted("a\nb\x00\u2028c") == "a\\nb\\x00\\u2028c"
    assert quoted("é" * (QUOTED_CHARS + 5)) == "é" * QUOTED_CHARS + "..."
    assert quoted({"a": [1, True]}) == '{"a":[1,true]}'
    assert quoted(1.5) == "1.5"


def test_a_message_quotes_lets_vars_and_event_type(make_destination: Make) -> None:
    destination = make_destination("""\
        let:
          name: {path: event}
        body:
          object:
            e: {path: properties.kind, required: "{event_type}: {{kind}} missing for {name}"}
        """)
    assert error_of(destination, {"event": "Ordered\r\n"}).endswith(
        "body.e: test: {kind} missing for Ordered\\r\\n (tried properties.kind)")
    assert error_of(destination, {}).endswith("body.e: test: {kind} missing for (none) (tried properties.kind)")


@pytest.mark.parametrize("event_yaml, where", [
    ('body:\n  object:\n    e: {path: a, required: "no a ({k})"}\nlet:\n  k: {template: "x{s}", vars: {s: {setting: key}}}\n',
     "test.yaml:3: body.object.e.required"),
    ("body:\n  object:\n    e:\n      path: a\n      required: {message: 'no a {k}', vars: {k: {first: [{path: b}, {setting: key}]}}}\n",
     "test.yaml:5: body.object.e.required"),
])
def test_a_message_may_never_quote_a_setting(make_destination: Make, event_yaml: str, where: str) -> None:
    assert problems(make_destination, event_yaml) == [
        f"{where}: an error message may not quote a setting (its value may be a secret); "
        "quote event values, or write the setting's name in the text"]


def test_a_setting_in_a_condition_of_a_message_is_allowed(make_destination: Make) -> None:
    destination = make_destination(
        "body:\n  object:\n    e: {path: a, required: {message: 'no a ({b})', vars: {b: {path: b, when: {setting: flag}}}}}\n")
    assert error_of(destination, {"b": "x"}).endswith("body.e: no a ((none)) (tried a)")


def test_tried_lists_only_what_was_read_in_order_once(make_destination: Make) -> None:
    destination = make_destination("""\
        body:
          object:
            u:
              first:
                - {path: $uid, when: {setting: flag}}
                - {path: [anonymousId, userId]}
                - {path: $uid}
              required: no user
        """)
    assert error_of(destination, {}).endswith("body.u: no user (tried anonymousId, userId, traits.id)")


def test_tried_through_a_let_and_inside_each(make_destination: Make) -> None:
    destination = make_destination("""\
        let:
          who: {path: [userId, anonymousId]}
        body:
          object:
            u: {var: who, required: no user}
            items:
              each: {path: properties.products}
              map: {path: [sku, id], from: {var: item}, required: "a product needs a sku: {item}"}
        """)
    assert error_of(destination, {}).endswith("body.u: no user (tried userId, anonymousId)")
    assert error_of(destination, {"userId": "u", "properties": {"products": [{"sku": "s"}, {"name": "n"}]}}).endswith(
        'body.items.map: a product needs a sku: {"name":"n"} (tried sku, id)')


# -- traps ---------------------------------------------------------------------------------------

def test_a_rule_shaped_default_is_a_load_error(make_destination: Make) -> None:
    found = problems(make_destination, "let:\n  x: {path: a}\nbody:\n  object:\n    n: {path: b, default: {var: x}}\n")
    assert len(found) == 1
    assert "test.yaml:5: body.object.n.default: default is a literal, and this one is shaped " \
        "like a rule (var: ...): it would be sent as written. To fall back to a rule, use first: [RULE, FALLBACK]" in found[0]


def test_case_else_runs_for_no_match_and_no_value(body_of: Callable[..., object]) -> None:
    rule = "{case: {path: k}, values: {a: {const: 1}}, else: {path: fallback}}"
    assert body_of(rule, {"k": "a", "fallback": 2}) == 1
    assert body_of(rule, {"k": "z", "fallback": 2}) == 2
    assert body_of(rule, {"fallback": 2}) == 2


def test_case_else_on_the_event_type(body_of: Callable[..., object]) -> None:
    assert body_of("{case: {var: event_type}, values: {}, else: {const: other}}", {}) == "other"


def test_omit_empty(body_of: Callable[..., object], make_destination: Make) -> None:
    rule = "{object: {o: {object: {a: {path: a}}, omit_empty: true}, p: {object: {a: {path: a}}}}}"
    assert body_of(rule, {}) == {"p": {}}
    assert body_of(rule, {"a": 1}) == {"o": {"a": 1}, "p": {"a": 1}}
    assert problems(make_destination, "body: {object: {a: {path: a}}, needs: [a], omit_empty: true}\n") == [
        "test.yaml:1: body.omit_empty: give needs or omit_empty, not both (omit_empty is needs with every key)"]


WARNED = """\
body:
  object:
    email:
      path: traits.email
      when: {matches: [{path: traits.email}, "@"]}
      required: an e-mail address is required
    strict: {path: a, when: {setting: flag}, required: a is required when flag is on}
"""


def test_check_warns_where_when_reads_the_paths_of_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "destination.yaml").write_text(BASE)
    (tmp_path / "test.yaml").write_text(WARNED)
    assert cli.main(["check", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"warning: {tmp_path / 'test.yaml'}:5: body.object.email.when: this when reads traits.email, "
                             "which the rule reads too")
    assert "{first: [{path: ..., when: ...}], required: ...}" in out[0]
    assert len(out) == 2 and out[1].startswith("ok: ")  # the setting's when is not warned about


@pytest.mark.parametrize("folder", [ROOT / "mappings" / "kustomer", ROOT / "mappings" / "segment",
                                    ROOT / "examples" / "mappings" / "braze"])
def test_the_shipped_mappings_have_no_warnings(folder: Path) -> None:
    assert transformer.load(folder).warnings == ()


def test_a_failing_rule_never_asks_a_look_up_twice(make_destination: Make) -> None:
    destination = make_destination("""\
        body:
          object:
            id:
              first:
                - lookup:
                    requests: [{kind: email, value: {path: traits.email}, endpoint: {const: "https://example.invalid/u"}}]
                    found: id
                - {path: userId}
              required: no customer
        """)
    asked: list[object] = []

    def lookup(request: dict[str, object]) -> tuple[int, object]:
        asked.append(request)
        return 404, None

    with pytest.raises(transformer.TransformError) as caught:
        destination.transform({"type": "test", "traits": {"email": "a@b.c"}}, SETTINGS, lookup=lookup)
    assert caught.value.message.endswith("body.id: no customer (tried userId)") and len(asked) == 1


def test_explain_hides_a_value_whose_hash_step_did_not_run(make_destination: Make) -> None:
    destination = make_destination(
        "body:\n  object:\n    em: {path: traits.email, then: [{hash: sha256, when: {setting: flag}}]}\n")
    data = destination.explain({"type": "test", "traits": {"email": "ada@example.com"}}, SETTINGS)
    assert "ada@example.com" not in json.dumps(data) + render(data)
    assert data["request"]["body"]["JSON"] == {"em": "[redacted]"}
