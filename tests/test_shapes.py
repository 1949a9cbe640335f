"""Unrouted event types (other_events, settings_checked) and the shapes real APIs need (prune,
default: null, bare-array bodies, batch.array, batch.headers)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import transformer
from transformer.language.functions import StepError, prune

BASE: dict[str, Any] = {"name": "demo", "settings": {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}},
                        "request": {"method": "POST", "endpoint": {"const": "https://example.invalid/one"}},
                        "events": {"track": "track.yaml"}}
OK = {"key": "k"}


def load(tmp_path: Path, files: dict[str, Any], **destination: Any) -> transformer.Destination:
    (tmp_path / "destination.yaml").write_text(yaml.safe_dump({**BASE, **destination}))
    for name, spec in files.items():
        (tmp_path / name).write_text(yaml.safe_dump(spec))
    return transformer.load(tmp_path)


def problems(tmp_path: Path, files: dict[str, Any], **destination: Any) -> list[str]:
    with pytest.raises(transformer.MappingError) as caught:
        load(tmp_path, files, **destination)
    return [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems]


def test_prune_drops_null_empty_objects_and_lists_at_any_depth_and_nothing_else() -> None:
    assert prune({"a": {"b": None, "c": [{}, []]}, "d": "", "e": 0, "f": False, "g": [1, None]}) == {"d": "", "e": 0, "f": False, "g": [1]}
    assert prune([None, {}]) == [] and prune({}) == {}
    with pytest.raises(StepError, match="prune needs an object or an array, got a string"):
        prune("x")


def test_default_null_sends_null_and_nothing_else_changes(tmp_path: Path) -> None:
    demo = load(tmp_path, {"track.yaml": {"body": {"object": {"a": {"path": "x", "default": None}, "b": {"path": "y"},
                                                              "c": {"path": "z", "default": None}}}}})
    assert demo.transform({"type": "track", "z": 5}, OK)["body"]["JSON"] == {"a": None, "c": 5}


def test_other_events_file_takes_every_other_type_and_keeps_no_state_per_type(tmp_path: Path) -> None:
    demo = load(tmp_path, {"track.yaml": {"body": {"object": {"t": {"const": "track"}}}},
                           "other.yaml": {"body": {"object": {"t": {"var": "event_type"},
                                                              "k": {"case": {"var": "event_type"}, "values": {"page": {"const": "view"}}}}}}},
                other_events={"file": "other.yaml"})
    assert demo.transform({"type": "track"}, OK)["body"]["JSON"] == {"t": "track"}
    assert demo.transform({"type": "Page"}, OK)["body"]["JSON"] == {"t": "page", "k": "view"}
    for i in range(50):
        assert demo.transform({"type": f"custom{i}"}, OK)["body"]["JSON"] == {"t": f"custom{i}"}
    assert demo.explain({"type": "page"}, OK)["file"] == "other.yaml"
    with pytest.raises(transformer.TransformError, match="^demo: Event type is required$"):
        demo.transform({}, OK)
    state = demo._settings.state(OK)  # noqa: SLF001 - the per-settings cache must not grow with arbitrary types
    assert set(state.types) == {"track"}


def test_other_events_error_and_settings_checked_order(tmp_path: Path) -> None:
    files = {"track.yaml": {"body": {"object": {}}}}
    demo = load(tmp_path, files, other_events={"error": "unsupported event: {type}"})
    results = demo.process([{"message": {"type": "Alias"}, "destination": {"Config": OK}, "metadata": 1},
                            {"message": {"type": "Alias"}, "destination": {"Config": {}}, "metadata": 2}])
    assert [r["error"] for r in results] == ["demo: unsupported event: Alias", "demo: configuration error: setting key is required"]
    after = load(tmp_path, files, other_events={"error": "unsupported event: {type}"}, settings_checked="after_event_type")
    assert after.process_one({"message": {"type": "Alias"}, "destination": {"Config": {}}})["error"] == "demo: unsupported event: Alias"
    assert after.process_one({"message": {"type": "track"}, "destination": {"Config": {}}})["error"] == (
        "demo: configuration error: setting key is required")


def test_misuse_is_a_load_error_with_file_line_and_path(tmp_path: Path) -> None:
    files = {"track.yaml": {"body": {"object": {}}}}
    assert problems(tmp_path, files, other_events={"file": "othr.yaml"}) == [
        "destination.yaml:5: other_events.file: no file 'othr.yaml' in the mapping folder"]
    assert problems(tmp_path, files, other_events={"file": "a.yaml", "error": "x"}) == [
        "destination.yaml:4: other_events: {'error': 'x', 'file': 'a.yaml'} has too many properties"]
    assert problems(tmp_path, files, settings_checked="later") == [
        "destination.yaml:15: settings_checked: 'later' is not one of ['before_event_type', 'after_event_type']"]
    batch = {"endpoint": {"const": "https://example.invalid/b"}, "array": False, "max_request_bytes": 100, "max_events": 2,
             "max_event_bytes": 50}
    assert problems(tmp_path, files, batch=batch) == ["destination.yaml:2: batch.array: True was expected"]
    assert problems(tmp_path, files, batch={**batch, "array": True, "headers": {"X": {"settin": "key"}}}) == [
        "destination.yaml:7: batch.headers.X.settin: unknown key 'settin' (did you mean `setting`?)"]


def test_batch_array_and_batch_only_headers(tmp_path: Path) -> None:
    batch = {"endpoint": {"const": "https://example.invalid/many"}, "array": True, "max_request_bytes": 60, "max_events": 10,
             "max_event_bytes": 40, "headers": {"X-Batch": {"const": "1"}, "X-Endpoint": {"path": "endpoint"},
                                                "X-None": {"path": "nowhere"}}}
    demo = load(tmp_path, {"track.yaml": {"body": {"first": [{"list": [{"object": {"id": {"path": "userId"}}}],
                                                               "when": {"present": {"path": "userId"}}},
                                                              {"object": {"anon": {"const": True}}}]}}}, batch=batch)
    results = demo.process([{"message": {"type": "track", "userId": f"u{i}"}, "destination": {"Config": OK}, "metadata": i}
                            for i in range(5)] + [{"message": {"type": "track"}, "destination": {"Config": OK}, "metadata": 5}])
    packed = demo.batch(results)
    bodies = [b["output"]["body"]["JSON"] for b in packed]
    assert bodies == [[{"id": "u0"}, {"id": "u1"}, {"id": "u2"}, {"id": "u3"}], [{"id": "u4"}, {"anon": True}]]
    assert all(len(transformer.runtime.wire.compact_json(b)) <= 60 for b in bodies)
    assert packed[0]["output"]["headers"] == {"X-Batch": "1", "X-Endpoint": "https://example.invalid/one"}
    assert [b["metadata"] for b in packed] == [[0, 1, 2, 3], [4, 5]]
    assert demo.batch_limits()["envelope_bytes"] == 2
    assert "X-Batch" not in results[0]["output"]["headers"]


def test_a_failing_batch_header_rule_is_each_events_error(tmp_path: Path) -> None:
    batch = {"endpoint": {"const": "https://example.invalid/many"}, "array": True, "max_request_bytes": 1000, "max_events": 10,
             "max_event_bytes": 400, "headers": {"X": {"path": "body.JSON", "then": [{"coerce": "upper"}]}}}
    demo = load(tmp_path, {"track.yaml": {"body": {"object": {"a": {"const": 1}}}}}, batch=batch)
    [packed] = demo.batch(demo.process([{"message": {"type": "track"}, "destination": {"Config": OK}, "metadata": i}
                                        for i in range(2)]))
    assert packed["statusCode"] == 400 and packed["metadata"] == [0, 1]
    assert packed["error"].startswith("demo: batch.headers.X: ")
