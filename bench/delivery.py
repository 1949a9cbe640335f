"""Delivery throughput: events per second that ``transformer.delivery`` delivers to the local fake
API (examples/fake_api.py, in its own process on 127.0.0.1) with the default concurrency.

    python -m bench.delivery [--events N] [--json PATH]

The destinations' rate limits are lifted (the fake API has none), so the figures are what the
sender, the engine and one local server manage together on this machine.
"""
from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import transformer
from transformer.delivery import DEFAULT_CONCURRENCY, RateLimit, Sender

from .events import generate

ROOT = Path(__file__).resolve().parent.parent
UNLIMITED = RateLimit(1_000_000_000, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delivery", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events per case (default 5000)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    events = [event for event, _ in generate(args.events)]
    tracks = [{**e, "type": "track", "event": "Viewed"} for e in events]
    with _fake_api() as url:
        kustomer, segment = transformer.load("kustomer"), transformer.load("segment")
        k_settings = {"apiKey": "bench-key", "baseEndpoint": url}
        s_settings = {"writeKey": "bench-key", "endpoint": f"{url}/v1"}
        cases = [
            ("kustomer: track, page, screen, identify (identify looks up, then creates or updates)", kustomer, events, k_settings, False),
            ("kustomer: track only (one request per event)", kustomer, tracks, k_settings, False),
            ("segment: one request per event", segment, tracks, s_settings, False),
            ("segment: batched", segment, tracks, s_settings, True),
        ]
        figures = {name: _measure(destination, sample, settings, batch) for name, destination, sample, settings, batch in cases}
    print(f"{args.events} events per case, concurrency {DEFAULT_CONCURRENCY}, {platform.python_version()}, "
          f"{platform.machine()}, {platform.system()}")
    for name, f in figures.items():
        print(f"{f['events_per_second']:>9,.0f} events/s  {f['requests']:>6} requests  {name}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


def _measure(destination: transformer.Destination, events: list[dict[str, Any]], settings: dict[str, Any],
             batch: bool) -> dict[str, Any]:
    inputs = [{"message": e, "destination": {"Config": settings}, "metadata": i} for i, e in enumerate(events)]
    with Sender(destination, rate_limit=UNLIMITED) as sender:
        start = time.perf_counter()
        outcomes = Counter(o["outcome"] for o in sender.run(inputs, batch=batch))
        seconds = time.perf_counter() - start
        requests = sender.client.requests_sent
    if outcomes["delivered"] != len(events):
        raise SystemExit(f"{destination.name}: not every event was delivered: {dict(outcomes)}")
    return {"events_per_second": len(events) / seconds, "seconds": seconds, "requests": requests}


class _fake_api:
    """examples/fake_api.py in a child process, on a free port."""

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen([sys.executable, str(ROOT / "examples" / "fake_api.py"), str(port)],
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                if time.monotonic() > deadline:
                    self.process.kill()
                    raise
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
