"""Batching groups by key within a bounded window, keeps its order rule and every limit, and
batches only the requests ``batch.when`` and the batch endpoint rule select."""
from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

import transformer
from tests.docs_pages import page
from transformer.runtime import batching

ROOT = Path(__file__).resolve().parent.parent
SEGMENT = transformer.load("segment")

# A destination with small limits, so the window's bounds are reached with few events. Only
# requests whose body has an "event" (track) are batched; a "skip" request gives no batch endpoint.
SMALL = """\
name: small
settings: {type: object, required: [key], properties: {key: {type: string}}}
secrets: [key]
request:
  method: POST
  endpoint: {template: "https://example.invalid/v1/{event_type}"}
  headers: {Authorization: {setting: key}}
events: {track: events.yaml, identify: events.yaml, skip: skip.yaml}
batch:
  endpoint:
    template: "{parent}/batch"
    vars: {parent: {path: endpoint, then: [{coerce: url_parent}]}}
    when: {not: {present: {path: params.single}}}
  when: {present: {path: body.JSON.event}}
  key: batch
  max_request_bytes: 120
  max_events: 4
  max_event_bytes: 60
"""
EVENTS = """\
body:
  object:
    event: {path: event}
    n: {path: n}
"""
SKIP = """\
request:
  params: {single: {const: "yes"}}
body: {object: {event: {path: event}}}
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> transformer.Destination:
    folder = tmp_path_factory.mktemp("small")
    for name, text in (("destination.yaml", SMALL), ("events.yaml", EVENTS), ("skip.yaml", SKIP)):
        (folder / name).write_text(text)
    return transformer.load(folder)


def segment_results(keys: list[str], error_every: int = 0) -> list[dict[str, Any]]:
    """Segment results for events whose write keys are ``keys``; every ``error_every``-th is an error."""
    inputs = []
    for i, key in enumerate(keys):
        message: dict[str, Any] = {"type": "track", "userId": f"u-{i}", "event": "Viewed", "properties": {"i": i}}
        if error_every and i % error_every == 0:
            del message["event"]
        inputs.append({"message": message, "destination": {"Config": {"writeKey": key}}, "metadata": i})
    return SEGMENT.process(inputs)


def check_packing(destination: transformer.Destination, results: list[dict[str, Any]],
                  packed: list[dict[str, Any]]) -> None:
    """Every event once; each batch within every limit and of one key; the order rule: each output
    stands where its first event stood."""
    limits = destination.batch_limits()

    def check_batch(out: dict[str, Any], members: list[dict[str, Any]]) -> None:
        bodies = out["output"]["body"]["JSON"]["batch"]
        assert len(bodies) == len(out["metadata"]) <= limits["max_events"]
        size = len(transformer.runtime.wire.compact_json(out["output"]["body"]["JSON"]).encode())
        assert size <= limits["max_request_bytes"]
        assert len({destination.batch_key(m) for m in members}) == 1
        assert bodies == [m["output"]["body"]["JSON"] for m in members]

    check_every_event_once_in_order(results, packed, check_batch)


def check_every_event_once_in_order(results: list[dict[str, Any]], packed: list[dict[str, Any]],
                                    check_batch: Any) -> None:
    """``check_batch(out, member results)`` on each batch; every event once; the order rule: each
    output stands where its first event stood."""
    by_metadata = {r["metadata"]: r for r in results}
    firsts, seen = [], []
    for out in packed:
        if "output" in out and isinstance(out["metadata"], list):
            check_batch(out, [by_metadata[m] for m in out["metadata"]])
            firsts.append(out["metadata"][0])
            seen.extend(out["metadata"])
        else:
            firsts.append(out["metadata"])
            seen.append(out["metadata"])
    assert sorted(seen) == sorted(r["metadata"] for r in results), "an event lost or duplicated"
    assert firsts == sorted(firsts), "an output does not stand where its first event stood"


def test_interleaved_keys_pack_into_one_batch_per_key() -> None:
    results = segment_results(["key-a", "key-b"] * 2000)
    packed = SEGMENT.batch(results)
    check_packing(SEGMENT, results, packed)
    assert len(packed) == 2  # 2,000 events per key fit in one batch each; consecutive-only made 4,000
    assert packed[0]["metadata"] == list(range(0, 4000, 2))


def test_errors_and_batches_keep_the_order_rule() -> None:
    results = segment_results(["key-a", "key-b", "key-c"] * 300, error_every=7)
    packed = SEGMENT.batch(results)
    check_packing(SEGMENT, results, packed)
    assert [out["statusCode"] for out in packed][:3] == [400, 200, 200]  # error 0 stood first; then a's, b's
    assert len([out for out in packed if out["statusCode"] == 200]) == 3


def test_when_false_or_no_batch_endpoint_passes_through_single(small: transformer.Destination) -> None:
    inputs = [{"message": {"type": kind, "event": "E", "n": i} if kind != "identify" else {"type": kind, "n": i},
               "destination": {"Config": {"key": "k"}}, "metadata": i}
              for i, kind in enumerate(["track", "identify", "skip", "track"])]
    results = small.process(inputs)
    assert [small.batch_key(r) is None for r in results] == [False, True, True, False]
    packed = small.batch(results)  # never a ValueError for the request without a batch endpoint
    assert packed[0]["output"]["endpoint"] == "https://example.invalid/v1/batch"
    assert packed[0]["metadata"] == [0, 3]
    assert packed[1:] == [results[1], results[2]]  # as they came, where they stood


def test_a_batch_rule_that_fails_on_a_request_is_that_requests_error(small: transformer.Destination) -> None:
    [result] = small.process([{"message": {"type": "track", "event": "E"}, "destination": {"Config": {"key": "k"}},
                               "metadata": 1}])
    result["output"]["endpoint"] = 7  # built elsewhere: the batch endpoint rule cannot read it
    [packed] = small.batch([result])
    assert packed["statusCode"] == 400 and packed["metadata"] == 1
    assert packed["error"].startswith("small: destination.yaml batch.endpoint")


def small_results(small: transformer.Destination, keys: list[int]) -> list[dict[str, Any]]:
    """Track events with key ``k<key>``; a negative key is an identify, never batched."""
    return small.process([{"message": {"type": "track", "event": "E", "n": i} if key >= 0 else {"type": "identify", "n": i},
                           "destination": {"Config": {"key": f"k{key}"}}, "metadata": i}
                          for i, key in enumerate(keys)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-1, 20), max_size=120))
def test_any_mix_keeps_every_limit_every_event_and_the_order(small: transformer.Destination, keys: list[int]) -> None:
    results = small_results(small, keys)
    check_packing(small, results, small.batch(results))


def test_a_rare_key_does_not_hold_everything_behind_it(small: transformer.Destination) -> None:
    """The oldest open batch closes early once the bounds are passed: memory stays bounded."""
    keys = [0] + [1] * 200 + [0] + [-1] * (batching.HELD_RESULTS + 50) + [0]
    results = small_results(small, keys)
    consumed = 0

    def feed() -> Iterator[dict[str, Any]]:
        nonlocal consumed
        for result in results:
            consumed += 1
            yield result

    produced = 0
    most_behind = 0
    for out in small.iter_batches(feed()):
        produced += len(out["metadata"]) if isinstance(out["metadata"], list) else 1
        most_behind = max(most_behind, consumed - produced)
    packed = small.batch(results)
    check_packing(small, results, packed)
    # Held back: 16 full batches of 4 events plus 10,000 passing results, give or take the open ones.
    assert most_behind <= batching.HELD_RESULTS + (batching.HELD_BATCHES + batching.OPEN_BATCHES + 2) * 4
    key0 = [out["metadata"] for out in packed if isinstance(out["metadata"], list) and 0 in out["metadata"]]
    assert key0 == [[0]]  # closed early after 16 full batches of key 1 waited behind it


def test_more_keys_than_open_batches_still_keep_every_event(small: transformer.Destination) -> None:
    keys = list(range(batching.OPEN_BATCHES + 4)) * 3
    results = small_results(small, keys)
    packed = small.batch(results)
    check_packing(small, results, packed)


def test_batch_when_misuse_is_a_load_error(tmp_path: Path) -> None:
    for when, message in (("{setting: nope}", "batch.when.setting: unknown setting 'nope'"),
                          ("{bogus: 1}", "batch.when")):
        (tmp_path / "destination.yaml").write_text(SMALL.replace("{present: {path: body.JSON.event}}", when))
        (tmp_path / "events.yaml").write_text(EVENTS)
        (tmp_path / "skip.yaml").write_text(SKIP)
        with pytest.raises(transformer.MappingError) as caught:
            transformer.load(tmp_path)
        shown = [str(p) for p in caught.value.problems]
        assert any("destination.yaml:14:" in s and message in s for s in shown), shown


def test_batch_key_and_limits_are_public() -> None:
    error, ok = segment_results(["key-a", "key-b"], error_every=2)  # event 0 is an error
    assert SEGMENT.batch_key(error) is None
    key = SEGMENT.batch_key(ok)
    assert key is not None and "key-b" not in key
    assert SEGMENT.batch_limits() == {"max_events": 2500, "max_request_bytes": 475000, "max_event_bytes": 32000,  # defaults
                                    "envelope_bytes": len('{"batch":[]}')}
    with pytest.raises(ValueError, match="declares no batching"):
        transformer.load("kustomer").batch_key(ok)


def test_the_docs_batch_when_example() -> None:
    section = page("language/destination-yaml.md").split("**Batching only some requests.**", 1)[1]
    when = "  " + section.split("`when: ", 1)[1].split("`", 1)[0].join(["when: ", "\n"])
    texts = {path.name: path.read_text(encoding="utf-8") for path in SEGMENT.folder.glob("*.yaml")}
    texts["destination.yaml"] = texts["destination.yaml"].replace("\nbatch:\n", "\nbatch:\n" + when)
    only_track = transformer.Destination(transformer.language.loader.load_mapping(SEGMENT.folder, texts))
    results = only_track.process([{"message": {"type": kind, "userId": "u", "event": "E"},
                                   "destination": {"Config": {"writeKey": "wk"}}, "metadata": i}
                                  for i, kind in enumerate(["track", "identify", "track", "page"])])
    packed = only_track.batch(results)
    assert [out["metadata"] for out in packed] == [[0, 2], 1, 3]
    assert [out["output"]["endpoint"].rsplit("/", 1)[1] for out in packed] == ["batch", "identify", "page"]


# batch.concat: bodies' lists concatenated, each within its own limit; "tag" is an other key.
CONCAT = """\
name: lists
settings: {type: object, required: [key], properties: {key: {type: string}}}
request:
  method: POST
  endpoint: {const: "https://example.invalid/v1/track"}
  headers: {Authorization: {setting: key}}
