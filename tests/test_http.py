"""transformer.delivery against real HTTP servers on 127.0.0.1 (examples/fake_api.py): live
look-ups, the sender's retries, waits, timeouts and outcomes, and what the server received."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer.delivery import AnswerCache, DeliveryRules, RateLimit, Sender
from transformer.delivery.client import RateLimiter
from transformer.language.delivery_rules import STAMPS
from transformer.runtime.wire import compact_json

ROOT = Path(__file__).resolve().parent.parent
KEY = "kustomer-test-key-0001"
WRITE_KEY = "segment-test-key-0001"
BASIC = "Basic c2VnbWVudC10ZXN0LWtleS0wMDAxOg=="  # base64("segment-test-key-0001:")


def _load_fake_api() -> Any:
    spec = importlib.util.spec_from_file_location("fake_api", ROOT / "examples" / "fake_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_api"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fake_api = _load_fake_api()


def new_api() -> Any:
    """A fake API that answers only these tests' credentials."""
    return fake_api.FakeAPI(keys={f"Bearer {KEY}", BASIC}, hang_seconds=2.0)


@pytest.fixture
def api() -> Iterator[Any]:
    with new_api() as server:
        yield server


def fast(tmp_path: Path, name: str) -> transformer.Destination:
    """The built-in mapping with small waits and timeouts in its delivery rules, so tests take seconds."""
    folder = tmp_path / name
    shutil.copytree(ROOT / "mappings" / name, folder)
    path = folder / "destination.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count("    tries: 5\n") == 1
    text = text.replace("    tries: 5\n", "    tries: 3\n    backoff_seconds: 0.01\n    max_wait_seconds: 2\n")
    path.write_text(text.replace("delivery:\n", "delivery:\n  timeout_seconds: 1\n"), encoding="utf-8")
    return transformer.load(folder)


def inputs(events: list[Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"message": e, "destination": {"Config": settings}, "metadata": i} for i, e in enumerate(events)]


def kustomer_settings(api: Any) -> dict[str, Any]:
    return {"apiKey": KEY, "baseEndpoint": api.url}


def segment_settings(api: Any) -> dict[str, Any]:
    return {"writeKey": WRITE_KEY, "endpoint": f"{api.url}/v1"}


# -- the core does without the extra -------------------------------------------------------

def test_the_core_imports_and_runs_without_urllib3(tmp_path: Path) -> None:
    script = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "urllib3" or name.startswith("urllib3."):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import transformer
from transformer import cli
request = transformer.load("kustomer").transform({"type": "track", "userId": "u", "event": "E"}, {"apiKey": "k"})
assert request["method"] == "POST"
assert transformer.load("segment").delivery.rate_limit.requests == 1000
assert cli.main(["run", "-d", "segment", "-s", "examples/segment-settings.yaml", "examples/events.ndjson"]) == 0
assert cli.main(["send", "-d", "segment", "-s", "examples/segment-settings.yaml", "examples/events.ndjson"]) == 2
assert "urllib3" not in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "transformer send needs the [http] extra: pip install 'event-transformer[http]'" in done.stderr


# -- delivery rules in YAML ----------------------------------------------------------------

def test_delivery_rules_are_declared_in_yaml_and_read_only() -> None:
    kustomer, segment = transformer.load("kustomer").delivery, transformer.load("segment").delivery
    assert kustomer.rate_limit == RateLimit(300, 60.0) and kustomer.reset_header == "x-ratelimit-reset"
    assert segment.rate_limit == RateLimit(1000, 1.0) and dict(segment.stamp) == {"sentAt": "now_iso"}
    for rules in (kustomer, segment):
        assert 400 not in rules.retry_statuses and {429, 500, 503} <= rules.retry_statuses
        with pytest.raises(dataclasses.FrozenInstanceError):
            rules.tries = 1  # type: ignore[misc]
        with pytest.raises(TypeError):
            rules.stamp["x"] = "now_iso"  # type: ignore[index]


