"""python -m bench [--events N] [--rounds R] [--cli-events N] [--json PATH]

Measures, in one process and interleaved (engine and baseline alternate every round, so machine
noise hits both alike): µs/event and events/s per event type and overall, the engine/baseline
throughput ratio, the load+compile time of the Kustomer mappings, and `transformer run` on a
large NDJSON file against a small one (throughput and peak memory).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import transformer
from transformer.fixtures import canned_lookup

from . import baseline
from .events import SETTINGS, TYPES, generate, lookup_answers

ROOT = Path(__file__).resolve().parent.parent
Pairs = list[tuple[dict[str, Any], dict[str, Any]]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--events", type=int, default=20_000, help="in-process events per round (default 20,000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians are reported (default 7)")
    parser.add_argument("--cli-events", type=int, default=100_000, help="events in the large CLI file (default 100,000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    pairs = generate(args.events)
    answers = lookup_answers(pairs)
    kustomer = transformer.load("kustomer")
    check_equal(kustomer, pairs, answers)
    figures: dict[str, Any] = {"machine": machine(), "events": args.events, "rounds": args.rounds}
    figures["throughput"] = throughput(kustomer, pairs, answers, args.rounds)
    figures["load_ms"] = load_times()
    figures["cli"] = cli_run(kustomer, args.cli_events)
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def check_equal(kustomer: transformer.Destination, pairs: Pairs, answers: dict[str, Any]) -> None:
    """The baseline must be the same behaviour, or the comparison means nothing."""
    lookup = canned_lookup(answers)
    for event, settings in pairs:
        engine = kustomer.transform(event, settings, lookup=lookup)
        hand = baseline.transform(event, settings, lookup)
        if engine != hand:
            raise SystemExit(f"baseline and engine differ on {json.dumps(event)[:300]}:\n{engine}\n{hand}")


def throughput(kustomer: transformer.Destination, pairs: Pairs, answers: dict[str, Any], rounds: int) -> dict[str, Any]:
    lookup = canned_lookup(answers)
    by_type = {kind: [p for p in pairs if p[0]["type"] == kind] for kind in TYPES}
    def run_engine(subset: Pairs) -> None:
        for event, settings in subset:
            kustomer.transform(event, settings, lookup=lookup)

    def run_baseline(subset: Pairs) -> None:
        for event, settings in subset:
            baseline.transform(event, settings, lookup)

    subjects: dict[str, Callable[[Pairs], None]] = {"engine": run_engine, "baseline": run_baseline}
    samples: dict[tuple[str, str], list[float]] = {}
    for round_no in range(rounds):
        order = list(subjects) if round_no % 2 == 0 else list(reversed(subjects))
        for group, subset in [("overall", pairs), *by_type.items()]:
            for name in order:
                start = time.perf_counter()
                subjects[name](subset)
                samples.setdefault((group, name), []).append((time.perf_counter() - start) / len(subset))
    out: dict[str, Any] = {}
    for group in ["overall", *TYPES]:
        engine = statistics.median(samples[(group, "engine")])
        hand = statistics.median(samples[(group, "baseline")])
        out[group] = {"engine_us": engine * 1e6, "baseline_us": hand * 1e6, "engine_eps": 1 / engine,
                      "baseline_eps": 1 / hand, "ratio": hand / engine}
    return out


def load_times() -> dict[str, float]:
    """Cold: a fresh interpreter's first load (schema compile included); warm: later loads."""
    code = ("import time, transformer; t = time.perf_counter(); transformer.load('kustomer'); "
            "cold = time.perf_counter() - t; w = []\n"
            "for _ in range(20):\n t = time.perf_counter(); transformer.load('kustomer'); w.append(time.perf_counter() - t)\n"
            "import statistics; print(cold * 1e3, statistics.median(w) * 1e3)")
    colds, warms = [], []
    for _ in range(5):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        cold, warm = map(float, done.stdout.split())
        colds.append(cold)
        warms.append(warm)
    return {"cold_ms": statistics.median(colds), "warm_ms": statistics.median(warms)}


def cli_run(kustomer: transformer.Destination, large: int) -> dict[str, Any]:
    """`transformer run` on NDJSON files, against the engine in process on the very same events."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = folder / "settings.json"
        settings.write_text(json.dumps(SETTINGS[3]))
        results: dict[str, Any] = {}
        for label, count in (("small", 1_000), ("large", large)):
            pairs = generate(count, seed=11)
            events = folder / f"{label}.ndjson"
            with events.open("w") as handle:
                for event, _ in pairs:
                    handle.write(json.dumps(event) + "\n")
            lookups = folder / f"{label}-lookups.json"
            lookups.write_text(json.dumps(lookup_answers(pairs)))
            command = [sys.executable, "-m", "bench.peak", "run", "-d", "kustomer", "-s", str(settings),
                       "--lookups", str(lookups), "--no-progress", str(events)]
            start = time.perf_counter()
            with open(os.devnull, "w") as sink:
                done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"transformer run failed on {label}: {done.stderr}")
            peak_kb = int(done.stderr.strip().splitlines()[-1].split()[1])
            results[label] = {"events": count, "seconds": elapsed, "events_per_s": count / elapsed,
                              "peak_rss_mb": peak_kb / 1024}
        results["extra_peak_mb"] = results["large"]["peak_rss_mb"] - results["small"]["peak_rss_mb"]
        lookup = canned_lookup(lookup_answers(pairs))
        start = time.perf_counter()
        for event, _ in pairs:
            kustomer.process_one({"message": event, "destination": {"Config": SETTINGS[3]}}, lookup=lookup)
        results["engine_events_per_s"] = len(pairs) / (time.perf_counter() - start)
        results["ratio_to_engine"] = results["large"]["events_per_s"] / results["engine_events_per_s"]
        return results


def print_table(f: dict[str, Any]) -> None:
    m = f["machine"]
    print(f"machine: {m['processor']}, {m['cpus']} cpus, Python {m['python']}, {m['platform']}")
    print(f"{f['events']:,} events per round, {f['rounds']} interleaved rounds, medians\n")
    print(f"{'':10} {'engine µs/ev':>13} {'baseline µs/ev':>15} {'engine ev/s':>12} {'baseline ev/s':>14} {'engine/baseline':>16}")
    for group, row in f["throughput"].items():
        print(f"{group:10} {row['engine_us']:13.1f} {row['baseline_us']:15.1f} {row['engine_eps']:12,.0f} "
              f"{row['baseline_eps']:14,.0f} {row['ratio']:15.2f}x")
    print(f"\nload + compile kustomer: {f['load_ms']['cold_ms']:.1f} ms cold (first in a process), "
          f"{f['load_ms']['warm_ms']:.1f} ms warm")
    cli = f["cli"]
    print(f"transformer run: {cli['large']['events']:,} events in {cli['large']['seconds']:.2f} s = "
          f"{cli['large']['events_per_s']:,.0f} ev/s, {cli['ratio_to_engine']:.2f}x the engine in process on the same "
          f"events ({cli['engine_events_per_s']:,.0f} ev/s); "
          f"peak RSS {cli['large']['peak_rss_mb']:.1f} MB vs {cli['small']['peak_rss_mb']:.1f} MB on "
          f"{cli['small']['events']:,} events (+{cli['extra_peak_mb']:.1f} MB)")


if __name__ == "__main__":
    sys.exit(main())