events: {track: events.yaml}
batch:
  endpoint: {path: endpoint}
  concat: {a: 3, b: 2}
  max_request_bytes: 60
  max_events: 4
  max_event_bytes: 50
"""
CONCAT_EVENTS = """\
body:
  object:
    tag: {path: tag}
    a: {path: a}
    b: {path: b}
"""


def concat_destination(folder: Path, limits: str = "") -> transformer.Destination:
    text = CONCAT if not limits else CONCAT.replace("  max_request_bytes: 60\n", f"  max_request_bytes: {limits}\n")
    (folder / "destination.yaml").write_text(text)
    (folder / "events.yaml").write_text(CONCAT_EVENTS)
    return transformer.load(folder)


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> transformer.Destination:
    return concat_destination(tmp_path_factory.mktemp("lists"))


def list_results(destination: transformer.Destination, bodies: list[dict[str, Any]], key: str = "k") -> list[dict[str, Any]]:
    return destination.process([{"message": {"type": "track", **body}, "destination": {"Config": {"key": key}},
                                 "metadata": i} for i, body in enumerate(bodies)])


def check_concat(destination: transformer.Destination, results: list[dict[str, Any]],
                 packed: list[dict[str, Any]]) -> None:
    """Every event once and in order inside its batch; each batch within every limit, of one key,
    its lists the members' lists concatenated and its other keys theirs; the order rule."""
    limits = destination.batch_limits()

    def check_batch(out: dict[str, Any], results_in: list[dict[str, Any]]) -> None:
        body = out["output"]["body"]["JSON"]
        assert len(out["metadata"]) <= limits["max_events"]
        assert len(transformer.runtime.wire.compact_json(body).encode()) <= limits["max_request_bytes"]
        members = [r["output"]["body"]["JSON"] for r in results_in]
        assert len({destination.batch_key(r) for r in results_in}) == 1
        assert out["metadata"] == sorted(out["metadata"])
        for name, limit in limits["concat"].items():
            items = [item for member in members for item in member.get(name, [])]
            assert body.get(name, []) == items and len(items) <= limit
        assert all({k: v for k, v in m.items() if k not in limits["concat"]} ==
                   {k: v for k, v in body.items() if k not in limits["concat"]} for m in members)

    check_every_event_once_in_order(results, packed, check_batch)


