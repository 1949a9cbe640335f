"""The progress line of ``transformer send`` on a terminal: delivered, failed, retrying, rate,
and an ETA when the number of inputs is known. tqdm draws it (rate, ETA, width of the terminal);
the figures are the run's ``Stats``, read twice a second by a thread of its own, so they count
outcomes as they happen, not as they are written in input order."""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from .stats import Stats

REFRESH_SECONDS = 0.5


class Progress:
    """Shown while the ``with`` block runs, only when ``enabled``; ``names`` are the input files,
    whose inputs are counted (in the background) for the total and the ETA."""

    def __init__(self, stats: Stats, names: list[str], enabled: bool) -> None:
        self._stats = stats
        self._names = names
        self._enabled = enabled
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="transformer-send-progress", daemon=True)
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self._enabled:
            from tqdm import tqdm

            class Bar(tqdm):  # type: ignore[type-arg]
                monitor_interval = 0  # no monitor thread: ours refreshes it, and exit would wait for tqdm's

            self._bar = Bar(total=None, unit=" events", file=sys.stderr, dynamic_ncols=True, leave=False)
            self._thread.start()
            threading.Thread(target=self._count, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._done.set()
            self._thread.join()
            self._bar.close()

    def _run(self) -> None:
        while not self._done.wait(REFRESH_SECONDS):
            snap = self._stats.snapshot()
            failed = snap.outcomes["failed"] + snap.outcomes["gave_up"]
            self._bar.set_postfix_str(f"{snap.outcomes['delivered']:,} delivered, {failed:,} failed, "
                                      f"{snap.retrying:,} retrying", refresh=False)
            self._bar.update(snap.done - self._bar.n)

    def _count(self) -> None:
        total = count_inputs(self._names)
        if total is not None and not self._done.is_set():
            self._bar.total = total
            self._bar.refresh()


def count_inputs(names: list[str]) -> int | None:
    """How many inputs the files hold: their lines that are not blank; None for stdin or a JSON
    array (counted only as they are read)."""
    total = 0
    for name in names:
        if name == "-":
            return None
        try:
            with Path(name).open("rb") as handle:
                lines = (line for line in handle if line.strip())
                first = next(lines, b"")
                if first.lstrip().startswith(b"["):
                    return None
                total += bool(first) + sum(1 for _ in lines)
        except OSError:
            return None
    return total
