"""What the engine integrations (``transformer.beam``, ``transformer.spark``) share: a destination
that travels to workers and is compiled there once per process, and one JSON text to one result.
Imports no engine: the core never needs Beam or Spark."""
from __future__ import annotations

import json
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..runtime.destination import Destination
from ..runtime.json_words import json_problem
from ..runtime.lookups import Lookup


class Shipped:
    """A destination and its settings, as sent to workers: the mapping's texts (no folder is read
    there) and the settings, checked here so that bad settings fail before the pipeline runs."""

    def __init__(self, destination: str | Path | Destination, settings: Any) -> None:
        from .. import (
            load,  # the package imports this module's users, not the other way round
        )

        loaded = destination if isinstance(destination, Destination) else load(destination)
        loaded.check_settings(settings)
        self.name = loaded.name
        self.payload = pickle.dumps(loaded)
        self.settings = settings

    def load(self) -> Destination:
        """The destination, compiled once per worker process (each engine calls this per bundle
        or partition)."""
        return _compiled(self.payload)


@lru_cache(maxsize=8)
def _compiled(payload: bytes) -> Destination:
    destination: Destination = pickle.loads(payload)  # noqa: S301 - our own pickle of a Destination
    return destination


def process_text(destination: Destination, settings: Any, text: str | bytes, metadata: Any = None, *,
                 lookup: Lookup | None = None) -> dict[str, Any]:
    """One event as JSON text to one result, as ``transformer run`` gives it. Text that is not JSON
    is an error result (400) in its place."""
    message, error = _event(destination, text, metadata)
    if error is not None:
        return error
    return destination.process_one({"message": message, "destination": {"Config": settings}, "metadata": metadata},
                                   lookup=lookup)


def process_text_each(destination: Destination, settings: Any, text: str | bytes, metadata: Any = None, *,
                      lookup: Lookup | None = None) -> list[dict[str, Any]]:
    """Every result of one event as JSON text (``process_each``): several, each with ``metadata``,
    for an event that fans out; one for any other."""
    if not destination.fans_out:
        return [process_text(destination, settings, text, metadata, lookup=lookup)]
    message, error = _event(destination, text, metadata)
    if error is not None:
        return [error]
    return destination.process_each({"message": message, "destination": {"Config": settings}, "metadata": metadata},
                                    lookup=lookup)


def _event(destination: Destination, text: str | bytes, metadata: Any) -> tuple[Any, dict[str, Any] | None]:
    """(the event the text holds, None), or (None, its error result: 400, in its place)."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        reason = f": {json_problem(exc)}"
    except ValueError as exc:  # bytes that are not UTF-8
        reason = f" ({exc})"
    return None, {"error": f"{destination.name}: the event is not valid JSON{reason}", "statusCode": 400,
                  "metadata": metadata}