def test_a_destination_without_a_delivery_section_gets_the_defaults(make_destination: Any) -> None:
    rules = make_destination("body: {object: {a: {const: 1}}}").delivery
    assert rules == DeliveryRules() and rules.rate_limit is None and rules.tries == 5
    assert rules.retry_statuses == {429, 500, 502, 503, 504} and dict(rules.stamp) == {}


def test_the_schema_lists_the_stamps_there_are() -> None:
    stamp = transformer.mapping_schema()["$defs"]["destination"]["properties"]["delivery"]["properties"]["stamp"]
    assert stamp["additionalProperties"]["enum"] == sorted(STAMPS)


@pytest.mark.parametrize(("delivery", "message"), [
    ("delivery:\n  retry: {statuses: [429, 400]}\n", "delivery.retry.statuses[1]: 400 is never retried: the same request would be refused again"),
    ("delivery:\n  retry: {tries: 0}\n", "delivery.retry.tries: 0 is less than the minimum of 1"),
    ("delivery:\n  stamp: {sentAt: now}\n", "delivery.stamp.sentAt: 'now' is not one of ['now_iso'] (did you mean `now_iso`?)"),
    ("delivery:\n  rate_limit: {requests: 10}\n", "delivery.rate_limit: 'per_seconds' is a required property"),
    ("delivery:\n  retries: 3\n", "delivery.retries: unknown key 'retries' (did you mean `retry`?)"),
])
def test_bad_delivery_rules_are_load_errors(tmp_path: Path, delivery: str, message: str) -> None:
    folder = tmp_path / "segment"
    shutil.copytree(ROOT / "mappings" / "segment", folder)
    path = folder / "destination.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:text.index("\ndelivery:")] + "\n" + delivery, encoding="utf-8")
    with pytest.raises(transformer.MappingError) as caught:
        transformer.load(folder)
    [problem] = caught.value.problems
    assert str(problem).endswith(message) and f"{path}:" in str(problem)


# -- live look-ups --------------------------------------------------------------------------

IDENTIFY = {"type": "identify", "userId": "u-1", "traits": {"email": "ada+news@example.com", "name": "Ada"}}