def test_concat_joins_lists_each_within_its_limit(lists: transformer.Destination) -> None:
    results = list_results(lists, [{"a": [1, 2]}, {"b": [3]}, {"a": [4], "b": [5]}, {"a": [6]}])
    packed = lists.batch(results)
    check_concat(lists, results, packed)
    assert [out["output"]["body"]["JSON"] for out in packed] == [{"a": [1, 2, 4], "b": [3, 5]}, {"a": [6]}]
    assert [out["metadata"] for out in packed] == [[0, 1, 2], [3]]  # a would have held 4 items
    assert lists.batch_limits() == {"max_events": 4, "max_request_bytes": 60, "max_event_bytes": 50,
                                    "concat": {"a": 3, "b": 2}}


def test_concat_bodies_whose_other_keys_differ_never_share_a_batch(lists: transformer.Destination) -> None:
    results = list_results(lists, [{"tag": "x", "a": [1]}, {"tag": "y", "a": [2]}, {"tag": "x", "a": [3]}, {"a": [4]}])
    packed = lists.batch(results)
    check_concat(lists, results, packed)
    assert [out["output"]["body"]["JSON"] for out in packed] == [{"tag": "x", "a": [1, 3]}, {"tag": "y", "a": [2]}, {"a": [4]}]
    assert lists.batch_key(results[0]) == lists.batch_key(results[2]) != lists.batch_key(results[1])


