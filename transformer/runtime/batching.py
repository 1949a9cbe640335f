"""Pack request descriptions into batch requests under a destination's declared limits.

Results are grouped by key (batch endpoint, method, headers and params) within a bounded window: a
result joins the open batch of its key wherever it stands, so keys that interleave still fill
whole batches. One order rule holds: everything stands where its first event stood. A batch
comes out where its first event stood; a result that passes through (an error, or a request the
destination does not batch) comes out where it stood. So what follows the oldest open batch
waits behind it, and the bounds below close that batch early rather than let the wait grow.

A batch body is either the bodies listed under one key (``batch.key``: ``{"batch": [body, ...]}``)
or one body whose lists are the bodies' lists concatenated (``batch.concat``): then bodies share a
batch only when their other keys are equal, and each list holds at most its own limit of items.
"""
from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import TransformError
from ..language.codegen import Context
from ..language.loader import Batching
from .values import MISSING, type_name
from .wire import compact_json, json_size, request_description

OPEN_BATCHES = 16  # batches being filled at once, one per key; a new key past it closes the oldest
HELD_BATCHES = 16  # full batches waiting behind the oldest open one
HELD_RESULTS = 10_000  # passing results waiting behind the oldest open one


_List = tuple[int, int]  # a concatenated list: (items, bytes of its items and the commas between them)


class _Batch:
    """One key's batch: open while ``result`` is None."""

    __slots__ = ("key", "first", "endpoint", "bodies", "metadata", "size", "others", "lists", "result")

    def __init__(self, key: str, first: dict[str, Any], endpoint: str, size: int, others: int,
                 lists: list[_List]) -> None:
        self.key = key
        self.first = first  # the first request: its method, headers and params are the batch's
        self.endpoint = endpoint
        self.bodies: list[Any] = []
        self.metadata: list[Any] = []
        self.size = size  # bytes of the batch body as it stands
        self.others = others  # with concat: bytes of the body's other keys, as an object
        self.lists = lists  # with concat: each list's (items, bytes inside its brackets)
        self.result: dict[str, Any] | None = None