def test_live_lookup_found_updates_and_not_found_creates(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    settings = kustomer_settings(api)
    with Sender(kustomer, concurrency=1) as sender:
        first = kustomer.transform(IDENTIFY, settings, lookup=sender.lookup)
        assert (first["method"], first["endpoint"]) == ("POST", f"{api.url}/v1/customers")
        assert [o["outcome"] for o in sender.deliver([{"output": first, "statusCode": 200, "metadata": 1}])] == ["delivered"]
        second = kustomer.transform(IDENTIFY, settings, lookup=sender.lookup)
    assert (second["method"], second["endpoint"]) == ("PUT", f"{api.url}/v1/customers/cust-1?replace=false")
    seen = [(r.method, r.path) for r in api.received]
    assert seen == [("GET", "/v1/customers/email=ada%2Bnews@example.com"), ("GET", "/v1/customers/externalId=u-1"),
                    ("POST", "/v1/customers"), ("GET", "/v1/customers/email=ada%2Bnews@example.com")]
    # Exactly the engine's request: method, endpoint and headers as given; the body byte for byte.
    assert all(r.header("Authorization") == f"Bearer {KEY}" and r.header("Content-Type") == "application/json"
               for r in api.received)
    assert api.received[2].body == compact_json(first["body"]["JSON"]).encode("utf-8")
    assert api.received[0].body == b""


def test_found_answers_are_cached_not_found_ones_are_not(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.customers["email=ada+news@example.com"] = "cust-9"
    other = {"type": "identify", "userId": "u-2", "traits": {"email": "bob@example.com"}}
    with Sender(kustomer, concurrency=1) as sender:
        outcomes = list(sender.run(inputs([IDENTIFY, IDENTIFY, other, other], kustomer_settings(api))))
    assert [o["outcome"] for o in outcomes] == ["delivered"] * 4
    gets = [r.path for r in api.received if r.method == "GET"]
    assert gets.count("/v1/customers/email=ada%2Bnews@example.com") == 1  # the second answer came from the cache
    assert gets.count("/v1/customers/email=bob@example.com") == 2 and sender.lookup.cache is not None
    assert [(r.method, r.path) for r in api.received if r.method != "GET"] == [
        ("PUT", "/v1/customers/cust-9?replace=false"), ("PUT", "/v1/customers/cust-9?replace=false"),
        ("POST", "/v1/customers"), ("PUT", "/v1/customers/cust-2?replace=false")]


def test_concurrent_events_for_one_new_customer_create_it_once(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    with Sender(kustomer, concurrency=8) as sender:
        outcomes = list(sender.run(inputs([IDENTIFY] * 12, kustomer_settings(api))))
    assert [o["outcome"] for o in outcomes] == ["delivered"] * 12
    writes = [(r.method, r.path) for r in api.received if r.method != "GET"]
    assert sorted(writes) == [("POST", "/v1/customers")] + [("PUT", "/v1/customers/cust-1?replace=false")] * 11


def test_answer_cache_is_bounded_in_size_and_time() -> None:
    now = [0.0]
    cache = AnswerCache(size=2, ttl=10, clock=lambda: now[0])
    for key in "abc":
        cache.put((key,), key.upper())
    assert cache.get(("a",)) is None and cache.get(("c",)) == "C"
    now[0] = 11
    assert cache.get(("c",)) is None


def test_lookup_429_waits_as_the_reset_header_says(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.plan("GET", "/v1/customers/", (429, {"x-ratelimit-reset": "1"}, {"errors": []}))
    start = time.monotonic()
    with Sender(kustomer) as sender:
        request = kustomer.transform(IDENTIFY, kustomer_settings(api), lookup=sender.lookup)
    assert request["method"] == "POST" and 0.9 <= time.monotonic() - start < 3
    assert [r.path for r in api.received][:2] == ["/v1/customers/email=ada%2Bnews@example.com"] * 2


@pytest.mark.parametrize(("answers", "status", "error"), [
    ([(500, {}, {})] * 3, 500, "look-up email (GET {url}/v1/customers/email=ada%2Bnews@example.com) failed with status 500"),
    (["hang"] * 3, 502, "the lookup function raised NoAnswer for look-up email"),
    (["close"] * 3, 502, "the lookup function raised NoAnswer for look-up email"),
])
def test_a_failing_lookup_is_the_events_error_with_its_status(api: Any, tmp_path: Path, answers: list[Any],
                                                               status: int, error: str) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.plan("GET", "/v1/customers/", *answers)
    with Sender(kustomer) as sender:
        [result] = kustomer.process(inputs([IDENTIFY], kustomer_settings(api)), lookup=sender.lookup)
    assert result["statusCode"] == status and error.format(url=api.url) in result["error"]
    assert len(api.received) == 3 and KEY not in result["error"]


# -- sending --------------------------------------------------------------------------------

TRACK = {"type": "track", "userId": "u-1", "event": "Signed Up"}


def test_every_input_has_exactly_one_outcome_in_order(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    events = [TRACK, {"type": "alias"}, IDENTIFY, "not an event", {**TRACK, "userId": "u-2"}] * 10
    with Sender(kustomer, concurrency=4) as sender:
        outcomes = list(sender.run(inputs(events, kustomer_settings(api))))
    assert [o["metadata"] for o in outcomes] == list(range(50))
    assert [o["outcome"] for o in outcomes[:5]] == ["delivered", "failed", "delivered", "failed", "delivered"]
    assert outcomes[1] == {"outcome": "failed", "status": 400, "tries": 0, "metadata": 1,
                           "error": "kustomer: Event type 'alias' is not supported (supported: identify, track, page, screen)"}
    sent = [r for r in api.received if r.path == "/v1/tracking/identityEvent"]
    assert len(sent) == 20 and all(r.header("Authorization") == f"Bearer {KEY}" for r in sent)


def test_500_then_success_is_retried(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.plan("POST", "/v1/tracking/", (500, {}, {"errors": [{"message": "oops"}]}))
    with Sender(kustomer) as sender:
        [outcome] = sender.run(inputs([TRACK], kustomer_settings(api)))
    assert outcome == {"outcome": "delivered", "status": 200, "tries": 2, "metadata": 0}
    assert api.received[0].body == api.received[1].body


def test_429_honours_retry_after(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    api.plan("POST", "/v1/track", (429, {"Retry-After": "1"}, {}))
    start = time.monotonic()
    with Sender(segment) as sender:
        [outcome] = sender.run(inputs([TRACK], segment_settings(api)), batch=False)
    assert outcome["outcome"] == "delivered" and outcome["tries"] == 2
    assert 0.9 <= time.monotonic() - start < 3


def test_400_is_never_retried_and_the_excerpt_never_shows_credentials(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.plan("POST", "/v1/tracking/", (400, {}, {"errors": [{"message": "bad", "echo": f"Bearer {KEY}", "x": "y" * 500}]}))
    with Sender(kustomer) as sender:
        [outcome] = sender.run(inputs([TRACK], kustomer_settings(api)))
    assert outcome["outcome"] == "failed" and outcome["status"] == 400 and outcome["tries"] == 1
    assert outcome["body"].startswith('{"errors": [{"message": "bad", "echo": "[redacted]"')
    assert len(outcome["body"]) == 200 and KEY not in json.dumps(outcome)


@pytest.mark.parametrize(("answers", "outcome"), [
    (["hang"], {"outcome": "delivered", "status": 200, "tries": 2, "metadata": 0}),
    (["close"], {"outcome": "delivered", "status": 200, "tries": 2, "metadata": 0}),
    (["hang"] * 3, {"outcome": "gave_up", "status": None, "tries": 3, "error": "no answer within 1.0 s", "metadata": 0}),
    (["close"] * 3, {"outcome": "gave_up", "status": None, "tries": 3, "error": "the connection closed without an answer",
                     "metadata": 0}),
    ([(503, {}, {"busy": True})] * 3, {"outcome": "gave_up", "status": 503, "tries": 3, "body": '{"busy": true}', "metadata": 0}),
])
def test_timeouts_and_closed_connections_are_retried_then_given_up(api: Any, tmp_path: Path, answers: list[Any],
                                                                   outcome: dict[str, Any]) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.plan("POST", "/v1/tracking/", *answers)
    start = time.monotonic()
    with Sender(kustomer) as sender:
        assert list(sender.run(inputs([TRACK], kustomer_settings(api)))) == [outcome]
    assert time.monotonic() - start < 10  # bounded: three tries of a 1 s timeout, never a hang


def test_nothing_listening_gives_up(tmp_path: Path) -> None:
    with fake_api.FakeAPI() as gone:
        url = gone.url
    segment = fast(tmp_path, "segment")
    with Sender(segment) as sender:
        answer = sender.send(segment.transform(TRACK, {"writeKey": WRITE_KEY, "endpoint": f"{url}/v1"}))
    assert (answer.status, answer.error, answer.exhausted) == (None, "could not connect", True)


def test_batches_carry_sent_at_set_at_each_try_and_an_outcome_per_event(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    api.plan("POST", "/v1/batch", (500, {}, {}))
    events = [{**TRACK, "userId": f"u-{i}", "messageId": f"m-{i}"} for i in range(5)]
    with Sender(segment, concurrency=2) as sender:
        outcomes = list(sender.run(inputs(events, segment_settings(api))))
    assert outcomes == [{"outcome": "delivered", "status": 200, "tries": 2, "metadata": i} for i in range(5)]
    first, second = (json.loads(r.body) for r in api.received)
    assert [e["messageId"] for e in second["batch"]] == [f"m-{i}" for i in range(5)]
    assert set(second) == {"batch", "sentAt"} and first["batch"] == second["batch"]
    assert time.strptime(second["sentAt"], "%Y-%m-%dT%H:%M:%S.%fZ") and second["sentAt"] >= first["sentAt"]
    assert api.received[1].header("Authorization") == BASIC


def test_a_batch_over_the_servers_size_limit_is_refused_once_for_each_of_its_events(tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    events = [{**TRACK, "userId": f"u-{i}", "properties": {"pad": "x" * 200}} for i in range(10)]
    with fake_api.FakeAPI(max_batch_bytes=1000) as api, Sender(segment) as sender:
        outcomes = list(sender.run(inputs([*events, {"type": "track"}], segment_settings(api))))
        assert len(api.received) == 1
    refused = {"outcome": "failed", "status": 400, "tries": 1, "body": '{"success": false, "error": "batch over 1000 bytes"}'}
    assert outcomes[:10] == [{**refused, "metadata": i} for i in range(10)]
    assert outcomes[10]["outcome"] == "failed" and outcomes[10]["metadata"] == 10


def test_rate_limit_spaces_requests() -> None:
    limiter = RateLimiter(RateLimit(2, 0.2), threading.Event())
    start = time.monotonic()
    for _ in range(6):
        limiter.release(limiter.acquire())
    assert 0.35 <= time.monotonic() - start < 1.5  # 2 at once, then 2 more each window (0.2 s and a margin)


def test_stop_ends_the_run_with_an_outcome_for_every_input_read(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    settings = kustomer_settings(api)
    read: list[int] = []

    def endless() -> Iterator[dict[str, Any]]:
        for i in range(100_000):
            read.append(i)
            yield {"message": {**TRACK, "userId": f"u-{i}"}, "destination": {"Config": settings}, "metadata": i}

    with Sender(kustomer, concurrency=2, rate_limit=RateLimit(20, 1)) as sender:
        threading.Timer(0.3, sender.stop).start()
        outcomes = list(sender.run(endless()))
    assert [o["metadata"] for o in outcomes] == read and len(read) < 100
    delivered = [o for o in outcomes if o["outcome"] == "delivered"]
    assert {o["outcome"] for o in outcomes} == {"delivered", "interrupted"}
    # Exactly those the server got (the first window's 20 at most: the next window opens after the stop).
    assert sorted(f"u-{o['metadata']}" for o in delivered) == sorted(json.loads(r.body)["identity"]["externalId"]
                                                                     for r in api.received)
    assert 1 <= len(delivered) < 40


def test_a_stop_during_a_look_up_makes_the_event_interrupted_not_failed(api: Any, tmp_path: Path) -> None:
    kustomer = fast(tmp_path, "kustomer")
    api.plan("GET", "/v1/customers/", "hang", "hang", "hang")
    with Sender(kustomer) as sender:
        threading.Timer(0.1, sender.stop).start()
        outcomes = list(sender.run(inputs([IDENTIFY, TRACK], kustomer_settings(api))))
    # The track went out at once, beside the identify whose look-up hung until the stop.
    assert [(o["outcome"], o["metadata"]) for o in outcomes] == [("interrupted", 0), ("delivered", 1)]
    assert outcomes[0]["error"] == "the run stopped before this event's look-ups were answered"
    assert sorted(r.method for r in api.received) == ["GET", "POST"]


def test_sender_packs_by_the_batch_limits_its_settings_give(api: Any, tmp_path: Path) -> None:
    segment = fast(tmp_path, "segment")
    settings = {**segment_settings(api), "maxBatchEvents": 2}
    events = [{**TRACK, "userId": f"u-{i}", "messageId": f"m-{i}"} for i in range(5)]
    with Sender(segment) as sender:
        outcomes = list(sender.run(inputs(events, settings), settings=settings))
    assert [o["outcome"] for o in outcomes] == ["delivered"] * 5
    assert sorted(len(json.loads(r.body)["batch"]) for r in api.received) == [1, 2, 2]  # sent concurrently
