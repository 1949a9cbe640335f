"""A live ``lookup`` for ``transform`` and ``process``: performs the GET the engine describes."""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .client import Client


class NoAnswer(Exception):
    """The look-up got no answer (timeout, connection closed) after every try. The engine makes it
    the event's 502 error naming the look-up."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped while an event waited for a look-up. A KeyboardInterrupt, so the engine
    lets it through (the user stopped the run) instead of making it the event's error."""


class AnswerCache:
    """Found answers (200) by request, each kept ``ttl`` seconds, at most ``size`` of them (least
    recently used first out). "Not found" is never kept: the event that got it may create the
    record, and the next event must see it."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl, self._clock = size, ttl, clock
        self._answers: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # answers given from the cache (the CLI's summary shows them)

    def get(self, key: tuple[Any, ...]) -> Any | None:
        with self._lock:
            entry = self._answers.get(key)
            if entry is None or entry[0] < self._clock():
                if entry is not None:
                    del self._answers[key]
                return None
            self._answers.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: tuple[Any, ...], body: Any) -> None:
        with self._lock:
            self._answers[key] = (self._clock() + self.ttl, body)
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


class Claims:
    """Look-ups held by the events being delivered. An event that asks what another one holds
    waits until that one is delivered, then asks: the first may have created the record, and
    the second must then update it, not create a second one. The sender wraps each event in
    ``held_by_this_event``; outside it nothing is held. A wait lasts at most ``max_wait``
    seconds, so two events that each wait for the other cannot block for good."""

    def __init__(self, stopped: threading.Event, max_wait: float) -> None:
        self._stopped, self._max_wait = stopped, max_wait
        self._held: dict[tuple[Any, ...], threading.Event] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def held_by_this_event(self) -> Iterator[None]:
        mine: list[tuple[Any, ...]] = []
        self._local.mine = mine
        try:
            yield
        finally:
            self._local.mine = None
            with self._lock:
                for key in mine:
                    self._held.pop(key).set()

    def hold(self, key: tuple[Any, ...]) -> None:
        """Hold ``key`` for this event, once no other event holds it (or max_wait passed); raise
        Interrupted if the run stops meanwhile."""
        mine = getattr(self._local, "mine", None)
        if mine is None or key in mine:
            return
        deadline = time.monotonic() + self._max_wait
        while True:
            with self._lock:
                held = self._held.get(key)
                if held is None:
                    self._held[key] = threading.Event()
                    mine.append(key)
                    return
            if time.monotonic() >= deadline:
                return
            if not held.wait(0.05) and self._stopped.is_set():
                raise Interrupted


class LiveLookup:
    """Call it with the look-up request the engine passes; returns ``(status, parsed body)``.

    Method, endpoint and headers are sent exactly as given. Timeouts, retries and the rate limit
    are the destination's (shared with the sender using the same client). A server that never
    answers raises NoAnswer; any status is returned as it is, and the engine decides.
    """

    def __init__(self, client: Client, *, cache: AnswerCache | None = None) -> None:
        self.client = client
        self.cache = cache
        rules = client.rules
        self.claims = Claims(client.stopped, max_wait=rules.timeout_seconds * rules.tries + rules.max_wait_seconds)

    def __call__(self, request: dict[str, Any]) -> tuple[int, Any]:
        method, url, headers = request["method"], request["endpoint"], request["headers"]
        key = (method, url, tuple(sorted(headers.items())))
        self.claims.hold(key)
        if self.cache is not None and (body := self.cache.get(key)) is not None:
            return 200, body
        answer = self.client.send(method, url, headers, lambda: None)
        if answer.interrupted:
            raise Interrupted
        if answer.status is None:
            raise NoAnswer(answer.error)
        body = None if answer.truncated else _parsed(answer.body)  # a body past the limit is not read whole
        if answer.status == 200 and body is not None and self.cache is not None:
            self.cache.put(key, body)
        return answer.status, body


def _parsed(data: bytes) -> Any:
    """The JSON body, or None when it is not JSON (the engine then reports what it lacks)."""
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None
