"""Deliver request descriptions: transform with live look-ups, send with bounded concurrency, and
give one outcome per event, in input order."""
from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlencode

from ..language.delivery_rules import DEFAULT_CONCURRENCY, STAMPS, RateLimit
from ..runtime.destination import Destination
from ..runtime.lookups import Lookup
from ..runtime.wire import compact_json
from .client import Answer, Client
from .journal import Journal
from .lookup import AnswerCache, Interrupted, LiveLookup
from .order import Book
from .redact import for_request
from .stats import Stats

In = TypeVar("In")
Out = TypeVar("Out")

EXCERPT_CHARS = 200
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
# The errors of a result whose event was stopped during its look-ups, or before it was transformed.
_STOPPED = "the run stopped before this event's look-ups were answered"
_NOT_SENT = "the run stopped before this event was sent"


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
        {"outcome": "skipped", "status": None, "tries": 0, "error": ..., "metadata": ...}  (journal)
        {"outcome": "no_request", "status": 204, "tries": 0, "reason": ..., "metadata": ...}

    An input whose mapping fans out (``for_each``) has one outcome per request, each with the
    input's metadata, in the order of its requests; one that makes no request, ``no_request``.

    ``deliver(results)`` does the sending part for results you transformed yourself. ``stop()``
    (from a signal handler, say) ends the run cleanly: no new input is read and no new try made;
    every input read still gets its outcome. ``abort()`` also cuts the tries under way. Use it as
    a context manager, or call ``close()``.
    """

    def __init__(self, destination: Destination, *, concurrency: int = DEFAULT_CONCURRENCY,
                 timeout: float | None = None, rate_limit: RateLimit | None = None,
                 cache_size: int = 10_000, cache_ttl: float = 300.0) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.destination = destination
        self.stats = Stats()
        self.client = Client(destination.delivery, timeout=timeout, rate_limit=rate_limit, max_connections=concurrency,
                             stats=self.stats)
        self.lookup = LiveLookup(self.client, cache=AnswerCache(cache_size, cache_ttl) if cache_size else None)
        self._stamps = [(key, STAMPS[name]) for key, name in destination.delivery.stamp.items()]
        # Threads beyond the tries under way: events waiting to try again hold a thread, not a try.
        # One request at a time keeps strict input order (a retried event then holds back the rest).
        threads = 1 if concurrency == 1 else 2 * concurrency + 8
        self._in_flight = 4 * threads  # tasks submitted and not done, when they finish in any order
        self._window = 2 * concurrency  # tasks ahead of the one yielded, in order (more only slows the packing)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="transformer-send")

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

    def abort(self) -> None:
        """Stop, and cut the tries under way (their events end ``interrupted``)."""
        self.client.abort()

    @property
    def stopped(self) -> bool:
        return self.client.stopped.is_set()

    def run(self, inputs: Iterable[Any], *, lookup: Lookup | None = None, batch: bool | None = None,
            settings: Any = None, journal: Journal | None = None) -> Iterator[dict[str, Any]]:
        """Transform (look-ups by ``lookup``, default live), pack (by default when the destination
        batches, with the batch limits ``settings`` give, else the defaults), send; one outcome per
        input, in order. With a ``journal``, each outcome is recorded as it happens and inputs it
        says were delivered are ``skipped``. Should ``inputs`` raise, the inputs read before get
        their outcomes first, then the exception is raised."""
        ask = self.lookup if lookup is None else lookup
        batch = self.destination.supports_batching if batch is None else batch
        book = Book(journal, self.stats)

        def transform(item: dict[str, Any]) -> list[dict[str, Any]]:  # several for an event that fans out
            seq = item["metadata"]
            if self.stopped:  # queued when the run stopped
                return book.number(seq, [{"error": _NOT_SENT, "statusCode": 503}])
            try:
                return book.number(seq, self.destination.process_each(item, lookup=ask))
            except Interrupted:
                return book.number(seq, [{"error": _STOPPED, "statusCode": 503}])

        def transform_and_send(item: dict[str, Any]) -> list[dict[str, Any]]:
            with self.lookup.claims.held_by_this_event():  # until it is delivered (see Claims)
                return [outcome for result in transform(item) for outcome in self._outcomes(result, False, book)]

        tagged = book.read(self._until_stopped(inputs))
        if batch:  # look-ups are held only until the event is transformed: packing comes between
            results = (result for each in self._ordered(transform, tagged) for result in each)
            sent = self._unordered(lambda result: self._outcomes(result, True, book),
                                   self.destination.iter_batches(results, settings), book.backlog)
        else:
            sent = self._unordered(transform_and_send, tagged, book.backlog)
        yield from book.in_order(sent)
        book.raise_failure()

    def deliver(self, results: Iterable[dict[str, Any]], *, batched: bool = False) -> Iterator[dict[str, Any]]:
        """Send results of ``process`` (or, with ``batched``, of ``batch``); one outcome per event, in
        order. Error results are not sent: their outcome is ``failed`` with their status."""
        for outcomes in self._ordered(lambda result: self._outcomes(result, batched, None), results):
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

    def _outcomes(self, result: Any, batched: bool, book: Book | None) -> list[dict[str, Any]]:
        """The outcome of each event of one result (a batch carries a list of its events' metadata),
        recorded in ``book`` (journal, counts) as soon as known."""
        outcomes = self._outcomes_of(result, batched, book)
        for outcome in outcomes:
            if book is not None:
                book.done(outcome)
            else:
                self.stats.outcome(outcome["outcome"], outcome["status"])
        return outcomes

    def _outcomes_of(self, result: Any, batched: bool, book: Book | None) -> list[dict[str, Any]]:
        if not isinstance(result, dict) or ("output" not in result and "error" not in result and "skipped" not in result):
            return [_outcome("failed", None, None, 0, error="not a result (a dict with output or error)")]
        metadata = result.get("metadata")
        if "skipped" in result:  # an event that fans out to no request: nothing to send, nothing failed
            return [_outcome("no_request", metadata, result.get("statusCode"), 0, reason=result["skipped"])]
        if "output" not in result or result.get("statusCode") != 200:
            kind = "interrupted" if result.get("error") in (_STOPPED, _NOT_SENT) else "failed"
            return [_outcome(kind, metadata, None if kind == "interrupted" else result.get("statusCode"), 0,
                             error=result.get("error"))]
        request = result["output"]
        events = metadata if batched and isinstance(metadata, list) else [metadata]
        if self.stopped:  # queued, or in a batch still open at the stop: never started
            return [_outcome("interrupted", m, None, 0, error=_NOT_SENT) for m in events]
        try:
            answer = self.send(request)
        except Exception as exc:  # a request description this sender cannot send: this result's failure only
            answer = Answer(None, b"", 0, f"cannot send this request ({exc.__class__.__name__})")
        settings = book.settings(events[0]) if book is not None and events else None
        secrets = self.destination.secret_values(settings) if settings is not None else ()
        return [self._outcome_of(answer, request, m, secrets) for m in events]

    def _outcome_of(self, answer: Answer, request: dict[str, Any], metadata: Any,
                    secrets: tuple[str, ...]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if answer.error is not None:
            extra["error"] = answer.error
        elif answer.status is not None and not 200 <= answer.status < 300:
            extra["body"] = for_request(secrets, request).excerpt(answer.body, EXCERPT_CHARS)
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
        window: deque[Future[Out]] = deque()
        for item in items:
            window.append(self._executor.submit(task, item))
            if len(window) >= self._window:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

    def _unordered(self, task: Callable[[In], Out], items: Iterable[In], backlog: Callable[[], bool]) -> Iterator[Out]:
        """``task`` of each item on the sender's threads, each result as soon as it is done: a
        slow task holds back no other. New items wait while too many tasks are under way, or
        while ``backlog()`` says too many results wait for their turn."""
        done: queue.SimpleQueue[Future[Out]] = queue.SimpleQueue()
        running = 0
        for item in items:
            while running and (running >= self._in_flight or backlog()):
                running -= 1
                yield done.get().result()
            self._executor.submit(task, item).add_done_callback(done.put)
            running += 1
        for _ in range(running):
            yield done.get().result()


def _outcome(kind: str, metadata: Any, status: int | None, tries: int, **extra: Any) -> dict[str, Any]:
    return {"outcome": kind, "status": status, "tries": tries, **extra, "metadata": metadata}
