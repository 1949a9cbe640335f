"""Send one request description by a destination's delivery rules: rate limit, tries, waits.

urllib3 does the HTTP: a thread-safe connection pool, timeouts, and ``Retry``, whose counting,
status list, exponential backoff and Retry-After parsing are used as they are. The loop around
them is ours for three reasons: every try takes a token from the destination's rate limit (a
budget counts retries too), a body's stamps are set again at each try, and a stop request ends
the run between tries instead of after the last wait.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util import Retry, Timeout

from ..language.delivery_rules import DeliveryRules, RateLimit

# A Unix time, not a number of seconds, when a reset header is larger than this (2001-09-09).
_EPOCH_FLOOR = 1_000_000_000
_SECRET_HEADERS = ("authorization", "proxy-authorization")


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


class Stopped(Exception):
    """The run was asked to stop (``Client.stop``)."""


class RateLimiter:
    """A token bucket shared by every thread: ``requests`` tokens, refilled over ``per_seconds``.
    ``pause`` holds every thread back, for when the server says when the budget resets."""

    def __init__(self, limit: RateLimit | None, stopped: threading.Event) -> None:
        self._capacity = float(limit.requests) if limit else 0.0
        self._rate = limit.requests / limit.per_seconds if limit else 0.0
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._stopped = stopped

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def acquire(self) -> None:
        """Wait for a token; raise Stopped if the run stops meanwhile."""
        while True:
            with self._lock:
                now = time.monotonic()
                delay = self._paused_until - now
                if delay <= 0 and not self._rate:
                    return
                if delay <= 0:
                    self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
                    self._updated = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    delay = (1 - self._tokens) / self._rate
            if self._stopped.wait(delay):
                raise Stopped


class Client:
    """Sends request descriptions for one destination; safe to share between threads."""

    def __init__(self, rules: DeliveryRules, *, timeout: float | None = None, rate_limit: RateLimit | None = None,
                 max_connections: int = 10) -> None:
        self.rules = rules
        self.stopped = threading.Event()
        self.requests_sent = 0  # tries in all, look-ups included
        self._count_lock = threading.Lock()
        self.limiter = RateLimiter(rate_limit or rules.rate_limit, self.stopped)
        seconds = rules.timeout_seconds if timeout is None else timeout
        self._timeout = Timeout(connect=seconds, read=seconds)
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=max_connections, retries=False)
        self._retry = Retry(
            total=rules.tries - 1, status_forcelist=rules.retry_statuses, allowed_methods=None,  # any method: at-least-once
            backoff_factor=rules.backoff_seconds, backoff_max=rules.max_wait_seconds, backoff_jitter=rules.backoff_seconds / 2,
            retry_after_max=int(rules.max_wait_seconds), raise_on_status=False, redirect=False)

    def stop(self) -> None:
        """No new tries from now on; waits end at once. Tries under way finish (within the timeout)."""
        self.stopped.set()

    def close(self) -> None:
        self._pool.clear()

    def send(self, method: str, url: str, headers: Mapping[str, str], body: Callable[[], bytes | None]) -> Answer:
        """Send until an answer that is not to be retried, or no try is left. ``body`` is called
        before each try (stamps are set anew)."""
        retry, tries = self._retry, 0
        while True:
            try:
                self.limiter.acquire()
            except Stopped:
                return Answer(None, b"", tries, f"the run stopped before try {tries + 1}", interrupted=True)
            tries += 1
            with self._count_lock:
                self.requests_sent += 1
            try:
                response = self._pool.urlopen(method, url, body=body(), headers=dict(headers), retries=False,
                                              redirect=False, timeout=self._timeout, preload_content=True)
            except HTTPError as exc:
                error = _describe(exc, self._timeout)
                try:
                    retry = retry.increment(method, url, error=exc)
                except (MaxRetryError, HTTPError):
                    return Answer(None, b"", tries, error, exhausted=True)
                if self.stopped.wait(retry.get_backoff_time()):
                    return Answer(None, b"", tries, error, interrupted=True)
                continue
            if not retry.is_retry(method, response.status, "Retry-After" in response.headers):
                return Answer(response.status, response.data, tries)
            try:
                retry = retry.increment(method, url, response=response)
            except MaxRetryError:
                return Answer(response.status, response.data, tries, exhausted=True)
            told = self._told_wait(retry, response)
            if told is not None:  # the budget is the destination's: every thread waits
                self.limiter.pause(told)
            elif self.stopped.wait(retry.get_backoff_time()):
                return Answer(response.status, response.data, tries, interrupted=True)

    def _told_wait(self, retry: Retry, response: Any) -> float | None:
        """Seconds the server asked us to wait: Retry-After (urllib3 parses it), else the reset header."""
        try:
            after = retry.get_retry_after(response)
        except HTTPError:  # an unreadable Retry-After: back off instead
            after = None
        if after is not None or self.rules.reset_header is None or response.status != 429:
            return after
        try:
            reset = float(response.headers.get(self.rules.reset_header, ""))
        except ValueError:
            return None
        seconds = reset - time.time() if reset > _EPOCH_FLOOR else reset
        return min(max(seconds, 0.0), self.rules.max_wait_seconds)


def _describe(exc: HTTPError, timeout: Timeout) -> str:
    """A short reason, without urllib3's text (it repeats the URL, which may carry personal data)."""
    if isinstance(exc, ReadTimeoutError):
        return f"no answer within {timeout.read_timeout} s"
    if isinstance(exc, ProtocolError):
        return "the connection closed without an answer"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError included
        return "could not connect"
    return exc.__class__.__name__


def redacted_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Headers as they may be shown: credentials replaced."""
    return {k: "[redacted]" if k.lower() in _SECRET_HEADERS else v for k, v in headers.items()}


def redact(text: str, headers: Mapping[str, Any]) -> str:
    """``text`` (an answer's body) without the credentials of ``headers``, should it echo them."""
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS and isinstance(value, str) and value:
            for secret in (value, value.partition(" ")[2]):
                if len(secret) >= 4:
                    text = text.replace(secret, "[redacted]")
    return text
