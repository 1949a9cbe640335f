"""Run the transformer command, then print its own CPU time and peak memory, and its workers' peak, on stderr.

A child's ru_maxrss on Linux keeps the parent's high-water mark across fork and exec, which
would charge the benchmark's own memory to the CLI; VmHWM belongs to the new address space.
The workers of ``--jobs`` are sampled while they run (VmHWM only grows), by a thread.
"""
from __future__ import annotations

import os
import resource
import sys
import threading
from pathlib import Path

from transformer.cli import main


def peak_kb(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if pid == "self" else 0  # elsewhere: the best available


# Seconds between looks at the workers' peaks. VmHWM only grows, so a rare look misses nothing a
# worker keeps; and each look is CPU time the run's own processes lose (every 0.05 s cost --jobs 2
# on 2 CPUs about 2% of its speed).
WATCH_EVERY = 0.25


def watch_children(peaks: dict[int, int], stop: threading.Event) -> None:
    me = os.getpid()
    while not stop.wait(WATCH_EVERY):
        for task in Path(f"/proc/{me}/task").glob("*/children"):
            for child in task.read_text().split():
                peaks[int(child)] = max(peaks.get(int(child), 0), peak_kb(child))


if __name__ == "__main__":
    worker_peaks: dict[int, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_children, args=(worker_peaks, stop), daemon=True)
    watcher.start()
    code = main(sys.argv[1:])
    stop.set()
    watcher.join()
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(f"main-cpu-s {own.ru_utime + own.ru_stime:.3f}", file=sys.stderr)
    print(f"worker-peak-rss-kb {max(worker_peaks.values(), default=0)}", file=sys.stderr)
    print(f"peak-rss-kb {peak_kb()}", file=sys.stderr)
    sys.exit(code)
