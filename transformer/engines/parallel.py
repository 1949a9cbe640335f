"""Work on a stream in N worker processes, results in input order: ``transformer run --jobs N``.

- N is capped at the CPUs this process may run on: a worker more than that cannot transform any
  faster, it only costs its memory and its start.
- Workers start as work arrives: a one-line input starts one, whatever N is.
- A thread reads the input and hands tasks over, so a result is given as soon as its turn comes,
  even while the input has nothing more to give yet (a slow producer, ``tail -f``).
- At most ``IN_FLIGHT`` tasks per worker are handed over and not yet given back, so memory stays
  bounded whatever the input's size.
- Tasks and results travel through pipes widened to ``PIPE_BYTES`` where the platform allows it
  (Linux), so that a whole task or result goes in at once and nobody waits for the other side.
- Their bytes travel as they are (``_Channel``): copied once into the pipe and once out of it,
  never into or out of a pickle, so the main process spends little of a CPU the workers need.
- Workers ignore Ctrl-C (the main process stops them, without tracebacks) and end by themselves
  within ``WATCH_PARENT`` seconds of the main process's death (SIGTERM, SIGKILL): none is left behind.

The work function is installed once in each worker (not sent with every task): a Destination
pickles as its mapping texts and compiles again on arrival.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")

CHUNK = 500  # JSON array elements per task: large enough that sending a task costs little next to its work
IN_FLIGHT = 2  # tasks per worker handed over ahead: keeps every worker busy while results are written
# Linux pipes hold 64 KiB by default: a task of NDJSON lines (up to 256 KiB, one read) or its result
# (a third larger) went through in four or more hand-overs, each waiting for the other process to be
# scheduled, on CPUs the workers keep busy. 1 MiB is the most an unprivileged process may ask for
# (/proc/sys/fs/pipe-max-size): a few tasks and results each.
PIPE_BYTES = 1 << 20
WATCH_PARENT = 0.5  # seconds between a worker's looks at whether the main process is still there
_STOP_WAIT = 2.0  # seconds workers get to finish after the last task before they are terminated


OUT_OF_BAND = 1 << 12  # bytes of at least this size travel beside a task's or result's pickle, not in it


class WorkerFailed(Exception):
    """A worker process died (killed, out of memory) or its work raised: the output is incomplete."""


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def job_count(text: str) -> int:
    """``--jobs``: a number of processes, or ``0`` / ``auto`` for one per usable CPU. Not capped:
    see ``usable_cpus``."""
    if text.strip().lower() in ("0", "auto"):
        return usable_cpus()
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"--jobs must be a number or 'auto', got {text!r}") from None
    if count < 0:
        raise ValueError(f"--jobs must be 0 (auto) or more, got {count}")
    return count or usable_cpus()


def ordered_map(work: Callable[[Task], Result], tasks: Iterable[Task], jobs: int) -> Iterator[Result]:
    """``work(task)`` for each of ``tasks``, computed in up to ``jobs`` processes (at most one per
    usable CPU), yielded in input order. ``work`` must pickle (a module-level function, or a
    partial of one) where processes start by spawning rather than forking."""
    pool = _Pool(work, min(jobs, usable_cpus()))
    finished = False
    try:
        yield from pool.results(tasks)
        finished = True
    finally:
        pool.close(wait=finished)


def _widen(writer: Any) -> None:
    """Let the pipe ``writer`` writes to hold ``PIPE_BYTES`` where the platform allows it; as it is
    elsewhere, or when refused (a lower limit, a user's pipes over their allowance)."""
    if sys.platform != "linux":
        return
    import fcntl

    try:
        fcntl.fcntl(writer.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError):  # not a pipe we know, or refused: the default size still works
        pass


class _Channel:
    """One way of a pipe between processes, for Python objects (a task or a result, with its number).

    What ``multiprocessing.SimpleQueue`` does, without its copies of large bytes: it pickles a
    result's bytes into one, writes it, reads it back a piece at a time into a buffer and unpickles
    it out of that. Here an object is pickled with protocol 5, and its bytes of ``OUT_OF_BAND`` or
    more (alone or in tuples, and those records.Lines offers) are written after the pickle as they
    are, then read back in one read each: for ``run --jobs 2``'s 130 MB of NDJSON in and results
    out, a tenth of a second less of the main process's CPU time. Messages are framed as
    ``Connection.send_bytes`` frames them (a 4-byte big-endian length), so each is read whole."""

    def __init__(self, context: Any) -> None:
        self._reader, self._writer = context.Pipe(duplex=False)
        self._rlock, self._wlock = context.Lock(), context.Lock()
        _widen(self._writer)

    def put(self, item: Any) -> None:
        buffers: list[pickle.PickleBuffer] = []
        data = pickle.dumps(_out_of_band(item), protocol=5, buffer_callback=buffers.append)
        with self._wlock:
            self._writer.send_bytes(len(buffers).to_bytes(4, "big") + data)
            for buffer in buffers:
                self._writer.send_bytes(buffer)

    def get(self) -> Any:
        with self._rlock:
            data = self._message()
            buffers = [self._message() for _ in range(int.from_bytes(data[:4], "big"))]
        return pickle.loads(memoryview(data)[4:], buffers=buffers)

    def _message(self) -> bytes:
        if sys.platform == "win32":  # a Windows pipe handle is no file descriptor os.read can read
            return self._reader.recv_bytes()  # type: ignore[no-any-return]
        fd = self._reader.fileno()
        size = int.from_bytes(_read_exactly(fd, 4), "big", signed=True)
        if size == -1:  # send_bytes's length of over 2 GiB follows as 8 bytes
            size = int.from_bytes(_read_exactly(fd, 8), "big")
        return _read_exactly(fd, size)


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from a pipe: one read when the writer has written them all (the usual case)."""
    data = os.read(fd, size)
    if len(data) == size:
        return data
    parts, got = [data], len(data)
    while got < size:
        if not (chunk := os.read(fd, size - got)):
            raise EOFError("the other end of a worker pipe closed mid-message")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _out_of_band(value: Any) -> Any:
    """``value`` with its large bytes (alone or in tuples, at any depth) marked to travel beside its pickle."""
    if value.__class__ is bytes:
        return pickle.PickleBuffer(value) if len(value) >= OUT_OF_BAND else value
    if value.__class__ is tuple:
        return tuple(map(_out_of_band, value))
    return value


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_PARENT)
    os._exit(1)  # the main process is gone: nobody will read what this worker would give


def _worker(work: Callable[[Any], Any], tasks: Any, results: Any, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    while (item := tasks.get()) is not None:
        number, task = item
        try:
            results.put((number, True, work(task)))
        except Exception as exc:  # the work never raises for bad input: this is a bug, reported as one
            results.put((number, False, f"{exc.__class__.__name__}: {exc}"))
    os._exit(0)  # without the exit-time flushing of streams shared with the main process


class _Pool:
    """Worker processes fed through one task queue, results collected into one event queue that
    the main thread waits on with the reader's tasks: it alone starts processes and yields."""

    def __init__(self, work: Callable[[Any], Any], jobs: int) -> None:
        self._work, self._jobs = work, max(jobs, 1)
        self._context = multiprocessing.get_context()
        self._tasks = _Channel(self._context)
        self._results = _Channel(self._context)
        self._events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        self._slots = threading.Semaphore(self._jobs * IN_FLIGHT)
        self._stopping = threading.Event()
        self._workers: list[Any] = []

    def results(self, tasks: Iterable[Any]) -> Iterator[Any]:
        threading.Thread(target=self._read, args=(tasks,), daemon=True).start()
        threading.Thread(target=self._collect, daemon=True).start()
        waiting: dict[int, Any] = {}
        sent = given = 0
        total: int | None = None
        while total is None or given < total:
            try:
                kind, number, value = self._events.get(timeout=WATCH_PARENT)
            except queue.Empty:
                self._check_workers()
                continue
            if kind == "task":
                self._start_worker_if_needed(sent - given)
                self._tasks.put((number, value))
                sent += 1
            elif kind == "result":
                waiting[number] = value
                while given in waiting:
                    yield waiting.pop(given)
                    given += 1
                    self._slots.release()
            elif kind == "failed":
                raise WorkerFailed(f"a worker's work raised {value}; the output is incomplete")
            elif kind == "end":
                total = number
            else:  # "error": reading the input failed; what was read before it has been given
                raise value

    def _read(self, tasks: Iterable[Any]) -> None:
        number = 0
        try:
            for task in tasks:
                self._slots.acquire()
                if self._stopping.is_set():
                    return
                self._events.put(("task", number, task))
                number += 1
        except BaseException as exc:  # e.g. a file that fails to read: raised in the main thread
            self._events.put(("error", number, exc))
            return
        self._events.put(("end", number, None))

    def _collect(self) -> None:
        while (item := self._results.get()) is not None:
            number, ok, value = item
            self._events.put(("result" if ok else "failed", number, value))

    def _start_worker_if_needed(self, outstanding: int) -> None:
        if len(self._workers) >= self._jobs or outstanding < len(self._workers):
            return
        with warnings.catch_warnings():
            # Python 3.12+ warns of fork() beside threads. Safe here: the reader and collector
            # threads hold only locks a worker never takes (the input file's, the event queue's),
            # and a worker leaves with os._exit, flushing no stream shared with this process.
            warnings.simplefilter("ignore", DeprecationWarning)
            process = self._context.Process(target=_worker, args=(self._work, self._tasks, self._results, os.getpid()),
                                            daemon=True)
            process.start()
        self._workers.append(process)

    def _check_workers(self) -> None:
        for process in self._workers:
            if process.exitcode not in (None, 0):
                raise WorkerFailed(f"a worker process stopped unexpectedly (exit code {process.exitcode}); "
                                   "the output is incomplete")

    def close(self, wait: bool) -> None:
        """Stop reading and leave no process behind: after the last result, workers are told to
        end (and terminated if they do not); when stopped early (Ctrl-C, an error), terminated."""
        self._stopping.set()
        self._slots.release()  # a reader waiting for a slot wakes up and stops
        if wait:
            for _ in self._workers:
                self._tasks.put(None)
        deadline = time.monotonic() + (_STOP_WAIT if wait else 0)
        for process in self._workers:
            process.join(max(deadline - time.monotonic(), 0))
            if process.is_alive():
                process.terminate()
                process.join()
        self._results.put(None)  # the collector thread ends
