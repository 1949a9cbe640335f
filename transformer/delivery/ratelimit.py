"""The rate limit every try takes a turn from: at most N tries started in any window of T seconds.

A token bucket that starts full lets 2N through in the first T seconds (N at once, then N more
as it refills); a destination counting in windows sees its limit exceeded. Here the start times
of the last N tries are kept, and a try starts only once the oldest of them is more than T
seconds old (plus a small margin for the time a request takes to arrive), so no window of T
seconds, the first included, ever holds more than N. Memory: N times per limit.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque

from ..language.delivery_rules import RateLimit

# Added to a window, so that requests that set out exactly T apart are not counted in one window
# at the server after a little network jitter: 5% of the window, at most a second.
MARGIN_SHARE = 0.05
MARGIN_MAX_SECONDS = 1.0


class Stopped(Exception):
    """The run was asked to stop while a try waited for its turn."""


class RateLimiter:
    """Shared by every thread of a sender. ``pause`` holds every thread back, for when the server
    says when its budget resets."""

    def __init__(self, limit: RateLimit | None, stopped: threading.Event) -> None:
        if limit is not None and not (limit.requests >= 1 and math.isfinite(limit.per_seconds) and limit.per_seconds > 0):
            raise ValueError(f"a rate limit needs at least 1 request per a finite, positive time: {limit}")
        self._size = limit.requests if limit else 0
        self._window = limit.per_seconds + min(limit.per_seconds * MARGIN_SHARE, MARGIN_MAX_SECONDS) if limit else 0.0
        self._starts: deque[float] = deque(maxlen=self._size or None)
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._stopped = stopped

    def pause(self, seconds: float) -> None:
        if math.isfinite(seconds) and seconds > 0:
            with self._lock:
                self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def acquire(self) -> None:
        """Wait for this try's turn; raise Stopped if the run stops meanwhile."""
        while True:
            with self._lock:
                now = time.monotonic()
                delay = self._paused_until - now
                if delay <= 0 and self._size:
                    if len(self._starts) == self._size:
                        delay = self._starts[0] + self._window - now
                    if delay <= 0:
                        self._starts.append(now)  # the oldest drops out (maxlen)
                        return
                elif delay <= 0:
                    return
            if self._stopped.wait(delay):
                raise Stopped
