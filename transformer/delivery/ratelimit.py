"""The rate limit every try takes a turn from: at most N requests arrive in any window of T seconds.

A token bucket that starts full lets 2N through in the first T seconds (N at once, then N more
as it refills); a destination counting in windows sees its limit exceeded. Spacing the *starts*
of tries is not enough either: a try that waits for a CPU or a connection after its start
arrives late, next to tries started a window later. So a try counts from its start until T
seconds after its end (its answer read: it arrived before that), and a new try starts only while
fewer than N tries count. Whenever N+1 requests arrive, the last one to start started at least T
after another had ended, so no window of T seconds, the first included, ever holds more than N.
"""
from __future__ import annotations

import math
import threading
import time

from ..language.delivery_rules import RateLimit

_IN_FLIGHT = math.inf
_PRUNE_AT = 4096  # tries kept before the ended ones are looked for (under a limit this large)


class Stopped(Exception):
    """The run was asked to stop while a try waited for its turn."""


class RateLimiter:
    """Shared by every thread of a sender: ``release(acquire())`` around each try. ``pause``
    holds every thread back, for when the server says when its budget resets."""

    def __init__(self, limit: RateLimit | None, stopped: threading.Event) -> None:
        if limit is not None and not (limit.requests >= 1 and math.isfinite(limit.per_seconds) and limit.per_seconds > 0):
            raise ValueError(f"a rate limit needs at least 1 request per a finite, positive time: {limit}")
        self._size = limit.requests if limit else 0
        self._window = limit.per_seconds if limit else 0.0
        self._counted: list[list[float]] = []  # [end] of each try that counts; inf while under way
        self._paused_until = 0.0
        self._changed = threading.Condition()
        self._stopped = stopped

    def pause(self, seconds: float) -> None:
        if math.isfinite(seconds) and seconds > 0:
            with self._changed:
                self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def wake(self) -> None:
        """Let waiting threads see a stop at once."""
        with self._changed:
            self._changed.notify_all()

    def acquire(self) -> list[float] | None:
        """Wait for this try's turn; raise Stopped if the run stops meanwhile. Pass what it
        returns to ``release`` once the try is over."""
        with self._changed:
            while True:
                if self._stopped.is_set():
                    raise Stopped
                now = time.monotonic()
                delay = self._paused_until - now
                if delay <= 0 and not self._size:
                    return None
                if delay <= 0:
                    delay = self._turn(now)
                    if delay <= 0:
                        entry = [_IN_FLIGHT]
                        self._counted.append(entry)
                        return entry
                self._changed.wait(min(delay, 1.0))  # a release or a stop wakes it sooner

    def release(self, entry: list[float] | None) -> None:
        """The try is over (its answer read, or none will come)."""
        if entry is not None:
            with self._changed:
                entry[0] = time.monotonic()
                self._changed.notify_all()

    def _turn(self, now: float) -> float:
        """Seconds until a try may start (0 or less: now). Called with the lock held."""
        if len(self._counted) < self._size and len(self._counted) < _PRUNE_AT:
            return 0.0
        self._counted = [entry for entry in self._counted if entry[0] + self._window > now]
        if len(self._counted) < self._size:
            return 0.0
        return min(entry[0] for entry in self._counted) + self._window - now  # inf: wait for a release
