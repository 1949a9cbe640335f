"""Fan-out (an event file's for_each): one event, several requests, each accounted for with the
input's metadata, through transform_each/transform_all, process, run, send, batch and the engines'
shared step. The mapping is tests/mappings/fanout."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import transformer
from tests.test_http import KEY, new_api
from transformer import cli
from transformer.delivery import Sender
from transformer.engines.shipped import process_text, process_text_each

FOLDER = Path(__file__).resolve().parent / "mappings" / "fanout"
SETTINGS = {"token": KEY, "eventsToEvents": [{"from": "Signed Up", "to": "Lead"},
                                             {"from": "Signed Up", "to": "CompleteRegistration"},
                                             {"from": "Bought", "to": "Purchase"}]}
TWO = {"type": "track", "event": "Signed Up", "properties": {"value": 3}}
ONE = {"type": "track", "event": "Bought", "properties": {"value": 9}}
NONE = {"type": "track", "event": "Browsed", "properties": {"value": 1}}


@pytest.fixture(scope="module")
def fanout() -> transformer.Destination:
    return transformer.load(FOLDER)


def names(requests: list[Any]) -> list[Any]:
    return [r["body"]["JSON"]["event_name"] if isinstance(r, dict) else str(r) for r in requests]


def test_transform_all_gives_one_request_per_element_with_the_element_bound(fanout: Any) -> None:
    requests = fanout.transform_all(TWO, SETTINGS)
    assert [r["body"]["JSON"] for r in requests] == [{"event_name": "LEAD", "original": "Signed Up", "value": 3},
                                                     {"event_name": "COMPLETEREGISTRATION", "original": "Signed Up", "value": 3}]
    assert requests[0]["body"]["JSON"] is not requests[1]["body"]["JSON"]
    assert fanout.transform_all(NONE, SETTINGS) == []
    # A mapping without for_each: transform_all is [transform(...)].
    kustomer = transformer.load("kustomer")
    track = {"type": "track", "userId": "u-1", "event": "Signed Up"}
    assert kustomer.transform_all(track, {"apiKey": "k"}) == [kustomer.transform(track, {"apiKey": "k"})]
    assert not kustomer.fans_out and fanout.fans_out


def test_transform_gives_the_one_request_else_a_clear_error(fanout: Any) -> None:
    assert fanout.transform(ONE, SETTINGS)["body"]["JSON"]["event_name"] == "PURCHASE"
    for event, count in ((TWO, 2), (NONE, 0)):
        with pytest.raises(transformer.TransformError) as caught:
            fanout.transform(event, SETTINGS)
        assert caught.value.status_code == 400
        assert caught.value.message == (f"fanout_demo track: track.yaml for_each: the event makes {count} requests, not one "
                                        "(transform_each, transform_all and process_each give them all)")


def test_an_elements_error_names_its_index_and_hides_no_other(fanout: Any) -> None:
    settings = {**SETTINGS, "eventsToEvents": [{"from": "Signed Up", "to": "Lead"}, {"from": "Signed Up", "to": 5}]}
    each = fanout.transform_each(TWO, settings)
    assert each[0]["body"]["JSON"]["event_name"] == "LEAD"
    assert isinstance(each[1], transformer.TransformError)
    assert each[1].message == ("fanout_demo track: for_each[1]: track.yaml let.name: upper needs a string, got a number "
                               "(from standard_name)")
    with pytest.raises(transformer.TransformError, match=r"for_each\[1\]"):
        fanout.transform_all(TWO, settings)
    # The whole event's errors stay the event's: unsupported type, bad settings.
    with pytest.raises(transformer.TransformError, match="Event type 'alias' is not supported"):
        fanout.transform_each({"type": "alias"}, SETTINGS)


def test_process_gives_each_output_the_inputs_metadata_and_zero_is_one_204(fanout: Any) -> None:
    inputs = [{"message": m, "destination": {"Config": SETTINGS}, "metadata": {"id": i}}
              for i, m in enumerate([TWO, NONE, {"type": "track", "event": "Signed Up"}, {"type": "identify", "userId": "u"}])]
    results = fanout.process(inputs)
    assert [(r["statusCode"], r["metadata"]["id"]) for r in results] == [(200, 0), (200, 0), (204, 1), (400, 2), (400, 2),
                                                                           (200, 3)]
    assert results[0]["metadata"] is results[1]["metadata"] is inputs[0]["metadata"]
    assert results[2] == {"statusCode": 204, "metadata": {"id": 1},
                          "skipped": "fanout_demo: the event makes no request (its for_each list is empty or missing)"}
    assert results[3]["error"] == ("fanout_demo track: for_each[0]: track.yaml body.value: needs properties.value "
                                   "(tried properties.value)")
    assert fanout.process_each(inputs[0]) == results[:2]
    assert fanout.process_one(inputs[3])["statusCode"] == 200  # one request: process_one gives it
    assert fanout.process_one(inputs[0])["statusCode"] == 400  # several: process_one says to use process_each


def test_batch_passes_a_no_request_result_through_in_its_place(tmp_path: Path, fanout: Any) -> None:
    text = (FOLDER / "destination.yaml").read_text(encoding="utf-8")
    (tmp_path / "destination.yaml").write_text(text + "batch: {endpoint: {const: 'https://example.invalid/batch'}, key: batch, "
                                                      "max_request_bytes: 10000, max_events: 10, max_event_bytes: 1000}\n")
    for name in ("track.yaml", "identify.yaml"):
        (tmp_path / name).write_text((FOLDER / name).read_text(encoding="utf-8"))
    batching = transformer.load(tmp_path)
    results = batching.process([{"message": m, "destination": {"Config": SETTINGS}, "metadata": i}
                                for i, m in enumerate([TWO, NONE, ONE])])
    packed = batching.batch(results)
    assert [r["statusCode"] for r in packed] == [200, 204]
    assert packed[0]["metadata"] == [0, 0, 2] and len(packed[0]["output"]["body"]["JSON"]["batch"]) == 3


def test_the_engines_step_gives_every_result(fanout: Any) -> None:
    assert names([r["output"] for r in process_text_each(fanout, SETTINGS, json.dumps(TWO), "m")]) == ["LEAD", "COMPLETEREGISTRATION"]
    assert process_text_each(fanout, SETTINGS, "{nope", "m")[0]["statusCode"] == 400
    kustomer = transformer.load("kustomer")
    line = json.dumps({"type": "track", "userId": "u-1", "event": "E"})
    assert process_text_each(kustomer, {"apiKey": "k"}, line, 1) == [process_text(kustomer, {"apiKey": "k"}, line, 1)]


def test_run_writes_a_line_per_result_and_counts_no_request(tmp_path: Path, capsys: Any) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(json.dumps(e) for e in (TWO, NONE, ONE)) + "\n")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(SETTINGS))
    for jobs in ([], ["--jobs", "2"]):
        code = cli.main(["run", "-d", str(FOLDER), "-s", str(settings), *jobs, str(events)])
        out, err = capsys.readouterr()
        results = [json.loads(line) for line in out.splitlines()]
        assert code == 0
        assert [(r["statusCode"], r["metadata"]["line"]) for r in results] == [(200, 1), (200, 1), (204, 2), (200, 3)]
        assert err.splitlines()[-1] == "fanout_demo: 3 events, 4 results: 3 requests, 0 errors, 1 with no request"


def test_send_delivers_each_request_and_skips_none(tmp_path: Path, capsys: Any) -> None:
    with new_api() as api:
        settings = {**SETTINGS, "baseUrl": api.url}
        sender = Sender(transformer.load(FOLDER))
        outcomes = list(sender.run([{"message": m, "destination": {"Config": settings}, "metadata": i}
                                    for i, m in enumerate([TWO, NONE, ONE])]))
        assert [(o["outcome"], o["status"], o["metadata"]) for o in outcomes] == [
            ("delivered", 200, 0), ("delivered", 200, 0), ("no_request", 204, 1), ("delivered", 200, 2)]
        assert sorted(json.loads(r.body)["event_name"] for r in api.received) == ["COMPLETEREGISTRATION", "LEAD", "PURCHASE"]
        events = tmp_path / "events.ndjson"
        events.write_text("\n".join(json.dumps(e) for e in (TWO, NONE)) + "\n")
        settings_file = tmp_path / "settings.json"
        settings_file.write_text(json.dumps(settings))
        dead = tmp_path / "dead.ndjson"
        code = cli.main(["send", "-d", str(FOLDER), "-s", str(settings_file), "--dead-letter", str(dead), str(events)])
        out, _ = capsys.readouterr()
        assert code == 0 and dead.read_text() == ""
        assert [(json.loads(line)["outcome"], json.loads(line)["metadata"]["line"]) for line in out.splitlines()] == [
            ("delivered", 1), ("delivered", 1), ("no_request", 2)]


@pytest.mark.parametrize(("event_yaml", "expected"), [
    ("as: x\nbody: {object: {}}", "test.yaml:1: (top): 'for_each' is a dependency of 'as'"),
    ("for_each: {path: items}\nas: flag\nlet: {flag: {const: 1}}\nbody: {object: {}}",
     "test.yaml:3: let.flag: let 'flag' is the for_each element's name (as): choose another name"),
    ("for_each: {path: items}\nas: event_type\nbody: {object: {}}",
     "test.yaml:2: as: 'event_type' is already a variable here (a let of destination.yaml or event_type): choose another name"),
    ("for_each: {path: items}\nbody: {object: {a: {var: itme}}}", "test.yaml:2: body.object.a.var: unknown variable 'itme'"),
    ("for_each: {var: item}\nbody: {object: {}}", "test.yaml:1: for_each.var: unknown variable 'item'"),
])
def test_fan_out_misuse_is_a_load_error(tmp_path: Path, event_yaml: str, expected: str) -> None:
    from tests.test_mapping_errors import problems_of

    assert any(problem.startswith(expected) for problem in problems_of(tmp_path, event_yaml)), problems_of(tmp_path, event_yaml)


def test_a_for_each_value_that_is_not_a_list_is_the_events_error(tmp_path: Path) -> None:
    (tmp_path / "destination.yaml").write_text("name: demo\nsettings: {type: object}\nrequest: {method: POST, endpoint: "
                                               "{const: 'https://example.invalid/'}}\nevents: {track: track.yaml}\n")
    (tmp_path / "track.yaml").write_text("for_each: {path: properties.items}\nbody: {object: {id: {var: item}}}\n")
    demo = transformer.load(tmp_path)
    assert [r["body"]["JSON"] for r in demo.transform_all({"type": "track", "properties": {"items": [1, 2]}}, {})] == [
        {"id": 1}, {"id": 2}]
    assert demo.transform_all({"type": "track"}, {}) == []
    with pytest.raises(transformer.TransformError, match="^demo track: track.yaml for_each: must give a list, got string$"):
        demo.transform_all({"type": "track", "properties": {"items": "1"}}, {})


def test_a_fixture_of_an_event_that_fans_out_holds_every_result(fanout: Any) -> None:
    from transformer.cli import fixtures

    several = fixtures.run({"name": "two", "event": TWO, "settings": SETTINGS}, fanout)
    assert [r["output"]["body"]["JSON"]["event_name"] for r in several["results"]] == ["LEAD", "COMPLETEREGISTRATION"]
    assert fixtures.run({"name": "none", "event": NONE, "settings": SETTINGS}, fanout) == {
        "statusCode": 204, "skipped": "fanout_demo: the event makes no request (its for_each list is empty or missing)"}
    assert fixtures.run({"name": "one", "event": ONE, "settings": SETTINGS}, fanout)["statusCode"] == 200


def test_send_with_a_journal_resends_no_input_whose_every_request_was_delivered(tmp_path: Path) -> None:
    """An input that fans out is recorded once all its requests are known: delivered only if every
    one was. A second run skips it; nothing is sent twice."""
    from transformer.delivery.journal import Journal

    with new_api() as api:
        settings = {**SETTINGS, "baseUrl": api.url}
        items = [{"message": m, "destination": {"Config": settings}, "metadata": i} for i, m in enumerate([TWO, ONE])]
        with Journal(tmp_path / "journal") as journal, Sender(transformer.load(FOLDER)) as sender:
            first = [(o["outcome"], o["metadata"]) for o in sender.run(items, journal=journal)]
        assert first == [("delivered", 0), ("delivered", 0), ("delivered", 1)]
        sent = len(api.received)
        with Journal(tmp_path / "journal") as journal, Sender(transformer.load(FOLDER)) as sender:
            again = [(o["outcome"], o["metadata"]) for o in sender.run(items, journal=journal)]
        assert again == [("skipped", 0), ("skipped", 1)] and len(api.received) == sent


def test_text_that_is_not_json_is_worded_alike_with_or_without_fan_out() -> None:
    fanning, plain = transformer.load(FOLDER), transformer.load("kustomer")
    [fanned] = process_text_each(fanning, SETTINGS, '{"type": "track"', 7)
    single = process_text(plain, {"apiKey": "k"}, '{"type": "track"', 7)
    assert fanned["statusCode"] == single["statusCode"] == 400 and fanned["metadata"] == single["metadata"] == 7
    assert fanned["error"].split(": ", 1)[1] == single["error"].split(": ", 1)[1]
    assert "not valid JSON: " in fanned["error"]
