"""`transformer send` against a local server: outcomes, summary, dead letter, dry run, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docs_pages import page
from tests.test_http import KEY, ROOT, WRITE_KEY, fake_api, fast, new_api
from transformer import cli


@pytest.fixture
def api() -> Iterator[Any]:
    with new_api() as server:
        yield server

EVENTS = [
    {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com"}},
    {"type": "track", "userId": "u-1", "event": "Signed Up"},
    {"type": "alias", "userId": "u-1"},
    {"type": "page", "userId": "u-1", "name": "Pricing"},
]


def _files(tmp_path: Path, settings: dict[str, Any], events: list[Any], bad_line: bool = True) -> tuple[Path, Path]:
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings), encoding="utf-8")
    events_file = tmp_path / "events.ndjson"
    lines = [json.dumps(e) for e in events]
    if bad_line:
        lines.insert(2, "{not json")
    events_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return settings_file, events_file


def test_send_writes_one_outcome_per_input_in_order_and_a_replayable_dead_letter(
        api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings, events = _files(tmp_path, {"apiKey": KEY, "baseEndpoint": api.url}, EVENTS)
    dead = tmp_path / "dead.ndjson"
    code = cli.main(["send", "-d", "kustomer", "-s", str(settings), "--dead-letter", str(dead), "--concurrency", "2",
                     str(events)])
    out, err = capsys.readouterr()
    outcomes = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [(o["outcome"], o["status"], o["metadata"]["line"]) for o in outcomes] == [
        ("delivered", 201, 1), ("delivered", 200, 2), ("failed", 400, 3), ("failed", 400, 4), ("delivered", 200, 5)]
    assert outcomes[2]["error"].startswith(f"{events}:3: not valid JSON")
    assert sorted((r.method, r.path) for r in api.received) == [
        ("GET", "/v1/customers/email=ada@example.com"), ("GET", "/v1/customers/externalId=u-1"),
        ("POST", "/v1/customers"), ("POST", "/v1/tracking/identityEvent"), ("POST", "/v1/tracking/identityEvent")]
    where, summary = err.splitlines()[:2]  # send says which mapping folder it used, as every command does
    assert where.startswith("transformer: kustomer from ")
    assert summary.startswith("kustomer: 5 events, 3 delivered, 2 failed (400: 2), 0 gave up, 0 interrupted; 5 requests in ")
    assert f"; 2 written to {dead}" in err and KEY not in out + err
    # The dead letter holds each input not delivered as it came: the unreadable line as read.
    assert dead.read_text(encoding="utf-8").splitlines() == ["{not json", json.dumps(EVENTS[2], separators=(",", ":"))]
    assert cli.main(["send", "-d", "kustomer", "-s", str(settings), str(dead)]) == 1
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(a["outcome"], a["status"], a["metadata"]) for a in again] == [
        ("failed", 400, {"file": str(dead), "line": 1}), ("failed", 400, {"file": str(dead), "line": 2})]


def test_dead_letter_takes_every_input_not_delivered_even_one_not_unicode(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A lone surrogate escape, a line not JSON, an array element not JSON and a missing ']': one
    outcome each, and each one with text goes to the dead letter, replayable."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"writeKey": WRITE_KEY}), encoding="utf-8")
    surrogate = '{"type":"track","userId":"\\ud83d","event":"e"}'
    events = tmp_path / "events.ndjson"
    events.write_bytes(f"{surrogate}\n{{not json\n".encode() + b"\xff\n")
    array = tmp_path / "events.json"
    array.write_text('[{"type": "nope"},\n {bad\n  json}', encoding="utf-8")
    dead = tmp_path / "dead.ndjson"
    code = cli.main(["send", "-d", "segment", "-s", str(settings), "--dead-letter", str(dead), str(events), str(array)])
    out, err = capsys.readouterr()
    outcomes = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(outcomes) == 6 and {o["outcome"] for o in outcomes} == {"failed"}
    assert "the JSON array is not closed" in outcomes[-1]["error"] and "Traceback" not in err
    assert f"; 5 written to {dead}" in err
    lines = dead.read_bytes().splitlines()
    assert lines == [surrogate.encode(), b"{not json", b"\xff", b'{"type":"nope"}', b"{bad   json}"]
    assert json.loads(lines[0]) == json.loads(surrogate)


def test_send_batches_and_an_unreachable_server_gives_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fake_api.FakeAPI() as gone:
        url = gone.url
    events = [{"type": "track", "userId": f"u-{i}", "event": "E"} for i in range(3)]
    settings, file = _files(tmp_path, {"writeKey": WRITE_KEY, "endpoint": f"{url}/v1"}, events, bad_line=False)
    dead = tmp_path / "dead.ndjson"
    segment = str(fast(tmp_path, "segment").folder)  # small waits between tries
    code = cli.main(["send", "-d", segment, "-s", str(settings), "--timeout", "0.2", "--dead-letter", str(dead), str(file)])
    out, err = capsys.readouterr()
    assert code == 1 and "3 events, 0 delivered, 0 failed, 3 gave up" in err
    assert [json.loads(line)["outcome"] for line in out.splitlines()] == ["gave_up"] * 3
    assert [json.loads(line) for line in dead.read_text(encoding="utf-8").splitlines()] == events


def test_dry_run_sends_nothing_and_never_shows_credentials(api: Any, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    settings, events = _files(tmp_path, {"apiKey": KEY, "baseEndpoint": api.url}, EVENTS)
    assert cli.main(["send", "-d", "kustomer", "-s", str(settings), "--dry-run", str(events)]) == 1
    out, err = capsys.readouterr()
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["statusCode"] for r in results] == [200, 200, 400, 400, 200]
    assert err.splitlines()[-1] == "kustomer: dry run, nothing sent; 3 requests written, 2 errors"  # the summary send promises
    assert results[0]["output"]["method"] == "POST" and results[0]["output"]["headers"]["Authorization"] == "[redacted]"
    assert KEY not in out and {r.method for r in api.received} == {"GET"}  # look-ups only
    # Canned answers: nothing is sent at all (these settings name the real host).
    assert cli.main(["send", "-d", "kustomer", "-s", str(ROOT / "examples" / "kustomer-settings.yaml"), "--dry-run",
                     "--lookups", str(ROOT / "examples" / "kustomer-lookups.json"), str(ROOT / "examples" / "events.ndjson")]) == 0
    assert [json.loads(line)["output"]["method"] for line in capsys.readouterr().out.splitlines()] == ["PUT", "POST"] + ["POST"] * 3


def test_send_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings, events = _files(tmp_path, {"writeKey": WRITE_KEY}, [])
    for extra, message in [(["--rate-limit", "fast"], "--rate-limit fast: expected N/SECONDS"),
                           (["--concurrency", "0"], "--concurrency must be at least 1"),
                           (["--lookups", str(tmp_path / "none.json")], "cannot read lookups")]:
        assert cli.main(["send", "-d", "segment", "-s", str(settings), *extra, str(events)]) == 2
        assert message in capsys.readouterr().err


def test_ctrl_c_finishes_requests_under_way_and_reports_each_input(api: Any, tmp_path: Path) -> None:
    events = [{"type": "track", "userId": f"u-{i}", "event": "E"} for i in range(2000)]
    settings, file = _files(tmp_path, {"writeKey": WRITE_KEY, "endpoint": f"{api.url}/v1"}, events, bad_line=False)
    dead = tmp_path / "dead.ndjson"
    process = subprocess.Popen(
        [sys.executable, "-m", "transformer", "send", "-d", "segment", "-s", str(settings), "--no-batch",
         "--rate-limit", "20/1", "--dead-letter", str(dead), str(file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None and process.stderr is not None
    try:
        first = process.stdout.readline()  # a delivery happened: the run is under way
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        rest, err = process.stdout.read(), process.stderr.read()  # the end of the run closes both
        process.wait(timeout=30)
    finally:
        process.kill()
    outcomes = [json.loads(line) for line in [first, *rest.splitlines()]]
    assert process.returncode == 130, err
    delivered = [o["metadata"]["line"] for o in outcomes if o["outcome"] == "delivered"]
    received = sorted(int(json.loads(r.body)["userId"][2:]) + 1 for r in api.received)
    assert sorted(delivered) == received and received  # exactly the inputs the server got
    assert [o["metadata"]["line"] for o in outcomes] == list(range(1, len(outcomes) + 1)) and len(outcomes) < 2000
    assert {o["outcome"] for o in outcomes} <= {"delivered", "interrupted"}
    last = outcomes[-1]["metadata"]
    assert f"interrupted; the last input read was {json.dumps(last, separators=(',', ':'))}" in err
    assert len(dead.read_text(encoding="utf-8").splitlines()) == len(outcomes) - len(delivered)


SECTION = page("delivery.md")


def test_the_docs_command_delivers_the_bundled_events_to_the_fake_api(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    [command] = [line for line in SECTION.splitlines() if line.startswith("transformer send ")]
    args = command.split()[1:]
    given = ROOT / args[args.index("--settings") + 1]
    with fake_api.FakeAPI() as local:
        settings = tmp_path / "settings.yaml"  # the page's settings, on this test's port
        settings.write_text(given.read_text(encoding="utf-8").replace("127.0.0.1:8080", local.url.removeprefix("http://")),
                            encoding="utf-8")
        args[args.index("--settings") + 1] = str(settings)
        monkeypatch.chdir(ROOT)
        assert cli.main(args) == 0
        [batch] = local.received
    outcomes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["outcome"] for o in outcomes] == ["delivered"] * 5 and batch.path == "/v1/batch"


def test_the_readme_python_example_is_ten_lines() -> None:
    block = SECTION.split("in ten lines", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.startswith("assert ")]
    assert len(lines) <= 10 and "sender.run(inputs)" in block
