"""Throughput on the engines: the same events in-process, on Beam (DirectRunner, 2 worker
processes) and on Spark (local[2]), each read as JSON text from one file and written as JSON lines.

    .venv/bin/pip install -q '.[beam,spark]' && .venv/bin/python -m bench.engines [--events 50000]

Kustomer with look-ups answered from a customer table (every third identified user is known).
Engine times are whole jobs (Beam's pipeline start included; Spark's JVM already started, as in a
long-lived session). The README's figures come from this script.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import transformer
from bench.events import generate
from transformer.engines.shipped import process_text
from transformer.runtime.wire import compact_json

SETTINGS = {"apiKey": "bench-key", "advancedTransform": True, "setIdentityEmail": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        lines, table = write_events(work / "events.ndjson", args.events)
        figures = {"in-process": in_process(lines, table), "beam": beam(work, table), "spark": spark(work, table)}
    print(f"{args.events} events, {os.cpu_count()} CPUs")
    for name, seconds in figures.items():
        print(f"{name:>10}: {args.events / seconds:9,.0f} events/s ({seconds:.1f} s)")
    return 0


def write_events(path: Path, count: int) -> tuple[list[str], dict[tuple[str, Any], Any]]:
    lines, table = [], {}
    for index, (event, _) in enumerate(generate(count)):
        lines.append(json.dumps(event))
        if event["type"] == "identify" and "userId" in event and index % 3 == 0:
            table[("externalId", event["userId"])] = f"c{index}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines, table


def in_process(lines: list[str], table: dict[tuple[str, Any], Any]) -> float:
    kustomer = transformer.load("kustomer")
    lookup = transformer.table_lookup(table)
    start = time.perf_counter()
    for line in lines:
        compact_json(process_text(kustomer, SETTINGS, line, lookup=lookup))
    return time.perf_counter() - start


def beam(work: Path, table: dict[tuple[str, Any], Any]) -> float:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    import transformer.beam

    options = PipelineOptions(flags=[], runner="DirectRunner", direct_num_workers=2,
                              direct_running_mode="multi_processing")
    start = time.perf_counter()
    with beam.Pipeline(options=options) as pipeline:
        customers = pipeline | "Customers" >> beam.Create(sorted(table.items()))
        (pipeline
         | beam.io.ReadFromText(str(work / "events.ndjson"))
         | transformer.beam.Transform("kustomer", SETTINGS, customers=customers)
         | beam.Map(compact_json)
         | beam.io.WriteToText(str(work / "beam-results")))
    return time.perf_counter() - start


def spark(work: Path, table: dict[tuple[str, Any], Any]) -> float:
    from pyspark.sql import SparkSession

    import transformer.spark

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    try:
        def run(target: str) -> float:
            start = time.perf_counter()
            # No repartition: Spark already splits a file into about one part per core once it is
            # over spark.sql.files.openCostInBytes (4 MB) per core; 50,000 events (29 MB) are 2 parts.
            events = session.read.text(str(work / "events.ndjson"))
            if events.rdd.getNumPartitions() < 2:
                raise SystemExit("Spark read the file as one partition: one worker would do all the work")
            transformer.spark.transform(events, "kustomer", SETTINGS, customers=table).write.text(str(work / target))
            return time.perf_counter() - start

        run("spark-warm-up")  # the first job starts the Python workers
        return run("spark-results")
    finally:
        session.stop()


if __name__ == "__main__":
    sys.exit(main())
