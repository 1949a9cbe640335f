"""Shared by the engine tests (tests/test_beam.py, tests/test_spark.py): the same events through
an engine and in-process, and the checks on what the engine built."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import transformer
from bench.events import generate
from tests.docs_pages import blocks, page
from transformer.runtime import wire

KUSTOMER_SETTINGS = {"apiKey": "engine-test-key", "advancedTransform": True}
SEGMENT_SETTINGS = {"writeKey": "engine-test-write-key"}
ROOT = Path(__file__).resolve().parent.parent


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
    from transformer.engines.shipped import process_text

    destination = transformer.load(name)
    lookup = transformer.table_lookup(table) if table is not None else None
    return [process_text(destination, settings, text, index, lookup=lookup) for index, text in lines]


def by_metadata(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda result: result["metadata"])


def check_batches(destination: transformer.Destination, results: list[dict[str, Any]],
                  packed: list[dict[str, Any]]) -> None:
    """Each batch within every limit and of one key; every event once, as in-process gave it."""
    limits = destination.batch_limits()
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


def readme_examples() -> list[str]:
    """The engine examples of docs/engines.md (```python {.engines} blocks: Python on GitHub and the
    site, left out of the examples every test run runs), in order: Beam, Spark, the two-pass join."""
    return blocks(page("engines.md"), "python {.engines}")


def run_readme_example(code: str, folder: Path, monkeypatch: Any) -> None:
    """Run one docs example in ``folder``, where ``examples/`` is the repository's."""
    (folder / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "argv", ["example"])  # Beam's default options read the command line
    exec(compile(code, "docs/engines.md", "exec"), {})  # noqa: S102 - the docs' own code


def cli_results(*args: str) -> list[dict[str, Any]]:
    """What ``transformer run ARGS examples/events.ndjson`` writes, from the repository's root."""
    command = [sys.executable, "-m", "transformer", "run", *args, "examples/events.ndjson"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def read_results(folder: Path, pattern: str) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(folder.glob(pattern))
            for line in path.read_text(encoding="utf-8").splitlines() if line]


def comparable(results: list[dict[str, Any]]) -> list[str]:
    """Results without metadata and in no particular order (a batch's events in no order either)."""
    shown = []
    for result in results:
        result = {key: value for key, value in result.items() if key != "metadata"}
        if "output" in result and isinstance(result["output"]["body"]["JSON"].get("batch"), list):
            result["output"]["body"]["JSON"]["batch"].sort(key=json.dumps)
        shown.append(json.dumps(result, sort_keys=True))
    return sorted(shown)
