"""Destination.explain and `transformer explain`: which rule gave each field, from where, and what was tried."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer import cli
from transformer.runtime.explain import render as render_explanation

from .conftest import BASE, SETTINGS

ROOT = Path(__file__).resolve().parent.parent

EVENT_FILE = """\
let:
  user: {path: $uid}
body:
  object:
    user: {var: user}
    name:
      first:
        - {const: Everyone, when: {setting: flag}}
        - {path: [traits.name, traits.nick, traits.handle, traits.login]}
      default: anonymous
    email: {path: traits.email, when: {setting: other}}
    plan:
      lookup:
        requests:
          - kind: email
            value: {path: traits.email}
            endpoint: {template: "https://example.invalid/users/{e}", vars: {e: {path: traits.email}}}
        found: data.plan
"""


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if fragment in line)


def field(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in data["fields"] if f["field"] == name)


@pytest.fixture
def demo(make_destination: Callable[..., transformer.Destination]) -> transformer.Destination:
    return make_destination(EVENT_FILE)


def lookup(request: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"data": {"plan": "gold"}}


EVENT = {"type": "test", "traits": {"id": "u-7", "name": None, "nick": "", "handle": "ada", "email": "a@b.example"}}


def test_each_field_names_its_rule_line_and_source(demo: transformer.Destination) -> None:
    data = demo.explain(EVENT, SETTINGS, lookup=lookup)
    request = demo.transform(EVENT, SETTINGS, lookup=lookup)
    assert data["request"] == {**request, "headers": {"Authorization": "[redacted]"}}  # secrets never shown
    assert (data["destination"], data["event_type"], data["file"]) == ("demo", "test", "test.yaml")
    user = field(data, "body.user")
    assert (user["file"], user["line"], user["rule"], user["value"]) == ("test.yaml", line_of(EVENT_FILE, "user: {var"), "body.user", "u-7")
    assert user["source"] == ["let user", "traits.id"]  # the binding, and the path that gave it ($uid: userId, traits.id)
    name = field(data, "body.name")
    assert (name["value"], name["source"], name["line"]) == ("ada", ["traits.handle"], line_of(EVENT_FILE, "name:"))
    # first: the item skipped on its condition, then the candidate paths and why each was passed over
    assert [(t.get("rule") or t.get("condition") or t.get("path"), t["result"]) for t in name["tried"]] == [
        ("body.name.first[0]", "skipped: condition false"),
        ("{setting: flag}", False),
        ("body.name.first[1]", 'gave "ada"'),
        ("traits.name", "null"),
        ("traits.nick", "empty"),
        ("traits.handle", 'found "ada"'),
    ]
    assert name["tried"][0]["line"] == line_of(EVENT_FILE, "- {const: Everyone")
    email = field(data, "body.email")
    assert (email["result"], email["why"]) == ("left out", "skipped: condition false")
    plan = field(data, "body.plan")
    assert plan["value"] == "gold"
    assert plan["source"] == ["look-up email (GET https://example.invalid/users/a@b.example: 200)"]
    assert data["lookups"] == [{"kind": "email", "value": "a@b.example", "request": "GET https://example.invalid/users/a@b.example",
                                "status": 200}]
    auth = field(data, "headers.Authorization")
    assert (auth["file"], auth["source"], auth["value"]) == ("destination.yaml", ["setting key"], "[redacted]")


def test_secrets_never_appear(demo: transformer.Destination) -> None:
    data = demo.explain(EVENT, SETTINGS, lookup=lookup)
    assert SETTINGS["key"] not in json.dumps(data)
    assert data["request"]["headers"]["Authorization"] == "[redacted]"


def test_an_error_is_explained_up_to_where_it_stopped(make_destination: Callable[..., transformer.Destination]) -> None:
    destination = make_destination("""\
    body:
      object:
        user: {path: userId}
        event: {path: [event, properties.event], required: needs an event name}
    """)
    data = destination.explain({"type": "test", "userId": "u-1", "properties": {"event": None}}, SETTINGS)
    assert data["error"] == {"message": "demo test: test.yaml body.event: needs an event name (tried event, properties.event)",
                             "status_code": 400}
    assert "request" not in data
    assert field(data, "body.user")["value"] == "u-1"
    event = field(data, "body.event")
    assert event["result"] == "error"
    assert [(t["path"], t["result"]) for t in event["tried"]] == [("event", "missing"), ("properties.event", "null")]


def test_a_case_without_a_branch_for_the_value_says_so(make_destination: Callable[..., transformer.Destination]) -> None:
    destination = make_destination("""\
    body:
      object:
        channel:
          case: {path: channel}
          values: {web: {const: browser}}
    """)
    channel = field(destination.explain({"type": "test", "channel": "tv"}, SETTINGS), "body.channel")
    assert (channel["result"], channel["why"]) == ("left out", 'gave nothing: no branch under values for "tv"')


def test_an_event_that_cannot_be_dispatched(demo: transformer.Destination) -> None:
    data = demo.explain({"type": "nope"}, SETTINGS)
    assert data["error"]["status_code"] == 400 and "not supported" in data["error"]["message"]
    assert data["fields"] == []


def test_transform_never_runs_the_tracing_code(demo: transformer.Destination) -> None:
    plan = demo._mapping.plans["test"]
    sources = [plan.body.__doc__, plan.method.fn.__doc__, plan.endpoint.fn.__doc__]
    assert all(source and "tr.append" not in source and "TRACE" not in source for source in sources)
    assert demo._tracer._plans is None  # generated on the first explain only
    demo.explain(EVENT, SETTINGS, lookup=lookup)
    assert demo._tracer._plans is not None
    traced = demo._tracer._plans["test"].body
    assert traced is not None and "tr.append" in str(traced.__doc__)


def test_cli_explain_prints_request_and_fields(tmp_path: Path, make_destination: Callable[..., transformer.Destination],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    destination = make_destination(EVENT_FILE)
    (tmp_path / "s.yaml").write_text(f"key: {SETTINGS['key']}\n")
    (tmp_path / "e.json").write_text(json.dumps(EVENT))
    (tmp_path / "l.json").write_text(json.dumps({"https://example.invalid/users/a@b.example": {"status": 200, "body": {"data": {"plan": "gold"}}}}))
    args = ["explain", "-d", str(destination.folder), "-s", str(tmp_path / "s.yaml"), "--lookups", str(tmp_path / "l.json"),
            str(tmp_path / "e.json")]
    assert cli.main(args) == 0
    out, err = capsys.readouterr()
    assert f"transformer: demo from {destination.folder}" in err
    head, summary, sent, brace = out.splitlines()[:4]
    assert (head, brace) == ("demo test event, rules in test.yaml", "{")
    assert summary.startswith("summary: POST https://example.invalid/events; 6 sent, 1 left out; look-ups answered 200")
    assert sent.startswith("sent: ") and sent.endswith(" (one field's trace: --field NAME)")
    assert f'body.name = "ada"\n  test.yaml:{line_of(EVENT_FILE, "name:")}  body.name  {{first: [{{const: Everyone' in out
    first, second = line_of(EVENT_FILE, "- {const"), line_of(EVENT_FILE, "- {path")
    assert "\n".join([
        "  from traits.handle",
        f"    body.name.first[0] (test.yaml:{first}) {{const: Everyone, when: {{setting: flag}}}}: skipped: condition false",
        f"      when {{setting: flag}} (test.yaml:{first}): false",
        f"    body.name.first[1] (test.yaml:{second}) {{path: [traits.name, traits.nick, traits.handle, traits.login]}}: gave \"ada\"",
        "      traits.name: null",
        "      traits.nick: empty",
        "      traits.handle: found \"ada\"",
    ]) in out
    assert "look-up email: GET https://example.invalid/users/a@b.example -> 200" in out
    assert SETTINGS["key"] not in out
    assert cli.main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["request"]["body"]["JSON"]["plan"] == "gold"
    (tmp_path / "e.json").write_text(json.dumps({"type": "other"}))
    assert cli.main(args[:-1] + [str(tmp_path / "e.json")]) == 1  # an event error: exit 1, still explained
    assert "error 400" in capsys.readouterr().out
    (tmp_path / "e.json").write_text("{not json")
    assert cli.main(args) == 2
    assert "not one JSON event" in capsys.readouterr().err


class _Raising(dict):  # type: ignore[type-arg]
    def get(self, *args: Any) -> Any:
        raise RuntimeError("boom")


@pytest.mark.parametrize("message", [
    [1, 2], None, {"type": 5}, {"type": "test", "traits": {"name": float("nan")}},
    {"type": "test", "traits": _Raising(name="x")},
    {"type": "test", "traits": {"id": "u", "handle": {"a": {"b": [1, {"c": None}]}}}},
], ids=["list", "none", "type-not-a-string", "nan", "raising-get", "nested"])
def test_explain_never_raises_and_its_data_is_json(demo: transformer.Destination, message: Any) -> None:
    data = demo.explain(message, SETTINGS, lookup=lookup)
    assert ("request" in data) != ("error" in data)
    json.dumps(data)


def test_explain_shows_deep_values_cut_short(demo: transformer.Destination) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(3000):
        node["a"] = {}
        node = node["a"]
    data = demo.explain({"type": "test", "traits": {"handle": deep}}, SETTINGS, lookup=lookup)
    assert "nested deeper than 100 levels" in data["error"]["message"]
    assert "(nested too deeply to show)" in json.dumps(data)


@pytest.mark.parametrize("mode", [[], ["--json"]], ids=["text", "json"])
def test_cli_explain_of_an_event_not_unicode_is_escaped_and_exit_1(tmp_path: Path, mode: list[str]) -> None:
    """A lone surrogate escape in a value or a key once crashed explain's output (a traceback):
    it is shown as the escape, and the event is the error `run` makes it (exit 1)."""
    (tmp_path / "s.yaml").write_text("apiKey: explain-secret-1\n")
    (tmp_path / "e.json").write_text('{"type":"track","userId":"u","event":"e","properties":{"\\udc00k":"v\\ud83d"}}')
    done = subprocess.run([sys.executable, "-m", "transformer", "explain", "-d", "kustomer", "-s", str(tmp_path / "s.yaml"),
                           str(tmp_path / "e.json"), *mode], capture_output=True, timeout=60, check=False,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    out = done.stdout.decode("utf-8")  # strict: every byte written is UTF-8
    assert "\\udc00k" in out and "not valid Unicode" in out
    if mode:
        assert json.loads(out)["error"]["status_code"] == 400


def test_cli_explain_names_the_file_of_each_rule_tried(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Under "rules in tracking.yaml", `let.base (line 42)` was really destination.yaml:42."""
    (tmp_path / "s.yaml").write_text("apiKey: explain-secret-2\n")
    (tmp_path / "e.json").write_text(json.dumps({"type": "track", "userId": "u", "event": "e"}))
    assert cli.main(["explain", "-d", "kustomer", "-s", str(tmp_path / "s.yaml"), str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("kustomer track event, rules in tracking.yaml\n")
    assert "(line " not in out
    assert "    let.base (destination.yaml:" in out and "    let.user (tracking.yaml:" in out


# -- secrets: redacted by what a value is, never by searching text ------------------------------

def _engine_text(data: dict[str, Any]) -> Any:
    """What the engine writes in an explanation, its values left aside: keys, names, rules, files."""
    def step(s: dict[str, Any]) -> Any:
        return (s["depth"], s.get("rule") or s.get("condition") or s.get("path"), s.get("file"), s.get("line"), sorted(s))
    request = data.get("request", {})
    return (sorted(data), data["destination"], data["event_type"], data["file"],
            {part: sorted(request.get(part, {})) for part in ("headers", "params")}, sorted(request),
            [(f["field"], f["file"], f["line"], f["rule"], f["spec"], f["result"], f.get("source"), sorted(f),
              [step(s) for s in f["tried"]]) for f in data["fields"]])


KUSTOMER_TRACK = {"type": "track", "userId": "u-1", "event": "Clicked", "properties": {"plan": "pro"}}
SEGMENT_TRACK = {"type": "track", "userId": "u-1", "event": "Clicked", "properties": {"plan": "pro"}}


@pytest.mark.parametrize("name, key, event, header", [
    ("kustomer", "apiKey", KUSTOMER_TRACK, lambda s: f"Bearer {s}"),
    ("segment", "writeKey", SEGMENT_TRACK, lambda s: "Basic " + base64.b64encode(f"{s}:".encode()).decode()),
], ids=["kustomer", "segment"])
@pytest.mark.parametrize("secret", ["k", "track", "e", "sk-Live-Secret-0042"])
def test_a_secret_of_any_length_never_damages_keys_or_text_and_never_shows(
        name: str, key: str, event: dict[str, Any], header: Callable[[str], str], secret: str) -> None:
    """A one-letter apiKey `k` once turned the key `lookups` into `loo[redacted]ups` (and the text
    mode crashed on it): only values derived from a secret are redacted, whole."""
    destination = transformer.load(name)
    data = destination.explain(event, {key: secret})
    control = destination.explain(event, {key: "zz-control-0"})
    assert _engine_text(data) == _engine_text(control)  # keys, field names, rules, files: all intact
    assert data["request"]["headers"]["Authorization"] == "[redacted]"
    assert field(data, "headers.Authorization")["value"] == "[redacted]"
    text = render_explanation(data)
    assert text.startswith(f"{name} track event, rules in ")
    shown = json.dumps(data) + text
    credential = header(secret)
    assert credential not in shown  # "Bearer k", "Basic azo="
    assert credential.partition(" ")[2] not in shown or credential.partition(" ")[2] == secret  # base64("k:") too
    if len(secret) > 5:  # a long secret appears nowhere at all (a short one is in many a word)
        assert secret not in shown
    # The request itself, and transform's output, keep the real credential.
    assert destination.transform(event, {key: secret})["headers"]["Authorization"] == credential


SECRET_USES = """\
let:
  token: {template: "t-{k}", vars: {k: {setting: key}}}
body:
  object:
    auth: {var: token}
    echo: {path: properties.echo}
    handle: {path: traits.handle}
    kind:
      case: {setting: key}
      values: {other: {const: x}}
    plan:
      lookup:
        requests:
          - kind: email
            value: {path: traits.email}
            endpoint: {template: "https://example.invalid/users/{e}?key={k}", vars: {e: {path: traits.email}, k: {setting: key}}}
        found: data.plan
"""


def test_values_derived_from_a_secret_are_redacted_whole(make_destination: Callable[..., transformer.Destination]) -> None:
    destination = make_destination(SECRET_USES, BASE.replace("    Authorization:", "    X-Echo: {path: properties.echo}\n    Authorization:"))
    event = {"type": "test", "traits": {"handle": "ada", "email": "a@b.example"}, "properties": {"echo": "say k-9"}}
    data = destination.explain(event, {"key": "k-9"}, lookup=lookup)
    auth = field(data, "body.auth")
    assert (auth["value"], auth["source"][0]) == ("[redacted]", "let token")  # derived through a let
    assert [t["result"] for t in auth["tried"]] == ['gave "[redacted]"', 'gave "[redacted]"']
    assert data["request"]["body"]["JSON"]["auth"] == "[redacted]"
    kind = field(data, "body.kind")
    assert kind["why"] == 'gave nothing: no branch under values for "[redacted]"'
    assert field(data, "body.handle")["value"] == "ada"
    assert field(data, "body.echo")["value"] == "say k-9"  # the event's own data in the body, as sent
    # an endpoint, header or parameter holding the secret is redacted whole, however it got there
    assert data["request"]["headers"] == {"X-Echo": "[redacted]", "Authorization": "[redacted]"}
    assert field(data, "headers.X-Echo")["value"] == "[redacted]"
    # a look-up's URL shows as in messages; its answer is not derived from the secret
    assert data["lookups"][0]["request"] == "GET https://example.invalid/users/a@b.example?key=[redacted]"
    assert field(data, "body.plan")["value"] == "gold" and data["request"]["body"]["JSON"]["plan"] == "gold"
    for shown in (json.dumps(data), render_explanation(data)):  # the secret only where the event itself holds it
        assert "k-9" not in shown.replace("say k-9", "")


@pytest.mark.parametrize("mode", [[], ["--json"]], ids=["text", "json"])
@pytest.mark.parametrize("secret", ["k", "track", "e"])
def test_cli_explain_with_a_short_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str], secret: str,
                                         mode: list[str]) -> None:
    (tmp_path / "s.yaml").write_text(f"writeKey: {secret}\n")
    (tmp_path / "e.json").write_text(json.dumps(SEGMENT_TRACK))
    assert cli.main(["explain", "-d", "segment", "-s", str(tmp_path / "s.yaml"), str(tmp_path / "e.json"), *mode]) == 0
    out = capsys.readouterr().out
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    assert basic not in out and "[redacted]" in out
    if mode:
        data = json.loads(out)
        assert sorted(data) == ["destination", "event_type", "fields", "file", "lookups", "request"]
        assert data["request"]["body"]["JSON"]["type"] == "track"
    else:
        assert out.startswith("segment track event, rules in track.yaml\n") and "\nbody.type = \"track\"\n" in out
    # run's output carries the real credential: only explain redacts
    assert cli.main(["run", "-d", "segment", "-s", str(tmp_path / "s.yaml"), str(tmp_path / "e.json")]) == 0
    assert json.loads(capsys.readouterr().out)["output"]["headers"]["Authorization"] == f"Basic {basic}"
