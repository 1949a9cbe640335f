"""Delivering request descriptions over HTTP: live look-ups and a sender.

The optional layer on top of the pure engine (``pip install 'event-transformer[http]'``, which
adds urllib3). Nothing in the core imports it. A destination's ``delivery:`` section (rate limit,
retries, stamps) says how its requests are sent::

    with Sender(transformer.load(name), concurrency=8) as sender:
        for outcome in sender.run(inputs):      # one outcome per input, in order
            ...
"""
from __future__ import annotations

from ..language.delivery_rules import DEFAULT_CONCURRENCY, DeliveryRules, RateLimit
from .client import Answer, Client
from .journal import Journal
from .lookup import AnswerCache, LiveLookup, NoAnswer
from .sender import Sender

__all__ = ["DEFAULT_CONCURRENCY", "Answer", "AnswerCache", "Client", "DeliveryRules", "Journal", "LiveLookup", "NoAnswer",
           "RateLimit", "Sender"]
