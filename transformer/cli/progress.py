"""The progress line of long runs, on stderr and only on a terminal."""
from __future__ import annotations

import time

from .common import say


class Progress:
    """A self-overwriting line on stderr, at most a few times a second, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.count = 0
        self.start = self.last = time.monotonic()

    def tick(self) -> None:
        self.count += 1
        if self.enabled and self.count % 256 == 0:
            now = time.monotonic()
            if now - self.last >= 0.25:
                self.last = now
                rate = self.count / max(now - self.start, 1e-9)
                say(f"\r{self.count:,} events ({rate:,.0f}/s)", end="")

    def advance(self, done: int) -> None:
        """``done`` more events: shown as if one at a time, when there is a line to show."""
        if not self.enabled:
            self.count += done
            return
        for _ in range(done):
            self.tick()

    def done(self) -> None:
        if self.enabled and self.count >= 256:
            say("\r\033[K", end="")
