"""The engine against a hand-written baseline on one workload: the equality check, and events/s
per event type in two modes, "shared" (a pipeline passing the same few settings objects) and
"processor" (every input carries its own settings dict, parsed from its own JSON text).

A baseline is written for one version of its mapping folder: the folder's digest is recorded beside
it (MAPPINGS_SHA256). When the folder no longer has that digest (a user changed a field), the two
cannot be compared, and the benchmark says so instead of failing.
"""
from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import transformer

Pairs = list[tuple[dict[str, Any], Any]]
Lookup = Callable[[dict[str, Any]], tuple[int, Any]]
Runs = dict[str, Callable[[list[Any]], None]]  # runner name -> what runs a list of items


def mappings_digest(folder: Path) -> str:
    """SHA-256 over the folder's files (names and contents, line endings as LF), in name order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def processor_inputs(pairs: Pairs) -> list[dict[str, Any]]:
    """The processor shape, as a processor receives it: each input parsed from its own JSON text,
    so every input's settings are a dict of their own (never the same object twice)."""
    return [json.loads(json.dumps({"message": event, "destination": {"Config": settings}, "metadata": {"n": n}}))
            for n, (event, settings) in enumerate(pairs)]


@dataclass
class Workload:
    """One destination's events and settings, its look-ups, and the baseline written for it (if any)."""

    destination: transformer.Destination
    folder: Path
    pairs: Pairs
    lookup: Lookup | None = None
    baseline: ModuleType | None = None
    inputs: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.inputs = processor_inputs(self.pairs)

    @property
    def types(self) -> list[str]:
        """The event types of the workload, in order of first appearance."""
        return list(dict.fromkeys(event["type"] for event, _ in self.pairs))

    def baseline_mismatch(self) -> str | None:
        """Why the baseline cannot be compared with this mapping folder; None when it can."""
        if self.baseline is None:
            return f"no hand-written baseline for {self.folder}"
        if mappings_digest(self.folder) != self.baseline.MAPPINGS_SHA256:
            return (f"{self.folder} differs from the mappings {self.baseline.__name__} was written for (its "
                    f"MAPPINGS_SHA256): the engine cannot be compared with that baseline, so the comparison is skipped")
        return None


def outcome(call: Callable[[], Any]) -> Any:
    """A transform's result, or its refusal as a status code (engine and baseline word errors differently)."""
    try:
        return call()
    except transformer.TransformError as exc:
        return ("refused", exc.status_code)
    except Exception as exc:  # the baseline's own error class
        status = getattr(exc, "status", None)
        if status is None:
            raise
        return ("refused", status)


def shown(value: Any) -> str:
    """The start of ``value``'s repr for a message (an integer past Python's digit limit has none)."""
    try:
        return repr(value)[:300]
    except ValueError:
        return f"<a {type(value).__name__} holding an integer too long to print>"


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    return result if result["statusCode"] == 200 else {k: v for k, v in result.items() if k != "error"}


def check_equal(work: Workload, refused: tuple[dict[str, Any], ...] = (),
                hostile: list[tuple[Any, Lookup | None]] | None = None) -> None:
    """The baseline must be the same behaviour, in both modes, or the comparison means nothing; and
    both refuse each of the ``refused`` settings, and give the same result (the same request, or a
    refusal with the same status) for each ``hostile`` input under its look-up function
    (workloads.hostile_cases: hostile events, broken inputs, broken look-up functions)."""
    hand, engine, lookup = work.baseline, work.destination, work.lookup
    assert hand is not None
    for item, asked in hostile or ():
        try:
            theirs = comparable(hand.process_one(item, asked))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a crash is a difference like any other
            theirs = {"crashed": f"{exc.__class__.__name__}: {exc}"[:200]}
        ours = comparable(engine.process_one(item, lookup=asked))
        if ours != theirs:
            raise SystemExit(f"baseline and engine differ on the hostile input {shown(item)}"
                             f"{'' if asked is lookup else f' (look-up function {asked!r})'}:\n"
                             f"{shown(ours)}\n{shown(theirs)}")
    for (event, settings), item in zip(work.pairs, work.inputs):
        for ours, theirs in ((outcome(lambda: engine.transform(event, settings, lookup=lookup)),
                              outcome(lambda: hand.transform(event, settings, lookup))),
                             (comparable(engine.process_one(item, lookup=lookup)), comparable(hand.process_one(item, lookup)))):
            if ours != theirs:
                raise SystemExit(f"baseline and engine differ on {json.dumps(event)[:300]}:\n{ours}\n{theirs}")
    event = work.pairs[0][0]
    for bad in refused:
        item = {"message": event, "destination": {"Config": bad}}
        if engine.process_one(item, lookup=lookup)["statusCode"] != 400 or hand.process_one(item, lookup)["statusCode"] != 400:
            raise SystemExit(f"baseline and engine differ on the settings {bad}")


