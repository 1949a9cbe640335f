"""transformer.delivery against hostile servers and careless inputs, each on 127.0.0.1 and bounded
in time: outcomes for every input in order, stops that stop, waits that are bounded, secrets that
stay secret, a rate limit never exceeded, retries that hold no one else back, a journal."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import transformer
from tests.test_http import KEY, WRITE_KEY, fast, inputs, kustomer_settings, new_api, segment_settings
from transformer.delivery import Journal, RateLimit, Sender
from transformer.delivery.metrics import serve
from transformer.delivery.redact import for_request

TRACK = {"type": "track", "userId": "u-1", "event": "Signed Up"}


@pytest.fixture
def api() -> Iterator[Any]:
    with new_api() as server:
        yield server


def tracks(n: int) -> list[dict[str, Any]]:
    return [{**TRACK, "userId": f"u-{i}", "messageId": f"m-{i}"} for i in range(n)]


# -- data and accounting ----------------------------------------------------------------------

def test_an_input_iterable_that_raises_gets_outcomes_for_what_it_gave_then_the_error(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    lines = [json.dumps({**TRACK, "userId": f"u-{i}"}) for i in range(6)] + ["{not json"] + [json.dumps(TRACK)]
    settings = kustomer_settings(api)
    outcomes: list[dict[str, Any]] = []
    with Sender(kustomer, concurrency=4) as sender, pytest.raises(json.JSONDecodeError):
        feed = ({"message": json.loads(line), "destination": {"Config": settings}, "metadata": n}
                for n, line in enumerate(lines))
        for outcome in sender.run(feed):
            outcomes.append(outcome)
    assert [(o["outcome"], o["metadata"]) for o in outcomes] == [("delivered", i) for i in range(6)]
    assert len(api.received) == 6


def test_batched_outcomes_come_in_input_order(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    events = [TRACK, {"type": "nope"}, {**TRACK, "userId": "u-2"}]
    with Sender(segment) as sender:
        outcomes = list(sender.run(inputs(events, segment_settings(api)), batch=True))
    assert [(o["metadata"], o["outcome"]) for o in outcomes] == [(0, "delivered"), (1, "failed"), (2, "delivered")]
    assert [r.path for r in api.received] == ["/v1/batch"]


def test_after_stop_no_queued_event_starts_a_try_and_no_open_batch_is_sent(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    settings = segment_settings(api)
    with Sender(segment) as sender:
        def feed() -> Iterator[dict[str, Any]]:
            for i, item in enumerate(inputs(tracks(50), settings)):
                if i == 40:
                    sender.stop()
                yield item
        outcomes = list(sender.run(feed(), batch=True))
    assert {o["outcome"] for o in outcomes} == {"interrupted"} and len(outcomes) == 41
    assert api.received == []  # the open batch was never sent
    api.plan("POST", "/v1/track", "hang")  # one request under way when the run stops
    with Sender(segment, concurrency=2, rate_limit=RateLimit(10, 1)) as sender:
        threading.Timer(0.3, sender.stop).start()
        outcomes = list(sender.run(inputs(tracks(30), settings), batch=False))
    assert len(outcomes) == 30 and len(api.received) == 10  # the first window's; the rest never started
    assert sum(o["outcome"] == "interrupted" and o["tries"] == 0 for o in outcomes) == 20
    sent = {json.loads(r.body)["userId"] for r in api.received}
    assert {f"u-{o['metadata']}" for o in outcomes if o["outcome"] == "delivered"} <= sent
    assert all(o["outcome"] == "interrupted" for o in outcomes if f"u-{o['metadata']}" not in sent)


@pytest.mark.parametrize("header", [
    ("Retry-After", "Sat, 01 Jan 10000 00:00:00 GMT"),
    ("Retry-After", "9" * 5000),
    ("x-ratelimit-reset", "nan"),
])
def test_a_wait_the_server_gives_that_cannot_be_used_means_the_default_backoff(api: Any, tmp_path: Path,
                                                                                header: tuple[str, str]) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.plan("POST", "/v1/tracking/", *[(429, dict([header]), {})] * 2)
    with Sender(kustomer) as sender:
        [outcome] = sender.run(inputs([TRACK], kustomer_settings(api)))
    assert (outcome["outcome"], outcome["tries"]) == ("delivered", 3)


# -- secrets ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("destination", "secret"), [("segment", WRITE_KEY), ("kustomer", "k3y")])
def test_an_answer_echoing_a_secret_never_shows_it_even_across_the_cut(tmp_path: Path, destination: str,
                                                                       secret: str) -> None:
    loaded = fast(tmp_path, destination)
    # The echoed secret starts at character pad + 12: these put it across the 200th (the cut).
    for pad in range(200 - 12 - len(secret) + 1, 200 - 12):
        body = {"p": "x" * (pad - 7), "echo": secret}
        with new_api() as server:
            server.plan("POST", "/v1/", (401, {}, body))
            config = ({"writeKey": secret, "endpoint": f"{server.url}/v1"} if destination == "segment"
                      else {"apiKey": secret, "baseEndpoint": server.url})
            with Sender(loaded) as sender:
                [outcome] = sender.run(inputs([TRACK], config), batch=False)
        # Redacted, then cut: never the secret's first characters before the cut.
        assert outcome["status"] == 401 and outcome["body"] == json.dumps(body).replace(secret, "[redacted]")[:200]
        assert secret[:2] not in outcome["body"][190:] and secret not in json.dumps(outcome)


def test_redaction_touches_the_secret_values_and_nothing_else() -> None:
    request = {"method": "POST", "endpoint": "https://h/v1/x", "headers": {"Authorization": "Basic YWJjOg==",
                                                                          "X-Key": "abc", "X-Other": "abcd-free"},
               "params": {"key": "abc", "q": "tabcat"}, "body": {"JSON": {"note": "the key is abc", "n": "cab"}}}
    shown = for_request(("abc",), request).request(request)
    assert shown["headers"] == {"Authorization": "[redacted]", "X-Key": "[redacted]", "X-Other": "[redacted]d-free"}
    assert shown["params"] == {"key": "[redacted]", "q": "t[redacted]at"} and shown["endpoint"] == "https://h/v1/x"
    assert shown["body"]["JSON"] == {"note": "the key is [redacted]", "n": "cab"}
    excerpt = for_request(("abc",), request).excerpt(b'{"echo": "YWJjOg==", "why": "abc", "ok": "cab"}', 200)
    assert excerpt == '{"echo": "[redacted]", "why": "[redacted]", "ok": "cab"}'


def test_dry_run_redacts_a_secret_in_any_header_param_or_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformer import cli

    folder = tmp_path / "keyed"
    folder.mkdir()
    (folder / "destination.yaml").write_text(
        "name: keyed\nsettings: {type: object, required: [token], properties: {token: {type: string}}}\n"
        "secrets: [token]\nrequest:\n  method: {const: POST}\n  endpoint: {const: 'http://127.0.0.1:9/in'}\n"
        "  headers: {X-Token: {setting: token}, X-Plain: {const: tok-ok}}\n  params: {k: {setting: token}}\n"
        "events: {track: track.yaml}\n", encoding="utf-8")
    (folder / "track.yaml").write_text(
        "body:\n  object:\n    auth: {template: 'key={t}', vars: {t: {setting: token}}}\n    event: {path: event}\n",
        encoding="utf-8")
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"token": "tok"}), encoding="utf-8")
    events = tmp_path / "e.ndjson"
    events.write_text(json.dumps({"type": "track", "event": "stock take"}) + "\n", encoding="utf-8")
    assert cli.main(["send", "-d", str(folder), "-s", str(settings), "--dry-run", str(events)]) == 0
    [result] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    request = result["output"]
    assert request["headers"]["X-Token"] == "[redacted]" and request["params"] == {"k": "[redacted]"}
    assert request["headers"]["X-Plain"] == "[redacted]-ok"  # only the secret's own characters
    assert request["body"]["JSON"] == {"auth": "key=[redacted]", "event": "stock take"}


# -- time, memory and limits ------------------------------------------------------------------

class Hostile:
    """A server on 127.0.0.1 that answers every request by ``behaviour(connection)``."""

    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.done = threading.Event()
        self.arrived = threading.Event()  # set by the first request
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.arrived.set()
            try:
                self.behaviour(conn, self.done)
            except OSError:  # the client cut the connection
                pass

    def close(self) -> None:
        self.done.set()
        self.sock.close()


def drip(conn: socket.socket, done: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while not done.wait(0.2):
        conn.sendall(b"x")


def huge(conn: socket.socket, done: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 300000000\r\n\r\n")
    chunk = b"y" * 65536
    for _ in range(300_000_000 // len(chunk)):
        if done.is_set():
            return
        conn.sendall(chunk)


def test_a_server_that_drips_is_cut_at_the_deadline_of_each_try(tmp_path: Path) -> None:
    server = Hostile(drip)
    segment = fast(tmp_path, "segment")  # tries: 3, timeout 1 s
    try:
        start = time.monotonic()
        with Sender(segment) as sender:
            [outcome] = sender.run(inputs([TRACK], {"writeKey": WRITE_KEY, "endpoint": f"{server.url}/v1"}), batch=False)
        took = time.monotonic() - start
    finally:
        server.close()
    assert outcome == {"outcome": "gave_up", "status": None, "tries": 3, "error": "no answer within 1.0 s", "metadata": 0}
    assert 2.9 <= took < 5


def test_a_stop_ends_a_dripping_try_within_its_deadline_and_abort_at_once(tmp_path: Path) -> None:
    server = Hostile(drip)
    segment = fast(tmp_path, "segment")
    try:
        for end, bound in (("stop", 1.5), ("abort", 0.5)):
            with Sender(segment, timeout=1) as sender:
                threading.Timer(0.2, getattr(sender, end)).start()
                start = time.monotonic()
                [outcome] = sender.run(inputs([TRACK], {"writeKey": WRITE_KEY, "endpoint": f"{server.url}/v1"}),
                                       batch=False)
                assert time.monotonic() - start < bound and outcome["outcome"] == "interrupted", (end, outcome)
    finally:
        server.close()


def test_an_answer_is_read_up_to_a_limit(tmp_path: Path) -> None:
    server = Hostile(huge)
    segment = fast(tmp_path, "segment")
    try:
        start = time.monotonic()
        with Sender(segment) as sender:
            answer = sender.send(segment.transform(TRACK, {"writeKey": WRITE_KEY, "endpoint": f"{server.url}/v1"}))
        assert time.monotonic() - start < 3
    finally:
        server.close()
    assert answer.status == 400 and answer.truncated and len(answer.body) == sender.client.max_answer_bytes


def test_the_rate_limit_holds_in_every_window_from_the_first_request(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    arrivals: list[float] = []
    answer = api.answer

    def timed(request: Any) -> Any:
        arrivals.append(time.monotonic())
        return answer(request)

    api.answer = timed
    with Sender(segment, concurrency=8, rate_limit=RateLimit(5, 0.5)) as sender:
        outcomes = list(sender.run(inputs(tracks(16), segment_settings(api)), batch=False))
    assert {o["outcome"] for o in outcomes} == {"delivered"}
    most = max(sum(1 for t in arrivals if start <= t < start + 0.5) for start in arrivals)
    assert most == 5 and arrivals[-1] - arrivals[0] >= 1.5  # 16 requests: four windows


def test_a_failing_event_holds_back_no_other(api: Any, tmp_path: Path) -> None:
    folder = tmp_path / "slow"
    segment = fast(tmp_path, "segment")
    text = (segment.folder / "destination.yaml").read_text(encoding="utf-8").replace("backoff_seconds: 0.01",
                                                                                     "backoff_seconds: 0.4")
    folder.mkdir()
    for path in segment.folder.iterdir():
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "destination.yaml").write_text(text, encoding="utf-8")
    slow = transformer.load(folder)  # 3 tries, waits 0 then 0.8 s (plus jitter)
    arrived: dict[str, float] = {}
    answer = api.answer

    def timed(request: Any) -> Any:  # the first event fails every try
        user = json.loads(request.body)["userId"]
        arrived[user] = time.monotonic()
        return (500, {}, {}) if user == "u-0" else answer(request)

    api.answer = timed
    start = time.monotonic()
    with Sender(slow, concurrency=2) as sender:
        outcomes = list(sender.run(inputs(tracks(200), segment_settings(api)), batch=False))
    assert outcomes[0]["outcome"] == "gave_up" and {o["outcome"] for o in outcomes[1:]} == {"delivered"}
    assert [o["metadata"] for o in outcomes] == list(range(200))
    others = max(t for user, t in arrived.items() if user != "u-0")
    assert others < arrived["u-0"] and time.monotonic() - start < 4  # the others went out during its waits


# -- journal, summary, metrics ----------------------------------------------------------------

def test_a_journal_skips_what_an_earlier_run_delivered_and_tolerates_a_torn_line(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    settings = segment_settings(api)
    path = tmp_path / "journal.ndjson"
    with Sender(segment) as sender, Journal(path) as journal:
        first = list(sender.run(inputs(tracks(5), settings), batch=False, journal=journal))
    assert [o["outcome"] for o in first] == ["delivered"] * 5
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:20])  # two records lost, one torn
    with Sender(segment) as sender, Journal(path) as journal:
        again = list(sender.run(inputs(tracks(6), settings), batch=False, journal=journal))
    skipped = [o["metadata"] for o in again if o["outcome"] == "skipped"]
    assert len(skipped) == 3 and [o["metadata"] for o in again] == list(range(6))
    assert len(api.received) == 5 + 3 and Journal(path).delivered  # the three not journaled, sent again
    resent = sorted(json.loads(r.body)["userId"] for r in api.received[5:])
    assert resent == sorted({f"u-{i}" for i in range(6)} - {f"u-{i}" for i in skipped})


def test_metrics_are_served_in_the_prometheus_text_format(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    api.plan("POST", "/v1/track", (400, {}, {}))
    with Sender(segment) as sender:
        list(sender.run(inputs(tracks(3), segment_settings(api)), batch=False))
        server = serve(sender.stats, "segment", 0)
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).read().decode()
        finally:
            server.shutdown()
    assert 'transformer_send_outcomes_total{destination="segment",outcome="delivered"} 2.0' in text
    assert 'transformer_send_failed_total{destination="segment",status="400"} 1.0' in text
    assert 'transformer_send_try_seconds_count{destination="segment"} 3.0' in text


def test_progress_shows_delivered_failed_retrying_and_the_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from transformer.delivery import progress
    from transformer.delivery.stats import Stats

    events = tmp_path / "events.ndjson"
    events.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3}\n{"a": 4}\n', encoding="utf-8")
    assert progress.count_inputs([str(events)]) == 4 and progress.count_inputs(["-"]) is None
    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(progress, "REFRESH_SECONDS", 0.02)
    stats = Stats()
    with progress.Progress(stats, [str(events)], enabled=True):
        for kind in ("delivered", "delivered", "failed"):
            stats.outcome(kind, 400)
        stats.waiting(1)
        deadline = time.monotonic() + 5
        while "1 retrying" not in screen.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "3/4" in screen.getvalue() and "2 delivered, 1 failed, 1 retrying" in screen.getvalue()
    with progress.Progress(stats, [str(events)], enabled=False):
        pass
    assert progress.Progress(stats, [], enabled=False)._bar is None
