"""A journal of outcomes, so that a run killed at any point can be started again without sending
twice what was confirmed delivered.

Each input is known by its place in the input and a digest of its event: ``"<n>:<sha256>"``,
``n`` counting inputs from 0 and the digest taken over the event's canonical JSON (keys sorted,
ASCII). The same input read again gives the same keys; an input that changed gets new keys, so it
is sent (never skipped by mistake). A ``messageId`` is not used: bad data repeats them.

The file is NDJSON, append-only, one line per outcome as it happens: ``{"key", "outcome",
"status"}``. Each line is written whole with one ``write`` at once (a killed process loses none
of them: they are in the operating system's hands) and the file is fsync'd within
``SYNC_SECONDS`` (so power loss loses at most that much). On start, the lines are read back; a
torn last line (power loss mid-write) is ignored, and the keys with a ``delivered`` line are
skipped.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

SYNC_SECONDS = 0.1


def event_key(ordinal: int, message: Any) -> str:
    """An input's key: its place and the digest of its event."""
    text = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=repr)
    return f"{ordinal}:{hashlib.sha256(text.encode('ascii')).hexdigest()}"


class Journal:
    """Open (or create) the journal at ``path``; ``delivered`` holds the keys confirmed delivered
    by earlier runs. Thread-safe; ``close`` syncs what is left."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.delivered: frozenset[str] = frozenset()
        torn = False
        if self.path.exists():
            self.delivered, torn = _read(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if torn:  # the next line starts on a line of its own
            os.write(self._fd, b"\n")
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name="transformer-journal", daemon=True)
        self._syncer.start()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, key: str, outcome: str, status: Any) -> None:
        line = json.dumps({"key": key, "outcome": outcome, "status": status}, separators=(",", ":")) + "\n"
        with self._lock:
            os.write(self._fd, line.encode("ascii"))  # one write: whole lines in an O_APPEND file
        self._dirty.set()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._dirty.set()
        self._syncer.join()
        with self._lock:
            os.fsync(self._fd)
            os.close(self._fd)

    def _sync_loop(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait()
            self._dirty.clear()
            with self._lock:
                if not self._closed.is_set():
                    os.fsync(self._fd)
            self._closed.wait(SYNC_SECONDS)  # one fsync per SYNC_SECONDS at most: a group of outcomes


def _read(path: Path) -> tuple[frozenset[str], bool]:
    """The keys with a ``delivered`` line, and whether the last line is torn (no newline)."""
    delivered = set()
    data = path.read_bytes()
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # a torn line: its outcome was not recorded, so it is sent again
            continue
        if isinstance(entry, dict) and entry.get("outcome") == "delivered" and isinstance(entry.get("key"), str):
            delivered.add(entry["key"])
    return frozenset(delivered), bool(data) and not data.endswith(b"\n")
