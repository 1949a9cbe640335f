"""The public API's promises: names, purity, the processor shape and the installed wheel."""
from __future__ import annotations

import copy
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer import TransformError

ROOT = Path(__file__).resolve().parent.parent
KUSTOMER = transformer.load("kustomer")
SEGMENT = transformer.load("segment")


def test_load_by_name_and_by_path() -> None:
    assert transformer.load("kustomer").name == "kustomer"
    assert transformer.load(ROOT / "mappings" / "segment").name == "segment"
    assert transformer.load(str(ROOT / "mappings" / "kustomer")).event_types == ("identify", "track", "page", "screen")


def test_transform_leaves_its_inputs_untouched_and_shares_nothing_with_them() -> None:
    message = {"type": "track", "userId": "u", "event": "E", "properties": {
        "kustomerSessionId": "s", "kustomer_tracking_id": "t", "email": "e@x", "nested": {"list": [1, 2]}}}
    settings = {"apiKey": "k-untouched", "setIdentityEmail": True, "disableEmailAsTrackingProperty": True,
                "advancedTransform": True}
    before = copy.deepcopy((message, settings))
    output = KUSTOMER.transform(message, settings)
    assert (message, settings) == before
    output["headers"]["Authorization"] = "changed"
    output["body"]["JSON"]["event"]["meta"]["nested"] = "changed"
    assert KUSTOMER.transform(message, settings)["headers"]["Authorization"] == "Bearer k-untouched"
    assert (message, settings) == before


def test_process_never_raises_and_keeps_metadata_identity() -> None:
    metadata = {"job": object()}
    inputs: list[Any] = [None, 3, {"message": {"type": "track"}, "destination": {"Config": {"apiKey": "k-1234"}},
                                   "metadata": metadata}]
    results = KUSTOMER.process(inputs)
    assert [r["statusCode"] for r in results] == [400, 400, 400]
    assert results[2]["metadata"] is metadata


def test_transform_error_carries_status_code() -> None:
    with pytest.raises(TransformError) as caught:
        KUSTOMER.transform({"type": "track", "userId": "u"}, {})
    assert caught.value.status_code == 400
    assert str(caught.value) == "kustomer: configuration error: setting apiKey is required"


def test_batch_packs_and_refuses_what_it_cannot_pack() -> None:
    settings = {"writeKey": "wk-batch-1"}
    results = SEGMENT.process([{"message": {"type": "track", "userId": f"u{i}", "event": "E"},
                                "destination": {"Config": settings}, "metadata": i} for i in range(3)])
    [packed] = SEGMENT.batch(results)
    assert packed["metadata"] == [0, 1, 2]
    assert packed["output"]["endpoint"] == "https://api.segment.io/v1/batch"
    with pytest.raises(ValueError, match="item 0 is not a result"):
        SEGMENT.batch([{"nonsense": True}])
    with pytest.raises(ValueError, match="declares no batching"):
        KUSTOMER.batch(results)


def test_batch_turns_an_oversized_result_into_an_error_in_place() -> None:
    results = SEGMENT.process([{"message": {"type": "track", "userId": "u", "event": "E"},
                                "destination": {"Config": {"writeKey": "wk-batch-2"}}, "metadata": i} for i in range(3)])
    results[1]["output"]["body"]["JSON"]["properties"] = {"pad": "x" * 40_000}  # built elsewhere, too big to batch
    packed = SEGMENT.batch(results)
    assert [r["statusCode"] for r in packed] == [200, 400]
    assert packed[0]["metadata"] == [0, 2]
    assert "over the batch limit of 32000 bytes per event" in packed[1]["error"]  # maxEventBytes, by default


def test_the_wheel_ships_the_engine_schema_and_mappings(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ["transformer/__init__.py", "transformer/py.typed", "transformer/language/mapping.schema.json",
                   "transformer/mappings/kustomer/destination.yaml", "transformer/mappings/kustomer/tracking.yaml",
                   "transformer/mappings/segment/destination.yaml", "transformer/mappings/segment/alias.yaml"]:
        assert needed in names


def test_the_engine_knows_no_destination() -> None:
    words = [*transformer.builtin_destinations(), "kustomerapp", "segment.io", "segmentapis", "writeKey", "apiKey",
             "rudderstack", "braze"]  # braze: the example destination in examples/mappings/
    for path in (ROOT / "transformer").rglob("*.*"):
        text = path.read_text(encoding="utf-8").lower()
        for word in words:
            assert word.lower() not in text, f"{path.name} mentions {word}"
