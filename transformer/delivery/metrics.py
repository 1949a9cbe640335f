"""Prometheus metrics of a run, for long-running use (``transformer send --metrics-port``; the
``[metrics]`` extra, prometheus-client).

prometheus-client serves the text exposition format over HTTP and gets its details right
(escaping, histogram buckets, content type); the figures themselves are the run's ``Stats``, read
at each scrape, so sending pays nothing for them.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .stats import LATENCY_BUCKETS, Stats


def serve(stats: Stats, destination: str, port: int, host: str = "127.0.0.1") -> Any:
    """Serve ``stats`` at http://HOST:PORT/metrics (port 0: a free one) until ``shutdown()``
    is called on the server returned (its ``server_port`` says the port)."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise ImportError("metrics need the [metrics] extra: pip install 'event-transformer[metrics]'") from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(stats, destination))
    server, _ = start_http_server(port, addr=host, registry=registry)
    return server


class _Collector:
    def __init__(self, stats: Stats, destination: str) -> None:
        self._stats = stats
        self._destination = destination

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        snap = self._stats.snapshot()
        labels = ["destination"]
        read = CounterMetricFamily("transformer_send_inputs_read", "Inputs read", labels=labels)
        read.add_metric([self._destination], snap.read)
        outcomes = CounterMetricFamily("transformer_send_outcomes", "Outcomes by kind", labels=[*labels, "outcome"])
        for kind in ("delivered", "failed", "gave_up", "interrupted", "skipped"):
            outcomes.add_metric([self._destination, kind], snap.outcomes[kind])
        failed = CounterMetricFamily("transformer_send_failed", "Failed outcomes by status", labels=[*labels, "status"])
        for status, count in snap.failed_statuses.items():
            failed.add_metric([self._destination, str(status)], count)
        tries = CounterMetricFamily("transformer_send_tries", "Tries (look-ups included) by answer",
                                    labels=[*labels, "answer"])
        for answer, count in snap.answers.items():
            tries.add_metric([self._destination, answer], count)
        retrying = GaugeMetricFamily("transformer_send_retrying", "Events waiting to try again", labels=labels)
        retrying.add_metric([self._destination], snap.retrying)
        latency = HistogramMetricFamily("transformer_send_try_seconds", "Time of one try, answer read",
                                        labels=labels)
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], snap.latency_counts):
            cumulative += count
            buckets.append((bound, cumulative))
        latency.add_metric([self._destination], buckets, snap.latency_sum)
        yield from (read, outcomes, failed, tries, retrying, latency)
