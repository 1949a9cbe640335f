"""Pack request descriptions into batch requests under a destination's declared limits."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .codegen import Context
from .loader import Batching
from .values import MISSING
from .wire import compact_json, request_description

# Results that may wait behind the open batch: past this, the batch closes early (it still stands
# where its first event stood), so a long run of errors never piles up in memory.
MAX_WAITING = 1000


class Packer:
    """Greedy, order-keeping packing: each batch is filled until the next event would not fit."""

    def __init__(self, spec: Batching, destination: str) -> None:
        self.spec = spec
        self.destination = destination
        # {"<key>":[]} plus one comma between items is all a batch adds around its events.
        self.overhead = len(compact_json({spec.key: []}).encode("utf-8"))

    def pack(self, results: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        spec = self.spec
        group: tuple[Any, ...] = ()
        first: dict[str, Any] = {}
        bodies: list[Any] = []
        metadata: list[Any] = []
        size = 0
        waiting: list[dict[str, Any]] = []  # results to pass through that came after the open batch's first event

        def close() -> Iterator[dict[str, Any]]:
            if bodies:
                yield self._batch(first, group, list(bodies), list(metadata))
            yield from waiting
            bodies.clear()
            metadata.clear()
            waiting.clear()

        for index, result in enumerate(results):
            passing, event_bytes = self._examine(index, result)
            if passing is not None:
                if bodies:
                    waiting.append(passing)
                    if len(waiting) >= MAX_WAITING:
                        yield from close()
                else:
                    yield passing
                continue
            request = result["output"]
            key = self.group(request)
            grown = size + 1 + event_bytes  # a comma before it
            if bodies and (key != group or len(bodies) >= spec.max_events or grown > spec.max_request_bytes):
                yield from close()
            if not bodies:
                group, first = key, request
                grown = self.overhead + event_bytes
            bodies.append(request["body"]["JSON"])
            metadata.append(result.get("metadata"))
            size = grown
        yield from close()

    def _examine(self, index: int, result: Any) -> tuple[dict[str, Any] | None, int]:
        """(None, its size in bytes) for a result to pack; else (what passes through in its place, 0):
        an error as it came, or a new one for an event too large for any batch."""
        if not isinstance(result, dict) or ("output" not in result and "error" not in result):
            raise ValueError(f"item {index} is not a result (a dict with output or error)")
        if "output" not in result or result.get("statusCode") != 200:
            return result, 0
        event_bytes = len(compact_json(result["output"]["body"]["JSON"]).encode("utf-8"))
        if event_bytes > self.spec.max_event_bytes:
            return {"error": f"{self.destination}: the event is {event_bytes} bytes, over the batch limit of "
                             f"{self.spec.max_event_bytes} bytes per event", "statusCode": 400,
                    "metadata": result.get("metadata")}, 0
        return None, event_bytes

    def group(self, request: dict[str, Any]) -> tuple[Any, ...]:
        """Only requests bound for the same batch endpoint with the same headers may share a batch."""
        endpoint = self.spec.endpoint(Context(request, {}, {}, None))
        if endpoint is MISSING:
            raise ValueError(f"{self.destination}: the batch endpoint rule gave no value for {request['endpoint']}")
        return (request["method"], endpoint, tuple(sorted(request["headers"].items())))

    def _batch(self, first: dict[str, Any], group: tuple[Any, ...], bodies: list[Any], metadata: list[Any]) -> dict[str, Any]:
        output = request_description(first["method"], group[1], dict(first["headers"]), dict(first["params"]),
                                     {self.spec.key: bodies})
        return {"output": output, "statusCode": 200, "metadata": metadata}
