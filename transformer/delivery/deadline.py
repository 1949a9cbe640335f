"""One overall deadline per try, and answers read up to a size.

urllib3's timeouts bound each read, not a try: a server that sends one byte every half second
keeps a try going for as long as it likes. A single watchdog thread cuts the connection of a
try still running at its deadline (the blocked read then ends at once), and ``Sender.abort``
cuts every try under way. The pool's connection classes register the connection a try uses, so
the watchdog knows which socket to cut.
"""
from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the Watch of the try this thread is making


class Watch:
    """One try's deadline; ``expired`` once the watchdog (or an abort) cut it."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.finished = False
        self._connection: HTTPConnection | None = None
        self._lock = threading.Lock()

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                _cut(connection)

    def cut(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            if self._connection is not None:
                _cut(self._connection)

    def __enter__(self) -> Watch:
        _current.watch = self
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.finished = True
        _current.watch = None


def _cut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass


class Watchdog:
    """Cuts each watched try at its deadline. One daemon thread, started on first use."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._live: set[Watch] = set()
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float) -> Watch:
        watch = Watch(time.monotonic() + seconds)
        with self._wake:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            self._live.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="transformer-send-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is watch:  # only a deadline sooner than the others changes the wait
                self._wake.notify()
        return watch

    def cut_all(self) -> None:
        """Cut every try under way (a second Ctrl-C)."""
        with self._wake:
            live = list(self._live)
        for watch in live:
            watch.cut()

    def _run(self) -> None:
        while True:
            with self._wake:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].finished or self._heap[0][0] <= now):
                    _, _, watch = heapq.heappop(self._heap)
                    self._live.discard(watch)
                    if not watch.finished:
                        watch.cut()
                self._wake.wait(self._heap[0][0] - now if self._heap else None)


class _Watched:
    """Registers the connection with the Watch of the try that sends a request on it."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch: Watch | None = getattr(_current, "watch", None)
        if watch is not None:
            watch.attach(self)  # type: ignore[arg-type]  # mixed into HTTPConnection below
        super().request(*args, **kwargs)  # type: ignore[misc]


class _Connection(_Watched, HTTPConnection):
    pass


class _SecureConnection(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _SecurePool(HTTPSConnectionPool):
    ConnectionCls = _SecureConnection


def pool_manager(max_connections: int) -> urllib3.PoolManager:
    """A PoolManager whose connections a Watch can cut."""
    manager = urllib3.PoolManager(num_pools=4, maxsize=max_connections, retries=False)
    manager.pool_classes_by_scheme = {"http": _Pool, "https": _SecurePool}
    return manager


def read_bounded(response: Any, limit: int) -> tuple[bytes, bool]:
    """The answer's body, at most ``limit`` bytes, and whether there was more. A body cut short
    leaves its connection closed, not returned to the pool with bytes unread."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = response.read(min(65_536, limit + 1 - size))
        if not chunk:
            response.release_conn()
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    response.close()
    return b"".join(chunks)[:limit], True
