"""A destination's delivery rules: the ``delivery:`` section of destination.yaml, as data.

The engine sends nothing. These rules are what ``transformer.delivery`` (the optional ``[http]``
extra) follows when it sends a destination's requests: the rate limit, which answers are retried
and how often, and the fields stamped into a body at send time. They are checked at load, so a
mistake is a load error, and kept read-only on ``Destination.delivery``.
"""
from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import Problem
from .yamlsource import Source


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


DEFAULT_CONCURRENCY = 8  # requests under way at once, per sender

# What a stamp may put into a body at send time (the schema lists the same names).
STAMPS: Mapping[str, Callable[[], Any]] = MappingProxyType({"now_iso": _now_iso})


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` requests in any ``per_seconds`` seconds."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class DeliveryRules:
    rate_limit: RateLimit | None = None
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    tries: int = 5                    # in all, the first included
    backoff_seconds: float = 0.5      # urllib3's backoff factor: 0, 2x, 4x, 8x ... between tries
    max_wait_seconds: float = 60.0    # cap on any wait, Retry-After and reset headers included
    timeout_seconds: float = 10.0     # to connect, and between bytes of the answer
    reset_header: str | None = None   # a 429's header telling when the budget resets (seconds, or Unix time)
    stamp: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # body key -> STAMPS name


def delivery_rules(source: Source, spec: dict[str, Any] | None, problems: list[Problem]) -> DeliveryRules:
    """The rules of a schema-checked ``delivery`` section (defaults when there is none)."""
    if spec is None:
        return DeliveryRules()
    retry = spec.get("retry", {})
    statuses = retry.get("statuses", sorted(DeliveryRules.retry_statuses))
    if 400 in statuses:
        problems.append(source.problem(("delivery", "retry", "statuses", statuses.index(400)),
                                       "400 is never retried: the same request would be refused again"))
    limit = spec.get("rate_limit")
    return DeliveryRules(
        rate_limit=RateLimit(limit["requests"], float(limit["per_seconds"])) if limit else None,
        retry_statuses=frozenset(statuses),
        tries=retry.get("tries", DeliveryRules.tries),
        backoff_seconds=float(retry.get("backoff_seconds", DeliveryRules.backoff_seconds)),
        max_wait_seconds=float(retry.get("max_wait_seconds", DeliveryRules.max_wait_seconds)),
        timeout_seconds=float(spec.get("timeout_seconds", DeliveryRules.timeout_seconds)),
        reset_header=retry.get("reset_header"),
        stamp=MappingProxyType(dict(spec.get("stamp", {}))),
    )
