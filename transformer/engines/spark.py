"""Apache Spark: events (a DataFrame of JSON text) to results. ``pip install 'event-transformer[spark]'``.

    events = spark.read.text("events.ndjson")          # one column "value": each line as it is
    results = transformer.spark.transform(events, "my-mapping-folder", settings, batch=True)
    results.write.text("results")                      # NDJSON, one result per line

Read events as text, never with ``spark.read.json``: its schema inference rewrites events (an
object under ``traits.company`` in one event and a string in another becomes a string in all,
missing keys come back as nulls), so the results would differ from ``transformer run``'s.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

try:
    import pandas as pd
    from pyspark.sql import DataFrame, functions
except ImportError as exc:  # the core never needs them: say how to get them
    raise ImportError("transformer.spark needs PySpark and pandas: pip install 'event-transformer[spark]'") from exc

from ..runtime.destination import Destination
from ..runtime.lookups import table_lookup
from ..runtime.wire import compact_json
from .shipped import Shipped, process_text_each

__all__ = ["transform"]

_ROWS = 5_000  # results per pandas frame handed back to Spark


def transform(events: DataFrame, destination: str | Path | Destination, settings: Any, *, text: str = "value",
              metadata: str | None = None, customers: Mapping[tuple[str, Any], Any] | None = None,
              batch: bool = False) -> DataFrame:
    """A DataFrame with one string column ``result``: each result as compact JSON, one per event
    (or per batch request and passing result with ``batch=True``).

    ``text``: the column holding each event's JSON text. ``metadata``: an optional column whose
    value each result carries as its ``metadata``. ``customers``: an optional table ``(kind, value)
    -> found``, broadcast to every worker and asked through ``table_lookup``. ``batch``: results
    are repartitioned by ``batch_key``, sorted by it within each partition, and packed by
    ``iter_batches``, so each key's results fill whole batches.
    """
    shipped = Shipped(destination, settings)
    if batch and not shipped.load().supports_batching:
        raise ValueError(f"destination {shipped.name} declares no batching")
    table = events.sparkSession.sparkContext.broadcast(dict(customers)) if customers is not None else None

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        loaded = shipped.load()
        lookup = table_lookup(table.value) if table is not None else None
        for frame in frames:
            labels = frame[metadata].tolist() if metadata is not None else [None] * len(frame)
            results = [result for line, label in zip(frame[text].tolist(), labels)
                       for result in process_text_each(loaded, shipped.settings, line, label, lookup=lookup)]
            out: dict[str, list[str | None]] = {"result": [compact_json(result) for result in results]}
            if batch:
                out["key"] = [loaded.batch_key(result) for result in results]
            yield pd.DataFrame(out)

    columns = [text] if metadata is None else [text, metadata]
    results = events.select(*columns).mapInPandas(run, "result string, key string" if batch else "result string")
    if not batch:
        return results

    def pack(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        loaded = shipped.load()
        parsed = (json.loads(line) for frame in frames for line in frame["result"].tolist())
        chunk: list[str] = []
        for out in loaded.iter_batches(parsed, shipped.settings):
            chunk.append(compact_json(out))
            if len(chunk) >= _ROWS:
                yield pd.DataFrame({"result": chunk})
                chunk = []
        if chunk:
            yield pd.DataFrame({"result": chunk})

    # Results never packed (key null) are spread by their own text, not all sent to one partition.
    spread = functions.coalesce(functions.col("key"), functions.col("result"))
    return results.repartition(spread).sortWithinPartitions("key").mapInPandas(pack, "result string")
