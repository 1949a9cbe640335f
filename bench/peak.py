"""Run the transformer command, then print its own peak memory on stderr's last line.

A child's ru_maxrss on Linux keeps the parent's high-water mark across fork and exec, which
would charge the benchmark's own memory to the CLI; VmHWM belongs to the new address space.
"""
from __future__ import annotations

import resource
import sys

from transformer.cli import main


def peak_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere: the best available


if __name__ == "__main__":
    code = main(sys.argv[1:])
    print(f"peak-rss-kb {peak_kb()}", file=sys.stderr)
    sys.exit(code)
