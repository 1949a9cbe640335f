"""The inputs of one ``Sender.run`` between being read and having their outcome given in order."""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .journal import Journal, event_key
from .stats import Stats

# Inputs read and not yet given their outcome, at most: a request that is retried for minutes
# holds back only the outcomes (not the sending) of the inputs after it, up to this many.
WINDOW = 100_000
SKIPPED = "delivered by an earlier run (the journal says so)"


class Book:
    """Each input read gets a sequence number, which stands in for its metadata while it is
    transformed, packed and sent; its own metadata, journal key and settings wait here. Outcomes
    are recorded (journal, counts) when they happen, and given back in input order.

    An input whose mapping fans out has one result per request: each carries ``(seq, index)``
    (see ``number``), and the input's outcomes are given together, in request order, once all
    are known. Its journal line is written then too: delivered only when every request was, so a
    run started again sends every request of an input not wholly delivered."""

    def __init__(self, journal: Journal | None, stats: Stats, window: int = WINDOW) -> None:
        self._journal = journal
        self._stats = stats
        self._window = window
        self._entries: dict[int, tuple[Any, str | None, Any]] = {}  # seq -> (metadata, key, settings)
        self._ready: dict[int, dict[int, dict[str, Any]]] = {}  # seq -> request index -> outcome
        self._expected: dict[int, int] = {}  # seq -> how many outcomes its input has
        self._parts: dict[int, list[dict[str, Any]]] = {}  # seq -> outcomes known, of an input that fans out
        self._lock = threading.Lock()  # done() is called from the sender's threads
        self._read = self._given = 0
        self._failure: Exception | None = None

    def read(self, inputs: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """The inputs to send, their metadata replaced by their sequence number. An input the
        journal says was delivered gets its outcome here; an exception from ``inputs`` ends the
        reading (``raise_failure`` raises it once every input read has its outcome)."""
        try:
            for item in inputs:
                seq = self._read
                self._read += 1
                self._stats.input_read()
                if not isinstance(item, dict):
                    self._entries[seq] = (None, None, None)
                    self._settle(seq, "failed", 400, error="not an input (a dict with message, destination, metadata)")
                    continue
                destination = item.get("destination")
                settings = destination.get("Config") if isinstance(destination, dict) else None
                key = event_key(seq, item.get("message")) if self._journal is not None else None
                self._entries[seq] = (item.get("metadata"), key, settings)
                if self._journal is not None and key in self._journal.delivered:
                    self._settle(seq, "skipped", None, error=SKIPPED)
                    continue
                yield {**item, "metadata": seq}
        except Exception as exc:  # noqa: BLE001 (whatever the caller's iterable raised, raised again later)
            self._failure = exc

    def _settle(self, seq: int, kind: str, status: Any, **extra: Any) -> None:
        self._stats.outcome(kind, status)
        self._expected[seq] = 1
        self._ready[seq] = {0: {"outcome": kind, "status": status, "tries": 0, **extra, "metadata": (seq, 0)}}

    def number(self, seq: int, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The results of input ``seq``, each marked with ``(seq, index)`` in place of metadata."""
        self._expected[seq] = len(results)
        for index, result in enumerate(results):
            result["metadata"] = (seq, index)
        return results

    def done(self, outcome: dict[str, Any]) -> None:
        """Record an outcome as soon as it is known (from any thread)."""
        seq, _ = outcome["metadata"]
        self._stats.outcome(outcome["outcome"], outcome["status"])
        _, key, _ = self._entries[seq]
        if key is None or self._journal is None:
            return
        if self._expected.get(seq, 1) == 1:
            self._journal.record(key, outcome["outcome"], outcome["status"])
            return
        with self._lock:
            parts = self._parts.setdefault(seq, [])
            parts.append(outcome)
            if len(parts) < self._expected[seq]:
                return
            del self._parts[seq]
        failed = next((part for part in parts if part["outcome"] not in ("delivered", "no_request")), None)
        self._journal.record(key, "delivered" if failed is None else failed["outcome"],
                             parts[0]["status"] if failed is None else failed["status"])

    def settings(self, marked: Any) -> Any:
        entry = self._entries.get(marked[0]) if isinstance(marked, tuple) else None
        return entry[2] if entry else None

    def backlog(self) -> bool:
        """Whether so many inputs wait for their outcome that no more should be read yet."""
        return self._read - self._given >= self._window

    def in_order(self, outcomes: Iterable[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        """``outcomes`` (lists, in any order, metadata a sequence number) and those settled here,
        in input order, each with its input's own metadata."""
        for some in outcomes:
            for outcome in some:
                seq, index = outcome["metadata"]
                self._ready.setdefault(seq, {})[index] = outcome
            yield from self._flush()
        yield from self._flush()

    def _flush(self) -> Iterator[dict[str, Any]]:
        while len(self._ready.get(self._given, ())) == self._expected.get(self._given):
            metadata = self._entries.pop(self._given)[0]
            del self._expected[self._given]
            for _, outcome in sorted(self._ready.pop(self._given).items()):
                outcome["metadata"] = metadata
                yield outcome
            self._given += 1

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
