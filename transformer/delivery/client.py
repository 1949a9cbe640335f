"""Send one request description by a destination's delivery rules: rate limit, tries, waits.

urllib3 does the HTTP: a thread-safe connection pool, timeouts, and ``Retry``, whose counting,
status list, exponential backoff and Retry-After parsing are used as they are. The loop around
them is ours: every try takes a turn from the destination's rate limit (a budget counts retries
too) and one of the tries under way, a body's stamps are set again at each try, a stop request
ends the run between tries instead of after the last wait, and each try has one deadline.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util import Retry, Timeout

from ..language.delivery_rules import DeliveryRules, RateLimit
from .deadline import Watchdog, pool_manager, read_bounded
from .ratelimit import RateLimiter, Stopped
from .stats import Stats

# A Unix time, not a number of seconds, when a reset header is larger than this (2001-09-09).
_EPOCH_FLOOR = 1_000_000_000
# An answer's body is read up to this size: enough for any look-up's JSON; the rest is dropped.
MAX_ANSWER_BYTES = 1 << 20


@dataclass(frozen=True)
class Answer:
    """What came of sending one request: the last answer's status and body, or ``error`` when
    there was none (timeout, connection refused or closed); ``interrupted`` when the run stopped
    before a try; ``exhausted`` when the last answer or error was one to retry and no try was left."""

    status: int | None
    body: bytes
    tries: int
    error: str | None = None
    interrupted: bool = False
    exhausted: bool = False
    truncated: bool = False  # the body is the first max_answer_bytes of a longer one


class Client:
    """Sends request descriptions for one destination; safe to share between threads.

    At most ``max_connections`` tries are under way at once; a request waiting to try again holds
    none of them, so it never slows the others. Each try has one deadline (``timeout``, or the
    rules'), connection and answer included, and its answer is read up to ``max_answer_bytes``."""

    def __init__(self, rules: DeliveryRules, *, timeout: float | None = None, rate_limit: RateLimit | None = None,
                 max_connections: int = 10, stats: Stats | None = None,
                 max_answer_bytes: int = MAX_ANSWER_BYTES) -> None:
        self.rules = rules
        self.stopped = threading.Event()
        self.requests_sent = 0  # tries in all, look-ups included
        self.stats = stats or Stats()
        self.max_answer_bytes = max_answer_bytes
        self._count_lock = threading.Lock()
        self.limiter = RateLimiter(rate_limit or rules.rate_limit, self.stopped)
        self.seconds = rules.timeout_seconds if timeout is None else timeout
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"a timeout must be a finite number of seconds more than 0, not {self.seconds}")
        self._timeout = Timeout(connect=self.seconds, read=self.seconds)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._watchdog = Watchdog()
        self._pool = pool_manager(max_connections)
        self._retry = Retry(
            total=rules.tries - 1, status_forcelist=rules.retry_statuses, allowed_methods=None,  # any method: at-least-once
            backoff_factor=rules.backoff_seconds, backoff_max=rules.max_wait_seconds, backoff_jitter=rules.backoff_seconds / 2,
            retry_after_max=int(rules.max_wait_seconds), raise_on_status=False, redirect=False)

    def stop(self) -> None:
        """No new tries from now on; waits end at once. Tries under way finish (by their deadline)."""
        self.stopped.set()
        self.limiter.wake()

    def abort(self) -> None:
        """Stop, and cut every try under way now."""
        self.stop()
        self._watchdog.cut_all()

    def close(self) -> None:
        self._pool.clear()

    def send(self, method: str, url: str, headers: Mapping[str, str], body: Callable[[], bytes | None]) -> Answer:
        """Send until an answer that is not to be retried, or no try is left. ``body`` is called
        before each try (stamps are set anew)."""
        retry, tries = self._retry, 0
        while True:
            try:
                with self._slot():
                    turn = self.limiter.acquire()
                    tries += 1
                    try:
                        response, data, cut = self._try(method, url, headers, body())
                    finally:
                        self.limiter.release(turn)
            except Stopped:
                return Answer(None, b"", tries, f"the run stopped before try {tries + 1}", interrupted=True)
            except HTTPError as exc:
                error = self._describe(exc)
                try:
                    retry = retry.increment(method, url, error=exc)
                except (MaxRetryError, HTTPError):
                    return Answer(None, b"", tries, error, exhausted=True)
                if self._wait(retry.get_backoff_time()):
                    return Answer(None, b"", tries, error, interrupted=True)
                continue
            if not retry.is_retry(method, response.status, "Retry-After" in response.headers):
                return Answer(response.status, data, tries, truncated=cut)
            try:
                retry = retry.increment(method, url, response=response)
            except MaxRetryError:
                return Answer(response.status, data, tries, exhausted=True, truncated=cut)
            told = self._told_wait(retry, response)
            if told is not None:  # the budget is the destination's: every thread waits
                self.limiter.pause(told)
            elif self._wait(retry.get_backoff_time()):
                return Answer(response.status, data, tries, interrupted=True, truncated=cut)

    def _try(self, method: str, url: str, headers: Mapping[str, str], data: bytes | None) -> tuple[Any, bytes, bool]:
        """One try within its deadline: the response, its body (bounded) and whether it was cut."""
        with self._count_lock:
            self.requests_sent += 1
        start = time.monotonic()
        status = None
        try:
            with self._watchdog.watch(self.seconds) as watch:
                try:
                    response = self._pool.urlopen(method, url, body=data, headers=dict(headers), retries=False,
                                                  redirect=False, timeout=self._timeout, preload_content=False)
                    body, cut = read_bounded(response, self.max_answer_bytes)
                except (HTTPError, OSError) as exc:
                    if watch.expired:  # cut at its deadline: whatever the read then raised
                        raise ReadTimeoutError(None, url, "deadline") from None  # type: ignore[arg-type]
                    if isinstance(exc, HTTPError):
                        raise
                    raise ProtocolError("read failed", exc) from None
            status = response.status
            return response, body, cut
        finally:
            self.stats.try_done(time.monotonic() - start, status)

    @contextmanager
    def _slot(self) -> Iterator[None]:
        """One of the ``max_connections`` tries under way; raise Stopped if the run stops first."""
        while not self._slots.acquire(timeout=0.05):
            if self.stopped.is_set():
                raise Stopped
        if self.stopped.is_set():
            self._slots.release()
            raise Stopped
        try:
            yield
        finally:
            self._slots.release()

    def _wait(self, seconds: float) -> bool:
        """Wait before trying again, holding no slot; True if the run stopped meanwhile."""
        self.stats.waiting(1)
        try:
            return self.stopped.wait(seconds)
        finally:
            self.stats.waiting(-1)

    def _told_wait(self, retry: Retry, response: Any) -> float | None:
        """Seconds the server asked us to wait: Retry-After (urllib3 parses it), else the reset
        header. A value that cannot be used (a date past year 9999, thousands of digits, nan) is
        as good as none: the default backoff applies."""
        try:
            after = retry.get_retry_after(response)
        except Exception:  # noqa: BLE001 (urllib3 raises InvalidHeader, ValueError or OverflowError)
            after = None
        if after is not None and not math.isfinite(after):
            after = None
        if after is not None or self.rules.reset_header is None or response.status != 429:
            return after
        try:
            reset = float(response.headers.get(self.rules.reset_header, ""))
        except (ValueError, OverflowError):
            return None
        if not math.isfinite(reset):
            return None
        seconds = reset - time.time() if reset > _EPOCH_FLOOR else reset
        return min(max(seconds, 0.0), self.rules.max_wait_seconds)

    def _describe(self, exc: HTTPError) -> str:
        """A short reason, without urllib3's text (it repeats the URL, which may carry personal data)."""
        if isinstance(exc, ReadTimeoutError):
            return f"no answer within {self.seconds} s"
        if isinstance(exc, ProtocolError):
            return "the connection closed without an answer"
        if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError included
            return "could not connect"
        return exc.__class__.__name__