def test_concat_a_body_over_a_list_limit_is_an_error_in_its_place(lists: transformer.Destination) -> None:
    results = list_results(lists, [{"a": [1]}, {"b": [1, 2, 3]}, {"a": "no list"}, {"a": [2]}])
    packed = lists.batch(results)
    check_concat(lists, results, packed)
    assert [out["metadata"] for out in packed] == [[0, 3], 1, 2]
    assert packed[1] == {"error": "lists: the event has 3 b, over the batch limit of 2 b per request",
                         "statusCode": 400, "metadata": 1}
    assert packed[2]["statusCode"] == 400 and "body key a must be a list, got string" in packed[2]["error"]
    assert lists.batch_key(results[2]) is None


@pytest.mark.parametrize("bodies", [
    [{"a": [1]}, {"a": [22]}],  # the second joins a list
    [{"a": [1]}, {"b": [22]}],  # the second adds a list
    [{"tag": "t", "a": [1]}, {"tag": "t", "b": [2, 3]}],  # after other keys
    [{"tag": "t"}, {"tag": "t", "a": ["x"]}],  # the first has no items
    [{"a": []}, {"b": ["é"]}],  # an empty list is left out; UTF-8 bytes counted
])
def test_concat_counts_the_batch_body_to_the_byte(tmp_path: Path, bodies: list[dict[str, Any]]) -> None:
    lists = concat_destination(tmp_path)
    joined = lists.batch(list_results(lists, bodies))[0]["output"]["body"]["JSON"]
    size = len(transformer.runtime.wire.compact_json(joined).encode())
    for limit, batches in ((size, 1), (size - 1, 2)):
        sized = concat_destination(tmp_path, str(limit))
        assert len(sized.batch(list_results(sized, bodies))) == batches, (limit, joined)


