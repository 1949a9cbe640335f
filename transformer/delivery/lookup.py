"""A live ``lookup`` for ``transform`` and ``process``: performs the GET the engine describes."""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
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
        self.hits = self.misses = 0

    def get(self, key: tuple[Any, ...]) -> Any | None:
        with self._lock:
            entry = self._answers.get(key)
            if entry is None or entry[0] < self._clock():
                if entry is not None:
                    del self._answers[key]
                self.misses += 1
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


class LiveLookup:
    """Call it with the look-up request the engine passes; returns ``(status, parsed body)``.

    Method, endpoint and headers are sent exactly as given. Timeouts, retries and the rate limit
    are the destination's (shared with the sender using the same client). A server that never
    answers raises NoAnswer; any status is returned as it is, and the engine decides.
    """

    def __init__(self, client: Client, *, cache: AnswerCache | None = None) -> None:
        self.client = client
        self.cache = cache

    def __call__(self, request: dict[str, Any]) -> tuple[int, Any]:
        method, url, headers = request["method"], request["endpoint"], request["headers"]
        key = (method, url, tuple(sorted(headers.items())))
        if self.cache is not None and (body := self.cache.get(key)) is not None:
            return 200, body
        answer = self.client.send(method, url, headers, lambda: None)
        if answer.interrupted:
            raise Interrupted
        if answer.status is None:
            raise NoAnswer(answer.error)
        body = _parsed(answer.body)
        if answer.status == 200 and body is not None and self.cache is not None:
            self.cache.put(key, body)
        return answer.status, body


def _parsed(data: bytes) -> Any:
    """The JSON body, or None when it is not JSON (the engine then reports what it lacks)."""
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None
