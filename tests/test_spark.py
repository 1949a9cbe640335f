"""Apache Spark (local[2]): results equal to in-process, batches within every limit. Slow and needs
the [spark] extra and Java: marked ``engines`` (see docs/engines.md)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import transformer
from tests.engine_cases import (KUSTOMER_SETTINGS, ROOT, SEGMENT_SETTINGS, by_metadata, check_batches, cli_results,
                                comparable, customers, event_lines, in_process, read_results, readme_examples)

pytestmark = pytest.mark.engines
COUNT = 10_000


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this Python's packages
    session = (SparkSession.builder.master("local[2]").appName("event-transformer-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate())
    yield session
    session.stop()


def frame(spark: Any, lines: list[tuple[int, str]]) -> Any:
    return spark.createDataFrame([(index, text) for index, text in lines], "index long, value string")


def collect(results: Any) -> list[dict[str, Any]]:
    return [json.loads(row["result"]) for row in results.collect()]


def test_kustomer_with_a_broadcast_customer_table_equals_in_process(spark: Any) -> None:
    import transformer.spark

    lines = event_lines(COUNT)
    table = customers(lines)
    expected = in_process("kustomer", KUSTOMER_SETTINGS, lines, table)
    results = transformer.spark.transform(frame(spark, lines), "kustomer", KUSTOMER_SETTINGS, metadata="index",
                                          customers=table)
    assert by_metadata(collect(results)) == expected


def test_segment_batches_built_in_spark_keep_every_limit_and_event(spark: Any) -> None:
    import transformer.spark

    lines = event_lines(COUNT)
    expected = in_process("segment", SEGMENT_SETTINGS, lines)
    packed = collect(transformer.spark.transform(frame(spark, lines), "segment", SEGMENT_SETTINGS,
                                                 metadata="index", batch=True))
    segment = transformer.load("segment")
    check_batches(segment, expected, packed)
    batches = [out for out in packed if isinstance(out["metadata"], list)]
    assert len(batches) <= len([out for out in segment.batch(expected) if isinstance(out["metadata"], list)]) + 1


def test_events_read_as_text(spark: Any, tmp_path: Any) -> None:
    import transformer.spark

    lines = [text for _, text in event_lines(200)]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    results = collect(transformer.spark.transform(spark.read.text(str(path)), "segment", SEGMENT_SETTINGS))
    expected = in_process("segment", SEGMENT_SETTINGS, list(enumerate(lines)))
    for result in expected:
        result["metadata"] = None
    assert sorted(map(repr, results)) == sorted(map(repr, expected))


def test_the_readmes_spark_example_gives_what_transformer_run_gives(tmp_path: Any) -> None:
    """Run as a user would, ``python example.py`` in a folder of their own: Spark resolves relative
    paths against its JVM's working directory, so the example gets a JVM of its own."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "example.py").write_text(readme_examples()[1], encoding="utf-8")
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = cli_results("-d", "segment", "-s", "examples/segment-settings.yaml", "--batch")
    assert any(isinstance(r["metadata"], list) for r in expected)
    assert comparable(read_results(tmp_path / "out" / "segment-results", "part-*")) == comparable(expected)


def test_an_event_that_fans_out_gives_every_result_with_its_metadata(spark: Any) -> None:
    import transformer.spark
    from tests.test_fanout import FOLDER, NONE, SETTINGS, TWO

    results = collect(transformer.spark.transform(frame(spark, [(0, json.dumps(TWO)), (1, json.dumps(NONE))]),
                                                  str(FOLDER), SETTINGS, metadata="index"))
    assert sorted((r["metadata"], r["statusCode"]) for r in results) == [(0, 200), (0, 200), (1, 204)]
