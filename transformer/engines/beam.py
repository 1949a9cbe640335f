"""Apache Beam: a PTransform from events (JSON text) to results. ``pip install 'event-transformer[beam]'``.

    results = lines | transformer.beam.Transform("my-mapping-folder", settings, customers=table, batch=True)

Each element is an event's JSON text (str or bytes), or a ``(metadata, text)`` pair whose
metadata the result carries. Each result is a dict in the processor shape, as ``process`` gives
it. The destination travels as its mapping's text and is compiled in each DoFn's ``setup()``.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import DirectOptions
except ImportError as exc:  # the core never needs it: say how to get it
    raise ImportError("transformer.beam needs Apache Beam: pip install 'event-transformer[beam]'") from exc

from ..runtime.destination import Destination
from ..runtime.lookups import table_lookup
from .shipped import Shipped, process_text_each

__all__ = ["Transform"]

_SINGLE = "single"  # results that are sent as they are when batching (errors, requests not batched)

# Beam's own defect, not ours (see "Beam's multi_threading mode drops elements" in docs/engines.md):
# said where it happens, since nothing else in the run shows that elements went missing.
MULTI_THREADING_LOSES = ("the DirectRunner's multi_threading mode can drop elements between steps of any "
                         "pipeline (a race in Apache Beam's time-based output flush); run it with "
                         "direct_running_mode='multi_processing'")


class Transform(beam.PTransform):  # type: ignore[misc]
    """Events in, results out.

    ``destination``: a built-in name, a mapping folder (read here, not on the workers) or a loaded
    Destination. ``settings``: the destination's settings, checked here. ``customers``: an optional
    PCollection of ``((kind, value), found)`` pairs, e.g. ``(("email", "ada@example.com"),
    "cust-7")``, given to every worker as a side input and asked through ``table_lookup``.
    ``batch``: pack successful results into batch requests; results are grouped by
    ``batch_key`` (a GroupByKey, so within each window) and packed by ``iter_batches``.
    """

    def __init__(self, destination: str | Path | Destination, settings: Any, *, customers: Any = None,
                 batch: bool = False) -> None:
        super().__init__()
        self.shipped = Shipped(destination, settings)
        self.customers = customers
        self.batch = batch
        if batch and not self.shipped.load().supports_batching:
            raise ValueError(f"destination {self.shipped.name} declares no batching")

    def expand(self, events: Any) -> Any:
        if events.pipeline.options.view_as(DirectOptions).direct_running_mode == "multi_threading":
            warnings.warn(MULTI_THREADING_LOSES, RuntimeWarning, stacklevel=2)
        side = [beam.pvalue.AsDict(self.customers)] if self.customers is not None else []
        transform = beam.ParDo(_TransformEvents(self.shipped, self.batch), *side)
        if not self.batch:
            return events | "Transform" >> transform
        transformed = events | "Transform" >> transform.with_outputs(_SINGLE, main="keyed")
        packed = (transformed.keyed
                  | "GroupByBatchKey" >> beam.GroupByKey()
                  | "Pack" >> beam.ParDo(_Pack(self.shipped)))
        return (packed, transformed[_SINGLE]) | "Results" >> beam.Flatten()


class _TransformEvents(beam.DoFn):  # type: ignore[misc]
    def __init__(self, shipped: Shipped, batch: bool) -> None:
        self.shipped = shipped
        self.batch = batch
        self.destination: Destination | None = None

    def setup(self) -> None:
        self.destination = self.shipped.load()

    def process(self, element: Any, customers: Any = None) -> Iterator[Any]:
        destination = self.destination
        assert destination is not None
        metadata, text = element if isinstance(element, tuple) else (None, element)
        lookup = table_lookup(customers) if customers is not None else None
        for result in process_text_each(destination, self.shipped.settings, text, metadata, lookup=lookup):
            if not self.batch:
                yield result
                continue
            key = destination.batch_key(result)
            if key is not None:
                yield key, result
                continue
            for single in destination.iter_batches([result], self.shipped.settings):  # as batch() would send it
                yield beam.pvalue.TaggedOutput(_SINGLE, single)


class _Pack(beam.DoFn):  # type: ignore[misc]
    def __init__(self, shipped: Shipped) -> None:
        self.shipped = shipped
        self.destination: Destination | None = None

    def setup(self) -> None:
        self.destination = self.shipped.load()

    def process(self, element: tuple[str, Any]) -> Iterator[dict[str, Any]]:
        assert self.destination is not None
        yield from self.destination.iter_batches(element[1], self.shipped.settings)