def test_concat_batches_work_per_group_as_engines_pack_them(lists: transformer.Destination) -> None:
    results = list_results(lists, [{"tag": t, "a": [i]} for i, t in enumerate("xyxxyxxz")] + [{"a": "bad"}])
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(lists.batch_key(result), []).append(result)
    per_group = [out for group in groups.values() for out in lists.iter_batches(group)]
    whole = lists.batch(results)
    assert sorted(map(repr, per_group)) == sorted(map(repr, whole))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "x", "y"]), st.integers(0, 4), st.integers(0, 3), st.sampled_from(["k", "j"])),
                max_size=60))
def test_any_concat_mix_keeps_every_limit_every_event_and_the_order(
        lists: transformer.Destination, events: list[tuple[str, int, int, str]]) -> None:
    inputs = []
    for i, (tag, a, b, key) in enumerate(events):
        message: dict[str, Any] = {"type": "track", "a": list(range(a)), "b": [i] * b}
        if tag:
            message["tag"] = tag
        inputs.append({"message": message, "destination": {"Config": {"key": key}}, "metadata": i})
    results = lists.process(inputs)
    check_concat(lists, results, lists.batch(results))


def test_batch_needs_exactly_one_of_key_concat_and_array(tmp_path: Path) -> None:
    for text in (CONCAT.replace("  concat:", "  key: batch\n  concat:"), CONCAT.replace("  concat: {a: 3, b: 2}\n", "")):
        (tmp_path / "destination.yaml").write_text(text)
        (tmp_path / "events.yaml").write_text(CONCAT_EVENTS)
        with pytest.raises(transformer.MappingError) as caught:
            transformer.load(tmp_path)
        shown = [str(p) for p in caught.value.problems]
        assert shown == [f"{tmp_path / 'destination.yaml'}:8: batch: give exactly one of: key, concat, array"], shown


def test_the_docs_batch_concat_example(tmp_path: Path) -> None:
    section = page("language/destination-yaml.md").split("**Batching by concatenating lists.**", 1)[1]
    concat = section.split("`concat: ", 1)[1].split("`", 1)[0]
    (tmp_path / "destination.yaml").write_text(CONCAT.replace("{a: 3, b: 2}", concat))
    (tmp_path / "events.yaml").write_text("body: {object: {events: {path: events}, purchases: {path: purchases}}}\n")
    braze_like = transformer.load(tmp_path)
    assert braze_like.batch_limits()["concat"] == {"attributes": 75, "events": 75, "purchases": 75}
    [batch] = braze_like.batch(list_results(braze_like, [{"events": ["e1"]}, {"purchases": ["p"], "events": ["e2"]}]))
    assert batch["output"]["body"]["JSON"] == {"events": ["e1", "e2"], "purchases": ["p"]}


def test_requests_whose_params_differ_never_share_a_batch(tmp_path: Path) -> None:
    """A setting may put a credential in a query parameter: inputs with other settings must not be
    packed under the first one's (the Meta example's access_token)."""
    meta = transformer.load(ROOT / "examples" / "mappings" / "meta_capi")
    event = {"type": "page", "messageId": "m-1", "timestamp": "2024-01-02T03:04:05Z", "name": "Home",
             "context": {"page": {"url": "https://shop.example.com/"}, "userAgent": "Mozilla/5.0", "ip": "203.0.113.7"}}
    results = [{"output": meta.transform(event, {"pixelId": "1234567890", "accessToken": token}), "statusCode": 200,
                "metadata": index} for index, token in enumerate(["token-a", "token-b", "token-a"])]
    packed = meta.batch(results)
    assert [(r["output"]["params"]["access_token"], r["metadata"]) for r in packed] == [("token-a", [0, 2]),
                                                                                        ("token-b", [1])]
