"""Shared by the engine tests (tests/test_beam.py, tests/test_spark.py): the same events through
an engine and in-process, and the checks on what the engine built."""
from __future__ import annotations

import json
from typing import Any

import transformer
from bench.events import generate
from transformer import wire

KUSTOMER_SETTINGS = {"apiKey": "engine-test-key", "advancedTransform": True}
SEGMENT_SETTINGS = {"writeKey": "engine-test-write-key"}


def event_lines(count: int) -> list[tuple[int, str]]:
    """(index, JSON text) of ``count`` realistic events, with a line that is not JSON and an
    event that cannot be transformed now and then."""
    lines = []
    for index, (event, _) in enumerate(generate(count)):
        text = json.dumps(event)
        if index % 997 == 5:
            text = text[:-1]
        elif index % 499 == 3:
            text = json.dumps({"type": "alias"})
        lines.append((index, text))
    return lines


def customers(lines: list[tuple[int, str]]) -> dict[tuple[str, Any], Any]:
    """Every third identified user is a known customer, by externalId (their userId)."""
    table: dict[tuple[str, Any], Any] = {}
    for index, text in lines:
        try:
            event = json.loads(text)
        except ValueError:
            continue
        if event.get("type") == "identify" and "userId" in event and index % 3 == 0:
            table[("externalId", event["userId"])] = f"c{index}"
    return table


def in_process(name: str, settings: Any, lines: list[tuple[int, str]], table: Any = None) -> list[dict[str, Any]]:
    from transformer.engines import process_text

    destination = transformer.load(name)
    lookup = transformer.table_lookup(table) if table is not None else None
    return [process_text(destination, settings, text, index, lookup=lookup) for index, text in lines]


def by_metadata(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda result: result["metadata"])


def check_batches(destination: transformer.Destination, results: list[dict[str, Any]],
                  packed: list[dict[str, Any]]) -> None:
    """Each batch within every limit and of one key; every event once, as in-process gave it."""
    limits = destination.batch_limits
    expected = {result["metadata"]: result for result in results}
    seen: list[int] = []
    for out in packed:
        if out["statusCode"] == 200 and isinstance(out["metadata"], list):
            body = out["output"]["body"]["JSON"]
            assert len(body["batch"]) == len(out["metadata"]) <= limits["max_events"]
            assert len(wire.compact_json(body).encode("utf-8")) <= limits["max_request_bytes"]
            members = [expected[m] for m in out["metadata"]]
            assert len({destination.batch_key(m) for m in members}) == 1
            assert body["batch"] == [m["output"]["body"]["JSON"] for m in members]
            seen.extend(out["metadata"])
        else:
            assert out == expected[out["metadata"]]
            seen.append(out["metadata"])
    assert sorted(seen) == sorted(expected), "an event lost or duplicated"
