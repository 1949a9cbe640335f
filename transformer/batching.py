"""Pack request descriptions into batch requests under a destination's declared limits.

Results are grouped by key (batch endpoint, method and headers) within a bounded window: a
result joins the open batch of its key wherever it stands, so keys that interleave still fill
whole batches. One order rule holds: everything stands where its first event stood. A batch
comes out where its first event stood; a result that passes through (an error, or a request the
destination does not batch) comes out where it stood. So what follows the oldest open batch
waits behind it, and the bounds below close that batch early rather than let the wait grow.
"""
from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from .codegen import Context
from .errors import TransformError
from .loader import Batching
from .values import MISSING, type_name
from .wire import compact_json, request_description

OPEN_BATCHES = 16  # batches being filled at once, one per key; a new key past it closes the oldest
HELD_BATCHES = 16  # full batches waiting behind the oldest open one
HELD_RESULTS = 10_000  # passing results waiting behind the oldest open one


class _Batch:
    """One key's batch: open while ``result`` is None."""

    __slots__ = ("key", "first", "endpoint", "bodies", "metadata", "size", "result")

    def __init__(self, key: str, first: dict[str, Any], endpoint: str, size: int) -> None:
        self.key = key
        self.first = first  # the first request: its method, headers and params are the batch's
        self.endpoint = endpoint
        self.bodies: list[Any] = []
        self.metadata: list[Any] = []
        self.size = size
        self.result: dict[str, Any] | None = None


class _Queue:
    """The output from the oldest open batch on, in order: passing results and batches."""

    def __init__(self, wrap: str) -> None:
        self.wrap = wrap
        self.items: deque[dict[str, Any] | _Batch] = deque()
        self.open: dict[str, _Batch] = {}
        self.closed = 0  # closed batches in items
        self.passing = 0  # passing results in items

    def add(self, result: dict[str, Any]) -> None:
        self.items.append(result)
        self.passing += 1

    def open_batch(self, batch: _Batch) -> None:
        if len(self.open) >= OPEN_BATCHES:
            self.close_oldest()
        self.items.append(batch)
        self.open[batch.key] = batch

    def close(self, batch: _Batch) -> None:
        del self.open[batch.key]
        first = batch.first
        output = request_description(first["method"], batch.endpoint, dict(first["headers"]), dict(first["params"]),
                                     {self.wrap: batch.bodies})
        batch.result = {"output": output, "statusCode": 200, "metadata": batch.metadata}
        self.closed += 1

    def close_oldest(self) -> None:
        self.close(next(iter(self.open.values())))  # opened first, so first in items too

    def over_bounds(self) -> bool:
        return self.closed > HELD_BATCHES or self.passing > HELD_RESULTS

    def ready(self) -> Iterator[dict[str, Any]]:
        """Everything before the oldest open batch."""
        items = self.items
        while items:
            head = items[0]
            if isinstance(head, _Batch):
                if head.result is None:
                    return
                self.closed -= 1
                head = head.result
            else:
                self.passing -= 1
            items.popleft()
            yield head


class Packer:
    """Greedy packing by key: each key's batch is filled until the next event would not fit."""

    def __init__(self, spec: Batching, destination: str) -> None:
        self.spec = spec
        self.destination = destination
        # {"<key>":[]} plus one comma between items is all a batch adds around its events.
        self.overhead = len(compact_json({spec.key: []}).encode("utf-8"))

    def pack(self, results: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        spec = self.spec
        queue = _Queue(spec.key)
        for index, result in enumerate(results):
            passing, group, event_bytes = self._examine(index, result)
            if passing is not None:
                if queue.items:
                    queue.add(passing)
                else:
                    yield passing
                    continue
            else:
                assert group is not None
                key, endpoint = group
                batch = queue.open.get(key)
                if batch is not None and (len(batch.bodies) >= spec.max_events
                                          or batch.size + 1 + event_bytes > spec.max_request_bytes):
                    queue.close(batch)
                    batch = None
                if batch is None:
                    batch = _Batch(key, result["output"], endpoint, self.overhead + event_bytes)
                    queue.open_batch(batch)
                else:
                    batch.size += 1 + event_bytes  # a comma before it
                batch.bodies.append(result["output"]["body"]["JSON"])
                batch.metadata.append(result.get("metadata"))
            yield from queue.ready()
            while queue.over_bounds():
                queue.close_oldest()
                yield from queue.ready()
        for batch in list(queue.open.values()):
            queue.close(batch)
        yield from queue.ready()

    def _examine(self, index: int, result: Any) -> tuple[dict[str, Any] | None, tuple[str, str] | None, int]:
        """(None, its group, its size in bytes) for a result to pack; else (what passes in its
        place, None, 0): the result as it came (an error, or a request not batched), or a new
        error (an event too large for any batch, a batch rule that failed on it)."""
        if not isinstance(result, dict) or ("output" not in result and "error" not in result):
            raise ValueError(f"item {index} is not a result (a dict with output or error)")
        if "output" not in result or result.get("statusCode") != 200:
            return result, None, 0
        try:
            group = self.group(result["output"])
        except TransformError as exc:
            return {"error": f"{self.destination}: {exc.message}", "statusCode": exc.status_code,
                    "metadata": result.get("metadata")}, None, 0
        if group is None:
            return result, None, 0
        event_bytes = len(compact_json(result["output"]["body"]["JSON"]).encode("utf-8"))
        if event_bytes > self.spec.max_event_bytes:
            return {"error": f"{self.destination}: the event is {event_bytes} bytes, over the batch limit of "
                             f"{self.spec.max_event_bytes} bytes per event", "statusCode": 400,
                    "metadata": result.get("metadata")}, None, 0
        return None, group, event_bytes

    def group(self, request: dict[str, Any]) -> tuple[str, str] | None:
        """(key, batch endpoint) of a request, or None when it passes through single (``batch.when``
        is false for it, or the batch endpoint rule gives nothing). Only requests bound for the
        same batch endpoint with the same method and headers share a key."""
        ctx = Context(request, {}, {}, None)
        if self.spec.when is not None and not self.spec.when(ctx):
            return None
        endpoint = self.spec.endpoint(ctx)
        if endpoint is MISSING:
            return None
        if endpoint.__class__ is not str:
            raise TransformError(f"batch.endpoint must give a string, got {type_name(endpoint)}")
        # As JSON text: always hashable, whatever the headers hold.
        key = compact_json([request["method"], endpoint, sorted(request["headers"].items())])
        return key, endpoint

    def key(self, result: Any) -> str | None:
        """A digest of the result's group, the same on every worker and safe to log (headers hold
        credentials, the digest does not show them); None for a result that is never packed."""
        if not isinstance(result, dict) or "output" not in result or result.get("statusCode") != 200:
            return None
        try:
            group = self.group(result["output"])
        except TransformError:
            return None
        return None if group is None else hashlib.sha256(group[0].encode("utf-8")).hexdigest()
