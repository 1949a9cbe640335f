"""explain about one field (--field, Destination.explain(field=...)) and its leading summary."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer import cli
from transformer.runtime.explain import render

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"apiKey": "k-1"}
IDENTIFY = {"type": "identify", "userId": "u-1", "traits": {"email": "a@b.example", "name": "Ann"}}


def _lookup(request: dict[str, Any]) -> tuple[int, Any]:
    return 404, None


def test_one_fields_trace_in_python() -> None:
    kustomer = transformer.load("kustomer")
    whole = kustomer.explain(IDENTIFY, SETTINGS, lookup=_lookup)
    one = kustomer.explain(IDENTIFY, SETTINGS, lookup=_lookup, field="body.emails")
    assert [entry["field"] for entry in one["fields"]] == ["body.emails"] and one["selected"] == "body.emails"
    assert one["fields"][0] == next(entry for entry in whole["fields"] if entry["field"] == "body.emails")
    # A field inside a rule's value leads to that rule; a parent leads to every field below it.
    assert kustomer.explain(IDENTIFY, SETTINGS, lookup=_lookup, field="body.emails.0.email")["fields"] == one["fields"]
    below = kustomer.explain(IDENTIFY, SETTINGS, lookup=_lookup, field="body")["fields"]
    assert len(below) > 10 and all(entry["field"].startswith("body.") for entry in below)
    with pytest.raises(ValueError, match=r"gives the field 'body.emial' \(did you mean `body.email`\?\)"):
        kustomer.explain(IDENTIFY, SETTINGS, lookup=_lookup, field="body.emial")


def test_the_text_leads_with_a_summary_and_field_shows_one_trace() -> None:
    kustomer = transformer.load("kustomer")
    whole = render(kustomer.explain(IDENTIFY, SETTINGS, lookup=_lookup)).splitlines()
    assert whole[1] == "summary: POST https://api.kustomerapp.com/v1/customers; 7 sent, 27 left out; look-ups answered 404, 404"
    assert whole[2].startswith("sent: body.name, body.externalId, body.emails")
    one = render(kustomer.explain(IDENTIFY, SETTINGS, lookup=_lookup, field="body.email")).splitlines()
    assert len(one) < 15 < len(whole) / 10  # about one field, not the whole request and every rule
    assert "body.email: left out (skipped: condition false)" in one and '"version": "1",' not in one


def test_explain_field_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    event = tmp_path / "identify.json"
    event.write_text('{"type": "identify", "userId": "u-1", "traits": {"email": "a@b.example"}}')
    args = ["explain", "-d", "kustomer", "-s", "examples/kustomer-settings.yaml", str(event)]
    assert cli.main([*args, "--lookups", "examples/kustomer-lookups.json", "--field", "body.emails"]) == 0
    out = capsys.readouterr().out
    assert "\nbody.emails = [" in out and "\nbody.name" not in out
    assert cli.main([*args, "--field", "body.emial"]) == 2
    assert "(did you mean `body.email`?)" in capsys.readouterr().err
