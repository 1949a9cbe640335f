"""`transformer send` from the command line: --journal against SIGKILL at random points, the
second Ctrl-C, --summary-json, and the usage errors of the options that write or bound."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
import pytest

from tests.test_delivery_trust import Hostile, drip
from tests.test_http import ROOT, WRITE_KEY, new_api
from transformer import cli

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _files(tmp_path: Path, url: str, n: int) -> tuple[Path, Path]:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"writeKey": WRITE_KEY, "endpoint": f"{url}/v1"}), encoding="utf-8")
    events = tmp_path / "events.ndjson"
    events.write_text("".join(json.dumps({"type": "track", "userId": f"u-{i}", "event": "E"}) + "\n" for i in range(n)),
                      encoding="utf-8")
    return settings, events


def _journal_delivered(path: Path) -> set[int]:
    """The inputs (by place) the journal has as delivered; a torn last line is skipped."""
    places = set()
    for line in path.read_bytes().splitlines() if path.exists() else []:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry["outcome"] == "delivered":
            places.add(int(entry["key"].split(":")[0]))
    return places


def test_a_run_killed_at_random_points_and_started_again_sends_nothing_confirmed_twice_and_all_the_rest(
        tmp_path: Path) -> None:
    n, chance = 200, random.Random()
    seed = chance.randrange(1_000_000)
    chance.seed(seed)
    with new_api() as api:
        settings, events = _files(tmp_path, api.url, n)
        journal = tmp_path / "journal.ndjson"
        command = [sys.executable, "-m", "transformer", "send", "-d", "segment", "-s", str(settings), "--no-batch",
                   "--rate-limit", "150/1", "--journal", str(journal), str(events)]
        runs: list[tuple[int, set[int]]] = []  # (requests received before the run, delivered per the journal then)
        for _ in range(3):
            runs.append((len(api.received), _journal_delivered(journal)))
            process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 15
            while len(api.received) == runs[-1][0] and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)  # until this run's first request: the kill then comes mid-delivery
            time.sleep(chance.uniform(0.0, 0.5))
            process.kill()
            process.wait(timeout=10)
        runs.append((len(api.received), _journal_delivered(journal)))
        final = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=30)
        # A request cut short by the kill (its body incomplete) never reached a real server.
        received = [int(json.loads(r.body)["userId"][2:]) if r.body.endswith(b"}") else -1 for r in api.received]
    assert final.returncode == 0, (seed, final.stderr)
    outcomes = [json.loads(line) for line in final.stdout.splitlines()]
    assert {o["outcome"] for o in outcomes} <= {"delivered", "skipped"} and len(outcomes) == n
    assert sorted(set(received) - {-1}) == list(range(n)), seed  # everything was sent
    for start, confirmed in runs:  # nothing confirmed delivered before a run was sent by it or later
        assert not confirmed & set(received[start:]), seed
    assert [o["metadata"]["line"] for o in outcomes if o["outcome"] == "skipped"] == sorted(
        i + 1 for i in runs[-1][1])


def test_the_second_ctrl_c_quits_at_once(tmp_path: Path) -> None:
    server = Hostile(drip)
    try:
        settings, events = _files(tmp_path, server.url, 3)
        process = subprocess.Popen(
            [sys.executable, "-m", "transformer", "send", "-d", "segment", "-s", str(settings), "--no-batch",
             "--timeout", "20", str(events)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        assert server.arrived.wait(10)
        time.sleep(0.2)  # under way: three tries dripping
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        start = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        took = time.monotonic() - start
    finally:
        server.close()
    assert process.returncode == 130 and took < 2, err
    assert "quit at once; 3 inputs read have no outcome" in err and out == ""


def test_summary_json_and_no_progress_line_off_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with new_api() as api:
        settings, events = _files(tmp_path, api.url, 3)
        api.plan("POST", "/v1/track", (400, {}, {"bad": True}))
        summary = tmp_path / "summary.json"
        code = cli.main(["send", "-d", "segment", "-s", str(settings), "--no-batch", "--concurrency", "1",
                         "--summary-json", str(summary), str(events)])
    err = capsys.readouterr().err
    data = json.loads(summary.read_text(encoding="utf-8"))
    assert code == 1 and "\r" not in err
    assert {k: data[k] for k in ("events", "delivered", "failed", "failed_by_status", "requests", "exit_status")} == {
        "events": 3, "delivered": 2, "failed": 1, "failed_by_status": {"400": 1}, "requests": 3, "exit_status": 1}


@pytest.mark.parametrize(("extra", "message"), [
    (["--rate-limit", "1/inf"], "--rate-limit 1/inf: expected N/SECONDS with N at least 1 and SECONDS a finite number"),
    (["--rate-limit", "1/nan"], "--rate-limit 1/nan: expected N/SECONDS with N at least 1 and SECONDS a finite number"),
    (["--timeout", "nan"], "--timeout nan: expected a finite number of seconds more than 0"),
    (["--timeout", "inf"], "--timeout inf: expected a finite number of seconds more than 0"),
    (["--timeout", "0"], "--timeout 0.0: expected a finite number of seconds more than 0"),
])
def test_limits_that_are_not_finite_and_positive_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   extra: list[str], message: str) -> None:
    settings, events = _files(tmp_path, "http://127.0.0.1:9", 1)
    assert cli.main(["send", "-d", "segment", "-s", str(settings), *extra, str(events)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--dead-letter", "--journal", "--summary-json"])
def test_an_output_that_is_also_the_input_is_refused_and_the_input_kept(tmp_path: Path, option: str,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    settings, events = _files(tmp_path, "http://127.0.0.1:9", 2)
    before = events.read_bytes()
    assert cli.main(["send", "-d", "segment", "-s", str(settings), option, str(events), str(events)]) == 2
    assert f"{option} {events}: it is also an input" in capsys.readouterr().err
    assert events.read_bytes() == before


def test_a_dead_letter_replays_into_a_new_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with new_api() as api:
        settings, events = _files(tmp_path, api.url, 2)
        api.plan("POST", "/v1/track", (400, {}, {}), (400, {}, {}))
        dead, again = tmp_path / "dead.ndjson", tmp_path / "again.ndjson"
        args = ["send", "-d", "segment", "-s", str(settings), "--no-batch", "--concurrency", "1"]
        assert cli.main([*args, "--dead-letter", str(dead), str(events)]) == 1
        assert cli.main([*args, "--dead-letter", str(again), str(dead)]) == 0
    assert len(dead.read_text(encoding="utf-8").splitlines()) == 2 and again.read_text(encoding="utf-8") == ""
    assert "2 events, 2 delivered" in capsys.readouterr().err

