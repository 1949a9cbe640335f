"""--lookups FILE whose entries match no look-up: run, explain and send say so, naming the first
URLs asked, and send refuses what a miss would decide until an entry has matched."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_http import KEY, new_api
from transformer import cli
from transformer.cli import common


@pytest.fixture(autouse=True)
def _normal_verbosity() -> Any:
    yield
    common.set_verbosity(common.NORMAL)


def _files(tmp_path: Path, base: str, answers: dict[str, Any]) -> tuple[Path, Path, Path]:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"apiKey": KEY, "baseEndpoint": base}))
    lookups = tmp_path / "lookups.json"
    lookups.write_text(json.dumps(answers))
    events = tmp_path / "events.ndjson"
    events.write_text("".join(json.dumps({"type": "identify", "userId": f"u-{n}", "traits": {"email": f"e{n}@x.example"}})
                              + "\n" for n in range(5)))
    return settings, lookups, events


def test_run_and_explain_warn_when_no_entry_matched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings, lookups, events = _files(tmp_path, "https://test-server.example", {
        "https://api.kustomerapp.com/v1/customers/email=e0@x.example": {"status": 200, "body": {"data": {"id": "c"}}}})
    assert cli.main(["run", "-d", "kustomer", "-s", str(settings), "--lookups", str(lookups), str(events)]) == 0
    err = capsys.readouterr().err
    assert (f"transformer: warning: 10 of 10 look-ups matched no entry of {lookups} (none matched: is the "
            "file for this server?); 10 answered 404; first asked: https://test-server.example/v1/customers/email=e0@x.example, "
            "https://test-server.example/v1/customers/externalId=u-0, "
            "https://test-server.example/v1/customers/email=e1@x.example\n") in err
    (tmp_path / "e.json").write_text('{"type": "identify", "userId": "u-1"}')
    assert cli.main(["explain", "-d", "kustomer", "-s", str(settings), "--lookups", str(lookups), str(tmp_path / "e.json")]) == 0
    assert "1 of 1 look-ups matched no entry" in capsys.readouterr().err


def test_no_warning_when_every_look_up_matched_and_verbose_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = "https://test-server.example/v1/customers"
    answers = {f"{base}/email=e{n}@x.example": {"status": 200, "body": {"data": {"id": f"c{n}"}}} for n in range(5)}
    settings, lookups, events = _files(tmp_path, "https://test-server.example", answers)
    assert cli.main(["run", "-v", "-d", "kustomer", "-s", str(settings), "--lookups", str(lookups), str(events)]) == 0
    err = capsys.readouterr().err
    assert "transformer: warning" not in err and f"transformer: look-ups: 5 asked, 5 answered from {lookups}" in err


def test_send_refuses_to_create_while_every_look_up_misses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with new_api() as api:
        api.start()
        settings, lookups, events = _files(tmp_path, api.url, {"https://elsewhere.example/x": {"status": 404}})
        code = cli.main(["send", "-d", "kustomer", "-s", str(settings), "--lookups", str(lookups), str(events)])
        out, err = capsys.readouterr()
        assert code == 1 and api.received == []  # nothing created: not one request reached the server
        outcomes = [json.loads(line) for line in out.splitlines()]
        assert len(outcomes) == 5 and all(o["status"] == 424 and "--lookups-may-miss" in o["error"] for o in outcomes)
        assert "5 of 5 look-ups matched no entry" in err and "; 5 refused (see --lookups-may-miss); first" in err
        code = cli.main(["send", "-d", "kustomer", "-s", str(settings), "--lookups", str(lookups), "--lookups-may-miss",
                         str(events)])
        out, err = capsys.readouterr()
        assert code == 0 and len([r for r in api.received if r.method == "POST"]) == 5  # told to: created
        assert "; 10 answered 404; first" in err


def test_send_uses_misses_once_an_entry_matched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with new_api() as api:
        api.start()
        found = {f"{api.url}/v1/customers/email=e0@x.example": {"status": 200, "body": {"data": {"id": "c0"}}}}
        settings, lookups, events = _files(tmp_path, api.url, found)
        code = cli.main(["send", "-d", "kustomer", "-s", str(settings), "--lookups", str(lookups), "--concurrency", "1",
                         str(events)])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert "8 of 9 look-ups matched no entry" in err and "; 8 answered 404; first" in err
