"""The benchmark's workloads: Kustomer and Segment with their hand-written baselines, and any
mapping folder with the user's own events and settings."""
from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import yaml

import transformer
from transformer.cli.fixtures import canned_lookup

from . import baseline, baseline_segment
from .compare import Lookup, Workload
from .events import (
    ECHOING_LOOKUPS,
    HOSTILE_LOOKUPS,
    generate,
    generate_segment,
    hostile,
    hostile_inputs,
    mixed_lookup,
)

ROOT = Path(__file__).resolve().parent.parent
BASELINES = {"kustomer": baseline, "segment": baseline_segment}
# Invalid settings both engine and baseline must refuse (their messages differ: the status is compared).
REFUSED: dict[str, tuple[dict[str, Any], ...]] = {
    "kustomer": ({"apiKey": ""}, {"apiKey": 5}, {"apiKey": "k", "genericPage": 1}, {"apiKey": "k", "genericScreen": None},
                 {"apiKey": "k", "orgPod": "eu"}, {"apiKey": "k", "baseEndpoint": "https://x/"},
                 {"apiKey": "k", "identifyStrategy": "other"}, {"apiKey": "k", "strictPayloads": "yes"},
                 {"apiKey": "k", "extra": float("nan")}, {"apiKey": "k", "extra": [{"a": "\ud800"}]},
                 {"apiKey": "k\ud800"}, {"apiKey": "k", "baseEndpoint": "https://x.example/\udc00a"}),
    "segment": ({"writeKey": ""}, {"writeKey": 5}, {"writeKey": "k", "region": "asia"},
                {"writeKey": "k", "endpoint": "https://x/"}, {"writeKey": "k", "maxEventBytes": 0},
                {"writeKey": "k", "maxEventBytes": 40000}, {"writeKey": "k", "maxBatchEvents": True},
                {"writeKey": "k", "maxBatchBytes": "5"}, {"writeKey": "k", "extra": {"a": float("inf")}},
                {"writeKey": "k", "extra": "\udc00"}),
}


# Hostile events (events.hostile) both engine and baseline must treat alike, per benchmark run; and
# the events whose inputs are broken (events.hostile_inputs) or whose look-ups are (HOSTILE_LOOKUPS).
HOSTILE_EVENTS = 1500
HOSTILE_INPUT_EVENTS = 8
HOSTILE_LOOKUP_EVENTS = 12


def hostile_cases(work: Workload) -> list[tuple[Any, Lookup | None]]:
    """The benchmark's hostile inputs, each with the look-up function it is transformed with, for a
    workload with a baseline (none for a user's folder)."""
    if work.folder.name not in BASELINES:
        return []
    cases: list[tuple[Any, Lookup | None]] = [
        ({"message": event, "destination": {"Config": settings}, "metadata": None}, work.lookup)
        for event, settings in hostile(work.pairs, HOSTILE_EVENTS)]
    cases += [(item, work.lookup) for item in hostile_inputs(work.pairs, HOSTILE_INPUT_EVENTS)]
    if work.lookup is not None:  # the events that ask, under every broken look-up function and two that echo
        asking = (item for item in work.inputs if work.destination.needed_lookups(item["message"], item["destination"]["Config"]))
        cases += [(item, lookup) for item in islice(asking, HOSTILE_LOOKUP_EVENTS) for lookup in (*HOSTILE_LOOKUPS, *ECHOING_LOOKUPS)]
    return cases


def builtin_folder(name: str) -> Path:
    """The folder transformer.load(name) reads: the clone's mappings/ (or the installed package's)."""
    folder = ROOT / "mappings" / name
    return folder if folder.is_dir() else Path(transformer.__file__).parent / "mappings" / name


def kustomer(count: int, seed: int = 7) -> Workload:
    """Issue 26's processor workload: the realistic mix, 64 settings combinations, mixed look-up answers."""
    return Workload(transformer.load("kustomer"), builtin_folder("kustomer"), generate(count, seed), mixed_lookup, baseline)


def segment(count: int, seed: int = 7) -> Workload:
    return Workload(transformer.load("segment"), builtin_folder("segment"), generate_segment(count, seed), None,
                    baseline_segment)


def for_folder(folder: Path, count: int, events: Path | None, settings: Path | None, lookups: Path | None) -> Workload:
    """A workload for any mapping folder: the given events (NDJSON) under the given settings (YAML
    or JSON), or the benchmark's own for a folder named like a built-in destination; its baseline
    goes with it, compared only if the folder is the very one it was written for (by digest)."""
    folder = folder.resolve()
    name = folder.name
    if (events is None or settings is None) and name not in BASELINES:
        raise SystemExit(f"{folder}: give its events (--event-file, NDJSON) and settings (--settings, YAML or JSON)")
    generated = (generate if name == "kustomer" else generate_segment)(count) if name in BASELINES else []
    messages = ([json.loads(line) for line in events.read_text(encoding="utf-8").splitlines() if line.strip()]
                if events is not None else [event for event, _ in generated])
    configs = [yaml.safe_load(settings.read_text(encoding="utf-8"))] if settings is not None else [s for _, s in generated]
    pairs = [(message, configs[n % len(configs)]) for n, message in enumerate(messages)]
    lookup: Lookup | None = mixed_lookup if name == "kustomer" else None
    if lookups is not None:
        lookup = canned_lookup(json.loads(lookups.read_text(encoding="utf-8")))
    return Workload(transformer.load(folder), folder, pairs, lookup, BASELINES.get(name))
