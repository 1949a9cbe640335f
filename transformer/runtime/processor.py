"""The processor protocol over any transform: inputs in the processor shape
(``{"message", "destination": {"Config"}, "metadata"}``) to one result each, in order, and the
packing of successful results into batch requests. A Destination is a Processor."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import TransformError
from ..language.loader import Batching
from .batching import Packer
from .lookups import Lookup
from .values import MISSING, type_name


NO_REQUEST = 204  # the status of the one result of an event that fans out to no request


class Processor:
    """What a destination offers engines and pipelines on top of ``transform``."""

    name: str
    fans_out = False  # whether some event type makes one request per element of a list (for_each)

    def transform(self, message: Any, settings: Any, *, lookup: Lookup | None = None) -> dict[str, Any]:
        """Turn one event into one request description; raise TransformError when it cannot."""
        return self._transform(message, settings, lookup)

    def _transform(self, message: Any, settings: Any, lookup: Lookup | None) -> dict[str, Any]:
        # transform's arguments by position: process_one calls it per input, and a call with a
        # keyword argument takes CPython's slow path (about 1% of an event)
        raise NotImplementedError

    def transform_each(self, message: Any, settings: Any, *,
                       lookup: Lookup | None = None) -> list[dict[str, Any] | TransformError]:
        """Every request one event makes, each in its place or its own error: one for a mapping
        without ``for_each``, else one per element (none for an empty list). Raises TransformError
        when the event as a whole cannot be transformed (bad settings, unsupported type)."""
        return [self.transform(message, settings, lookup=lookup)]

    def transform_all(self, message: Any, settings: Any, *, lookup: Lookup | None = None) -> list[dict[str, Any]]:
        """Every request one event makes (``transform_each``); raises the first element's error."""
        outputs = self.transform_each(message, settings, lookup=lookup)
        for output in outputs:
            if isinstance(output, TransformError):
                raise output
        return outputs  # type: ignore[return-value]  # no error among them

    def _batching(self, settings: Any = None) -> Batching:
        raise NotImplementedError

    # -- inputs to results -----------------------------------------------------------------

    def process(self, inputs: Iterable[Any], *, lookup: Lookup | None = None) -> list[dict[str, Any]]:
        """The processor shape: one result per input, in order; never raises for a bad input."""
        return list(self.process_iter(inputs, lookup=lookup))

    def process_iter(self, inputs: Iterable[Any], *, lookup: Lookup | None = None) -> Iterator[dict[str, Any]]:
        """Streaming ``process``: yields each input's result as it goes, holding none of them, so an
        engine (Beam, Spark, a file reader) can stream a partition of any size."""
        if not self.fans_out:
            for item in inputs:
                yield self.process_one(item, lookup=lookup)
            return
        for item in inputs:
            yield from self.process_each(item, lookup=lookup)

    def process_one(self, item: Any, *, lookup: Lookup | None = None) -> dict[str, Any]:
        """One input in the processor shape to one result; never raises for a bad input. An event
        that fans out to other than one request is a 400 result here: use ``process_each``."""
        if (item.__class__ is dict and (destination := item.get("destination")).__class__ is dict
                and (config := destination.get("Config", MISSING)) is not MISSING):  # the usual input, read here
            message, metadata = item.get("message", MISSING), item.get("metadata")
        else:  # anything else is read, or refused, by _parsed
            parsed = self._parsed(item)
            if parsed.__class__ is dict:
                return parsed  # the input's error result
            message, config, metadata = parsed
        try:
            output = self._transform(message, config, lookup)
        except TransformError as exc:
            return {"error": exc.message, "statusCode": exc.status_code, "metadata": metadata}
        return {"output": output, "statusCode": 200, "metadata": metadata}

    def process_each(self, item: Any, *, lookup: Lookup | None = None) -> list[dict[str, Any]]:
        """One input to all its results, each with the input's metadata: one, except for an event
        that fans out (``for_each``): one per request, in element order, an element's error in its
        place; and for no request at all, one result ``{"statusCode": 204, "skipped": reason}``."""
        if not self.fans_out:
            return [self.process_one(item, lookup=lookup)]
        parsed = self._parsed(item)
        if parsed.__class__ is dict:
            return [parsed]  # the input's error result
        message, config, metadata = parsed
        try:
            outputs = self.transform_each(message, config, lookup=lookup)
        except TransformError as exc:
            return [{"error": exc.message, "statusCode": exc.status_code, "metadata": metadata}]
        if not outputs:
            return [{"statusCode": NO_REQUEST, "skipped": f"{self.name}: the event makes no request (its for_each list "
                                                           "is empty or missing)", "metadata": metadata}]
        return [{"error": output.message, "statusCode": output.status_code, "metadata": metadata}
                if isinstance(output, TransformError) else {"output": output, "statusCode": 200, "metadata": metadata}
                for output in outputs]

    def _parsed(self, item: Any) -> tuple[Any, Any, Any] | dict[str, Any]:
        """(message, settings, metadata) of an input in the processor shape, or its error result."""
        if item.__class__ is dict:  # the usual input: read with its own get
            metadata, destination = item.get("metadata"), item.get("destination")
        elif isinstance(item, dict):  # dict.get, not item.get: a subclass may override get (and raise)
            metadata, destination = dict.get(item, "metadata"), dict.get(item, "destination")
        else:
            return {"error": f"{self.name}: an input must be an object with message and destination, got {type_name(item)}",
                    "statusCode": 400, "metadata": None}
        if destination.__class__ is dict:
            config = destination.get("Config", MISSING)
        else:  # a subclass's storage is what counts
            config = dict.get(destination, "Config", MISSING) if isinstance(destination, dict) else MISSING
        if config is MISSING:
            return {"error": f"{self.name}: configuration error: the input has no destination.Config",
                    "statusCode": 400, "metadata": metadata}
        return (item.get("message", MISSING) if item.__class__ is dict else dict.get(item, "message", MISSING)), config, metadata

    # -- results to batch requests ---------------------------------------------------------

    def batch(self, results: Iterable[dict[str, Any]], settings: Any = None) -> list[dict[str, Any]]:
        """Pack successful results into as few batch requests as the destination's limits allow.

        Results with the same ``batch_key`` share batches even when other results come between
        them. Everything stands where its first event stood: a batch where its first event
        stood, and what passes through (error results, and requests the destination does not
        batch) where it stood. No event is split or dropped (one too large for any batch
        becomes an error in its place). Limits that the destination lets settings change are
        read from ``settings`` (validated; a TransformError when they are invalid), else their
        defaults are used."""
        return list(self.iter_batches(results, settings))

    def iter_batches(self, results: Iterable[dict[str, Any]], settings: Any = None) -> Iterator[dict[str, Any]]:
        """Streaming form of ``batch``, in bounded memory: at most 16 batches are open (one per
        key), and at most 16 full batches and 10,000 passing results wait behind the oldest open
        batch; past any bound, the oldest open batch is sent as it is."""
        yield from Packer(self._batching(settings), self.name).pack(results)

    def batch_key(self, result: dict[str, Any]) -> str | None:
        """What decides which results may share a batch request: results with equal keys may. None
        for a result that is never packed: an error, a request the destination does not batch,
        or one the batch rules fail on (``batch`` turns that one into an error). For engines that
        group results themselves (Beam's GroupByKey, a Spark partition sorted by key) before
        calling ``batch`` on each group.

        The key is a digest of the batch endpoint, method, headers and params: the same on every worker,
        and safe to log (the headers hold credentials, the digest does not show them)."""
        return Packer(self._batching(), self.name).key(result)

    def batch_limits(self, settings: Any = None) -> dict[str, Any]:
        """The batch limits (``max_events``, ``max_request_bytes``, ``max_event_bytes``) that
        ``batch(results, settings)`` packs by: limits the destination lets settings change are read
        from ``settings``, else their defaults. With ``batch.key``, ``envelope_bytes``: what a batch
        adds around its events' bodies besides one comma between two of them; with ``batch.concat``,
        ``concat``: the most items of each concatenated list."""
        spec = self._batching(settings)
        limits: dict[str, Any] = {"max_events": spec.max_events, "max_request_bytes": spec.max_request_bytes,
                                  "max_event_bytes": spec.max_event_bytes}
        if spec.listed:
            limits["envelope_bytes"] = Packer(spec, self.name).overhead
        else:
            limits["concat"] = dict(spec.concat)
        return limits