def subjects(work: Workload, with_baseline: bool) -> dict[str, tuple[list[Any], Runs]]:
    """Per mode: its items and the callables that run a list of them."""
    engine, hand, lookup = work.destination, work.baseline, work.lookup

    def shared_engine(subset: list[Any]) -> None:
        for event, settings in subset:
            try:
                engine.transform(event, settings, lookup=lookup)
            except transformer.TransformError:
                pass

    def shared_baseline(subset: list[Any]) -> None:
        invalid = hand.Invalid  # type: ignore[union-attr]
        for event, settings in subset:
            try:
                hand.transform(event, settings, lookup)  # type: ignore[union-attr]
            except invalid:
                pass

    def processor_engine(subset: list[Any]) -> None:
        for item in subset:
            engine.process_one(item, lookup=lookup)

    def processor_baseline(subset: list[Any]) -> None:
        for item in subset:
            hand.process_one(item, lookup)  # type: ignore[union-attr]

    shared: Runs = {"engine": shared_engine}
    processor: Runs = {"engine": processor_engine}
    if with_baseline:
        shared["baseline"], processor["baseline"] = shared_baseline, processor_baseline
    return {"shared": (list(work.pairs), shared), "processor": (work.inputs, processor)}


def interleaved(work: Workload, modes: dict[str, tuple[list[Any], Runs]], rounds: int) -> dict[tuple[str, str, str], float]:
    """Seconds per item, median of the rounds, per (mode, group, runner): in each round every
    mode's items, overall and then each event type's, go through every runner in turn, the order
    reversed every other round, so machine noise hits all runners alike."""
    kinds = [event["type"] for event, _ in work.pairs]
    grouped = {mode: [("overall", items), *((kind, [x for x, k in zip(items, kinds) if k == kind]) for kind in work.types)]
               for mode, (items, _) in modes.items()}
    samples: dict[tuple[str, str, str], list[float]] = {}
    for round_no in range(rounds):
        for mode, (_, runs) in modes.items():
            order = list(runs) if round_no % 2 == 0 else list(reversed(runs))
            for group, subset in grouped[mode]:
                for name in order:
                    start = time.perf_counter()
                    runs[name](subset)
                    samples.setdefault((mode, group, name), []).append((time.perf_counter() - start) / len(subset))
    return {key: statistics.median(values) for key, values in samples.items()}


def throughput(work: Workload, rounds: int, with_baseline: bool) -> dict[str, Any]:
    """Per mode, per event type and overall: engine and baseline alternate, medians of the rounds."""
    modes = subjects(work, with_baseline)
    medians = interleaved(work, modes, rounds)
    out: dict[str, Any] = {}
    for mode in modes:
        for group in ["overall", *work.types]:
            engine = medians[(mode, group, "engine")]
            row = out.setdefault(mode, {})[group] = {"engine_us": engine * 1e6, "engine_eps": 1 / engine}
            if with_baseline:
                hand = medians[(mode, group, "baseline")]
                row.update({"baseline_us": hand * 1e6, "baseline_eps": 1 / hand, "ratio": hand / engine})
    return out


def print_throughput(title: str, rows: dict[str, Any]) -> None:
    for mode, groups in rows.items():
        with_baseline = "ratio" in groups["overall"]
        print(f"\n{title}, {mode} mode")
        header = f"{'':10} {'engine µs/ev':>13} {'engine ev/s':>12}"
        print(header + (f" {'baseline µs/ev':>15} {'baseline ev/s':>14} {'engine/baseline':>16}" if with_baseline else ""))
        for group, row in groups.items():
            line = f"{group:10} {row['engine_us']:13.1f} {row['engine_eps']:12,.0f}"
            if with_baseline:
                line += f" {row['baseline_us']:15.1f} {row['baseline_eps']:14,.0f} {row['ratio']:15.2f}x"
            print(line)
