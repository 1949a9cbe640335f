"""What a sender has done so far, counted as it happens (not as outcomes are yielded in order):
the progress line, the summary and the metrics all read it."""
from __future__ import annotations

import bisect
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Upper bounds (seconds) of the try latency histogram's buckets; the last one is +Inf.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Snapshot:
    read: int
    outcomes: Counter[str]
    failed_statuses: Counter[Any]
    answers: Counter[str]          # tries by answer: a status ("200") or "no answer"
    retrying: int                  # events waiting to try again
    latency_counts: list[int]      # per bucket (not cumulative), the +Inf bucket last
    latency_sum: float
    seconds: float
    done: int = field(init=False)

    def __post_init__(self) -> None:
        self.done = sum(self.outcomes.values())


class Stats:
    """Thread-safe counters of one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._read = 0
        self._outcomes: Counter[str] = Counter()
        self._failed: Counter[Any] = Counter()
        self._answers: Counter[str] = Counter()
        self._retrying = 0
        self._latency = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0

    def input_read(self) -> None:
        with self._lock:
            self._read += 1

    def outcome(self, kind: str, status: Any) -> None:
        with self._lock:
            self._outcomes[kind] += 1
            if kind == "failed":
                self._failed[status] += 1

    def try_done(self, seconds: float, status: int | None) -> None:
        with self._lock:
            self._answers["no answer" if status is None else str(status)] += 1
            self._latency[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds

    def waiting(self, change: int) -> None:
        """``change`` more (or fewer) events waiting to try again."""
        with self._lock:
            self._retrying += change

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._read, self._outcomes.copy(), self._failed.copy(), self._answers.copy(),
                            self._retrying, list(self._latency), self._latency_sum, time.monotonic() - self._start)
