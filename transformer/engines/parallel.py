"""Work on a stream in N worker processes, results in input order: ``transformer run --jobs N``.

The stream comes cut into tasks (``CHUNK`` inputs each); at most ``IN_FLIGHT`` tasks per worker
are submitted and not yet collected, so memory stays bounded whatever the input's size, and
results come back task by task in the order the tasks went out. The work function is installed
once in each worker (not sent with every task): a Destination pickles as its mapping texts and
compiles again on arrival.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")

CHUNK = 500  # inputs per task: large enough that sending a task costs little next to its work
IN_FLIGHT = 2  # tasks per worker submitted ahead: keeps every worker busy while results are written


class WorkerFailed(Exception):
    """A worker process died (killed, out of memory): the run cannot say what its chunk gave."""


def job_count(text: str) -> int:
    """``--jobs``: a number of processes, or ``0`` / ``auto`` for one per CPU."""
    if text.strip().lower() in ("0", "auto"):
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"--jobs must be a number or 'auto', got {text!r}") from None
    if count < 0:
        raise ValueError(f"--jobs must be 0 (auto) or more, got {count}")
    return count or os.cpu_count() or 1


_work: Callable[[Any], Any] | None = None


def _install(work: Callable[[Any], Any]) -> None:
    global _work
    _work = work


def _run_installed(task: Any) -> Any:
    assert _work is not None
    return _work(task)


def ordered_map(work: Callable[[Task], Result], tasks: Iterable[Task], jobs: int) -> Iterator[Result]:
    """``work(task)`` for each of ``tasks``, computed in ``jobs`` processes, yielded in input order.
    ``work`` must pickle (a module-level function, or a partial of one) where processes start by
    spawning rather than forking."""
    with ProcessPoolExecutor(jobs, initializer=_install, initargs=(work,)) as pool:
        pending: deque[Future[Result]] = deque()
        try:
            for task in tasks:
                pending.append(pool.submit(_run_installed, task))
                if len(pending) >= jobs * IN_FLIGHT:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as exc:
            raise WorkerFailed(f"a worker process stopped unexpectedly ({exc}); the output is incomplete") from None
        finally:
            for future in pending:
                future.cancel()