class _Queue:
    """The output from the oldest open batch on, in order: passing results and batches."""

    def __init__(self, body: Callable[[_Batch], Any], headers: Callable[[_Batch], dict[str, Any]]) -> None:
        self.body = body
        self.headers = headers
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
        try:
            headers = self.headers(batch)
        except TransformError as exc:  # a batch.headers rule failed: every event of the batch says so
            batch.result = {"error": exc.message, "statusCode": exc.status_code, "metadata": batch.metadata}
        else:
            output = request_description(first["method"], batch.endpoint, headers, dict(first["params"]), self.body(batch))
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
        self.overhead = len(compact_json({spec.key: []} if spec.key is not None else []).encode("utf-8")) if spec.listed else 0
        # With concat, what a non-empty list adds besides its items: "<name>":[] and a comma.
        self.list_overhead = [len(compact_json(name).encode("utf-8")) + 4 for name, _ in spec.concat]

    def pack(self, results: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        spec = self.spec
        queue = _Queue(self._body, self._headers)
        for index, result in enumerate(results):
            passing, group, event_bytes, lists = self._examine(index, result)
            if passing is not None:
                if queue.items:
                    queue.add(passing)
                else:
                    yield passing
                    continue
            else:
                assert group is not None
                key, endpoint, others = group
                batch = queue.open.get(key)
                if batch is not None:
                    joined = self._join(batch, event_bytes, lists)
                    if len(batch.bodies) >= spec.max_events or joined[0] > spec.max_request_bytes:
                        queue.close(batch)
                        batch = None
                    else:
                        batch.size, batch.lists = joined
                if batch is None:
                    others_bytes = len(others.encode("utf-8"))
                    size = self.overhead + event_bytes if spec.listed else self._size(others_bytes, lists)
                    batch = _Batch(key, result["output"], endpoint, size, others_bytes, lists)
                    queue.open_batch(batch)
                batch.bodies.append(result["output"]["body"]["JSON"])
                batch.metadata.append(result.get("metadata"))
            yield from queue.ready()
            while queue.over_bounds():
                queue.close_oldest()
                yield from queue.ready()
        for batch in list(queue.open.values()):
            queue.close(batch)
        yield from queue.ready()

    def _join(self, batch: _Batch, event_bytes: int, lists: list[_List]) -> tuple[int, list[_List]]:
        """The batch body's size and lists with one more event; a list past its limit counts as
        past the byte limit."""
        if self.spec.listed:
            return batch.size + 1 + event_bytes, batch.lists  # a comma before it
        joined = [(n + m, b + c + (1 if n and m else 0)) for (n, b), (m, c) in zip(batch.lists, lists)]
        if any(n > limit for (n, _), (_, limit) in zip(joined, self.spec.concat)):
            return self.spec.max_request_bytes + 1, joined
        return self._size(batch.others, joined), joined

    def _size(self, others: int, lists: list[_List]) -> int:
        """Bytes of a concat batch body: its other keys (``others`` bytes as an object), then each
        non-empty list with its key and a comma (none before the first member of ``{}``)."""
        added = [overhead + inner for (n, inner), overhead in zip(lists, self.list_overhead) if n]
        return others + sum(added) - (1 if added and others == 2 else 0)

    def _headers(self, batch: _Batch) -> dict[str, Any]:
        """The first request's headers and those only a batch request carries (``batch.headers``)."""
        headers = dict(batch.first["headers"])
        if self.spec.headers:
            ctx = Context(batch.first, {}, {}, None)
            for name, rule in self.spec.headers:
                try:
                    value = rule(ctx)
                except TransformError as exc:
                    raise TransformError(f"{self.destination}: batch.headers.{name}: {exc.message}", exc.status_code) from None
                if value is not MISSING:
                    headers[name] = value
        return headers

    def _body(self, batch: _Batch) -> Any:
        if self.spec.array:  # a body that is itself an array gives its items: [a] and [b] pack as [a, b]
            return [item for body in batch.bodies for item in (body if body.__class__ is list else (body,))]
        if self.spec.key is not None:
            return {self.spec.key: batch.bodies}
        names = [name for name, _ in self.spec.concat]
        first = batch.bodies[0]
        body = {key: value for key, value in first.items() if key not in names}  # equal in every body
        for name in names:
            items = [item for one in batch.bodies for item in one.get(name, ())]
            if items:
                body[name] = items
        return body

    def _examine(self, index: int, result: Any) -> tuple[dict[str, Any] | None, tuple[str, str, str] | None, int,
                                                         list[_List]]:
        """(None, its group, its size in bytes, its lists) for a result to pack; else (what passes
        in its place, None, 0, []): the result as it came (an error, or a request not batched), or
        a new error (an event too large for any batch, a batch rule that failed on it)."""
        if not isinstance(result, dict) or ("output" not in result and "error" not in result and "skipped" not in result):
            raise ValueError(f"item {index} is not a result (a dict with output or error)")
        if "output" not in result or result.get("statusCode") != 200:
            return result, None, 0, []
        try:
            group = self.group(result["output"])
        except TransformError as exc:
            return self._error(result, exc.message, exc.status_code), None, 0, []
        if group is None:
            return result, None, 0, []
        body = result["output"]["body"]["JSON"]
        event_bytes = json_size(body) - (2 if self.spec.array and body.__class__ is list else 0)
        if event_bytes > self.spec.max_event_bytes:
            return self._error(result, f"the event is {event_bytes} bytes, over the batch limit of "
                                       f"{self.spec.max_event_bytes} bytes per event"), None, 0, []
        lists: list[_List] = []
        for name, limit in self.spec.concat:
            items = body.get(name, ())
            if len(items) > limit:  # never split: it could not be sent whole
                return self._error(result, f"the event has {len(items)} {name}, over the batch limit of "
                                           f"{limit} {name} per request"), None, 0, []
            lists.append((len(items), json_size(items) - 2 if items else 0))
        return None, group, event_bytes, lists

    def _error(self, result: dict[str, Any], message: str, status_code: int = 400) -> dict[str, Any]:
        return {"error": f"{self.destination}: {message}", "statusCode": status_code, "metadata": result.get("metadata")}

    def group(self, request: dict[str, Any]) -> tuple[str, str, str] | None:
        """(key, batch endpoint, the body's other keys) of a request, or None when it passes
        through single (``batch.when`` is false for it, or the batch endpoint rule gives nothing).
        Only requests bound for the same batch endpoint with the same method, headers and params (and,
        with concat, equal keys besides the lists) share a key."""
        ctx = Context(request, {}, {}, None)
        if self.spec.when is not None and not self.spec.when(ctx):
            return None
        endpoint = self.spec.endpoint(ctx)
        if endpoint is MISSING:
            return None
        if endpoint.__class__ is not str:
            raise TransformError(f"batch.endpoint must give a string, got {type_name(endpoint)}")
        others = ""
        if self.spec.concat:
            others = self._others(request["body"]["JSON"])
        # As JSON text: always hashable, whatever the headers hold. The params count too: a setting
        # may put a credential there, and inputs with other settings must not share its batch.
        key = compact_json([request["method"], endpoint, sorted(request["headers"].items()),
                            sorted(request["params"].items()), others])
        return key, endpoint, others

    def _others(self, body: Any) -> str:
        """With concat: the body's keys besides its lists, as JSON text with sorted keys."""
        if not isinstance(body, dict):
            raise TransformError(f"batch.concat needs an object body, got {type_name(body)}")
        others = {}
        for key, value in body.items():
            if not any(key == name for name, _ in self.spec.concat):
                others[key] = value
            elif not isinstance(value, list):
                raise TransformError(f"batch.concat: body key {key} must be a list, got {type_name(value)}")
        return json.dumps(others, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def key(self, result: Any) -> str | None:
        """A digest of the result's group, the same on every worker and safe to log (headers hold
        credentials, the digest does not show them); None for a result that is never packed."""
        if not isinstance(result, dict) or "output" not in result or result.get("statusCode") != 200:
            return None
        try:
            group = self.group(result["output"])
        except TransformError:
            return None
        import hashlib  # here: importing it loads OpenSSL, a start-up cost for every process otherwise

        return None if group is None else hashlib.sha256(group[0].encode("utf-8")).hexdigest()
