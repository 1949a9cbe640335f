"""Deliver request descriptions: transform with live look-ups, send with bounded concurrency, and
give one outcome per event, in input order."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlencode

from ..language.delivery_rules import DEFAULT_CONCURRENCY, STAMPS, RateLimit
from ..runtime.destination import Destination
from ..runtime.lookups import Lookup
from ..runtime.wire import compact_json
from .client import Answer, Client, redact
from .lookup import AnswerCache, Interrupted, LiveLookup

In = TypeVar("In")
Out = TypeVar("Out")

EXCERPT_CHARS = 200
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
# The error of a result whose event was stopped during its look-ups; recognised by identity, as the
# packer passes error results through untouched.
_STOPPED = "the run stopped before this event's look-ups were answered"


class Sender:
    """Sends one destination's requests by the rules of its ``delivery:`` section.

    ``run(inputs)`` transforms inputs in the processor shape (``{"message", "destination":
    {"Config"}, "metadata"}``) with live look-ups, packs them when the destination batches, sends
    them, and yields one outcome per input, in input order::

        {"outcome": "delivered", "status": 200, "tries": 1, "metadata": ...}
        {"outcome": "failed", "status": 400, "tries": 1, "body": "<excerpt>", "metadata": ...}
        {"outcome": "failed", "status": 400, "tries": 0, "error": "<why it did not transform>", "metadata": ...}
        {"outcome": "gave_up", "status": 503 or None, "tries": 5, "error" or "body": ..., "metadata": ...}
        {"outcome": "interrupted", "status": None, "tries": 0, "error": ..., "metadata": ...}

    ``deliver(results)`` does the sending part for results you transformed yourself. ``stop()``
    (from a signal handler, say) ends the run cleanly: no new input is read and no new try made;
    every input read still gets its outcome. Use it as a context manager, or call ``close()``.
    """

    def __init__(self, destination: Destination, *, concurrency: int = DEFAULT_CONCURRENCY,
                 timeout: float | None = None, rate_limit: RateLimit | None = None,
                 cache_size: int = 10_000, cache_ttl: float = 300.0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.destination = destination
        self.client = Client(destination.delivery, timeout=timeout, rate_limit=rate_limit, max_connections=concurrency)
        self.lookup = LiveLookup(self.client, cache=AnswerCache(cache_size, cache_ttl) if cache_size else None)
        self._stamps = [(key, STAMPS[name]) for key, name in destination.delivery.stamp.items()]
        self._window = 2 * concurrency  # tasks under way or done and waiting for their turn
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="transformer-send")

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def stop(self) -> None:
        self.client.stop()

    @property
    def stopped(self) -> bool:
        return self.client.stopped.is_set()

    def run(self, inputs: Iterable[Any], *, lookup: Lookup | None = None, batch: bool | None = None,
            settings: Any = None) -> Iterator[dict[str, Any]]:
        """Transform (look-ups by ``lookup``, default live), pack (by default when the destination
        batches, with the batch limits ``settings`` give, else the defaults), send; one outcome per
        input, in order."""
        ask = self.lookup if lookup is None else lookup
        batch = self.destination.supports_batching if batch is None else batch

        def transform(item: Any) -> list[dict[str, Any]]:  # several for an event that fans out
            try:
                return self.destination.process_each(item, lookup=ask)
            except Interrupted:
                return [{"error": _STOPPED, "statusCode": 503, "metadata": dict.get(item, "metadata")}]

        def transform_and_send(item: Any) -> list[dict[str, Any]]:
            with self.lookup.claims.held_by_this_event():  # until it is delivered (see Claims)
                return [outcome for result in transform(item) for outcome in self._outcomes(result, False)]

        if batch:  # look-ups are held only until the event is transformed: packing comes between
            results = (result for each in self._ordered(transform, self._until_stopped(inputs)) for result in each)
            yield from self.deliver(self.destination.iter_batches(results, settings), batched=True)
        else:
            for outcomes in self._ordered(transform_and_send, self._until_stopped(inputs)):
                yield from outcomes

    def deliver(self, results: Iterable[dict[str, Any]], *, batched: bool = False) -> Iterator[dict[str, Any]]:
        """Send results of ``process`` (or, with ``batched``, of ``batch``); one outcome per event, in
        order. Error results are not sent: their outcome is ``failed`` with their status."""
        for outcomes in self._ordered(lambda result: self._outcomes(result, batched), results):
            yield from outcomes

    def send(self, request: dict[str, Any]) -> Answer:
        """Send one request description (stamps set at each try)."""
        url = request["endpoint"]
        if request.get("params"):
            url += ("&" if "?" in url else "?") + urlencode(request["params"])
        method = request["method"]
        body = request["body"]["JSON"]
        stamps = self._stamps if isinstance(body, dict) else []

        def data() -> bytes | None:
            if method in _NO_BODY and not body:
                return None
            sent = {**body, **{key: make() for key, make in stamps}} if stamps else body
            return compact_json(sent).encode("utf-8")

        return self.client.send(method, url, request["headers"], data)

    # -- inside ------------------------------------------------------------------------------

    def _outcomes(self, result: Any, batched: bool) -> list[dict[str, Any]]:
        """The outcome of each event of one result (a batch carries a list of its events' metadata)."""
        if not isinstance(result, dict) or ("output" not in result and "error" not in result and "skipped" not in result):
            return [_outcome("failed", None, None, 0, error="not a result (a dict with output or error)")]
        metadata = result.get("metadata")
        if "skipped" in result:  # an event that fans out to no request: nothing to send, nothing failed
            return [_outcome("skipped", metadata, result.get("statusCode"), 0, reason=result["skipped"])]
        if "output" not in result or result.get("statusCode") != 200:
            kind = "interrupted" if result.get("error") is _STOPPED else "failed"
            return [_outcome(kind, metadata, None if kind == "interrupted" else result.get("statusCode"), 0,
                             error=result.get("error"))]
        request = result["output"]
        try:
            answer = self.send(request)
        except Exception as exc:  # a request description this sender cannot send: this result's failure only
            answer = Answer(None, b"", 0, f"cannot send this request ({exc.__class__.__name__})")
        events = metadata if batched and isinstance(metadata, list) else [metadata]
        return [self._outcome_of(answer, request, m) for m in events]

    def _outcome_of(self, answer: Answer, request: dict[str, Any], metadata: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if answer.error is not None:
            extra["error"] = answer.error
        elif answer.status is not None and not 200 <= answer.status < 300:
            # Redacted before it is cut, so a credential at the cut is never half shown.
            text = answer.body[:EXCERPT_CHARS * 4].decode("utf-8", "replace")
            extra["body"] = redact(text, request["headers"])[:EXCERPT_CHARS]
        if answer.interrupted:
            kind = "interrupted"
        elif answer.exhausted:
            kind = "gave_up"
        elif answer.status is not None and 200 <= answer.status < 300:
            kind = "delivered"
        else:
            kind = "failed"
        return _outcome(kind, metadata, answer.status, answer.tries, **extra)

    def _until_stopped(self, items: Iterable[In]) -> Iterator[In]:
        for item in items:
            yield item
            if self.stopped:
                return

    def _ordered(self, task: Callable[[In], Out], items: Iterable[In]) -> Iterator[Out]:
        """``map(task, items)`` on the sender's threads, in order, with at most a window's worth
        of tasks ahead of the one yielded."""
        window: deque[Any] = deque()
        for item in items:
            window.append(self._executor.submit(task, item))
            if len(window) >= self._window:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def _outcome(kind: str, metadata: Any, status: int | None, tries: int, **extra: Any) -> dict[str, Any]:
    return {"outcome": kind, "status": status, "tries": tries, **extra, "metadata": metadata}
