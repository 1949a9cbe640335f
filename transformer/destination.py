"""A loaded destination: turns events into request descriptions, one or a batch at a time."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .batching import Packer
from .checks import Check
from .codegen import TRACE, Context
from .compiler import EVENT_TYPE_VAR
from .delivery_rules import DeliveryRules
from .errors import TransformError
from .explain import TOO_DEEP, Secrets, explanation
from .loader import Batching, EventPlan, Part, load_mapping, tracing_plans
from .lookups import Asker, Lookup, shown_url
from .loader import Mapping as CompiledMapping
from .settings import SettingsChecker, SettingsState
from .values import MISSING, find_not_json, find_not_unicode, has_surrogate, is_present, printable, type_name
from .wire import compact_json, json_bytes, request_description


class _TypeState:
    """What one (settings, event type) pair computes once: settings-only lets and request parts.

    ``method`` and ``endpoint`` hold a checked string, or the Part to run (and check) per event;
    ``headers`` and ``params`` hold the values computed once, ``*_rules`` the Parts to run per
    event. ``checks`` are the body checks that may apply: one whose condition reads only settings
    is left out when false, and kept without its condition when true. ``per_event`` says whether
    any of that (or a body size limit) is left to do per event. ``asker`` is the last Asker made,
    reused while callers pass the same lookup function.
    """

    __slots__ = ("static_vars", "method", "endpoint", "headers", "params", "header_rules", "param_rules", "checks",
                 "max_body_bytes", "per_event", "asker")

    def __init__(self, event_type: str) -> None:
        self.static_vars: dict[str, Any] = {EVENT_TYPE_VAR: event_type}
        self.method: Any = MISSING
        self.endpoint: Any = MISSING
        self.headers: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.header_rules: tuple[tuple[str, Part], ...] = ()
        self.param_rules: tuple[tuple[str, Part], ...] = ()
        self.checks: tuple[Check, ...] = ()
        self.max_body_bytes: int | None = None
        self.per_event = True
        self.asker: Asker | None = None


def _rebuild(folder: str, texts: dict[str, str]) -> Destination:
    """Unpickle: compile the mapping again from the texts it was built from (no file is read)."""
    return Destination(load_mapping(Path(folder), texts))


class Destination:
    """One destination's compiled mappings. Safe to share between threads: it holds no event state,
    only a bounded cache of validated settings, keyed by their value (see settings.py).

    It pickles (pickle, cloudpickle, dill) as the text of its mapping files and compiles them again
    on arrival, so a copy sent to a worker gives the same results and needs no mapping folder there.
    """

    def __init__(self, mapping: CompiledMapping) -> None:
        self._mapping = mapping
        self.name = mapping.name
        self.event_types = tuple(mapping.plans)
        self._settings = SettingsChecker(mapping.settings_schema, mapping.settings_validator, mapping.secrets,
                                         mapping.settings_errors)
        self._tracing: dict[str, EventPlan] | None = None  # explain's variant, generated on its first call

    @classmethod
    def from_folder(cls, folder: str | Path) -> Destination:
        return cls(load_mapping(Path(folder)))

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (str(self._mapping.folder), dict(self._mapping.texts))

    @property
    def folder(self) -> Path:
        return self._mapping.folder

    @property
    def supports_batching(self) -> bool:
        return self._mapping.batching is not None

    @property
    def delivery(self) -> DeliveryRules:
        """How its requests are to be sent (the ``delivery:`` section; read-only). The engine sends
        nothing: ``transformer.delivery`` (the ``[http]`` extra) follows these rules."""
        return self._mapping.delivery

    def secret_values(self, settings: Any) -> tuple[str, ...]:
        """The values of the settings marked ``secrets``, in the forms a URL may hold them, to keep
        out of anything shown (``transformer.delivery`` redacts them); () for invalid settings."""
        try:
            return self._settings.state(settings).secrets
        except TransformError:
            return ()

    def __repr__(self) -> str:
        return f"<Destination {self.name} from {self._mapping.folder}>"

    # -- one event -------------------------------------------------------------------------

    def transform(self, message: Any, settings: Any, *, lookup: Lookup | None = None) -> dict[str, Any]:
        """Turn one event into one request description; raise TransformError when it cannot."""
        try:
            output = self._transform(message, settings, lookup)
            json_bytes(output)  # raises UnicodeEncodeError for text that could never be sent
            return output
        except TransformError as exc:
            if has_surrogate(exc.message):  # a message quoting the event: still valid UTF-8
                raise TransformError(printable(exc.message), exc.status_code) from None
            raise
        except RecursionError:
            raise TransformError(f"{self.name}: the event is nested too deeply to read") from None
        except UnicodeEncodeError:
            raise self._not_unicode(message) from None
        except Exception as exc:
            raise self._unexpected(exc, message) from None

    def _not_unicode(self, message: Any) -> TransformError:
        # Settings and look-up answers are checked on their own, so the event holds it (e.g. an
        # emoji cut in half by a client): a 400 naming the field, never an output that cannot be sent.
        where = find_not_unicode(message)
        field = f"the event's {where}" if where else "the event"
        return TransformError(f"{self.name}: {field} is not valid Unicode (it holds a lone surrogate, "
                              "e.g. half of an emoji)")

    def _unexpected(self, exc: Exception, message: Any) -> TransformError:
        # Plain JSON input cannot make a rule raise: a value that is not JSON (a dict subclass
        # whose get raises, an object whose == raises) is the input's fault, and named as such.
        where = find_not_json(message)
        if where is not None:
            return TransformError(f"{self.name}: the event {where}")
        # Otherwise an engine bug: still one event's error, never the batch's.
        return TransformError(f"{self.name}: internal error ({exc.__class__.__name__}); please report it", 500)

    def _transform(self, message: Any, settings: Any, lookup: Lookup | None,
                   tracing: dict[str, EventPlan] | None = None) -> dict[str, Any]:
        try:
            if not isinstance(message, dict):
                raise TransformError(f"the message must be an object, got {type_name(message)}")
            state = self._settings.state(settings)
            event_type = message.get("type", MISSING)
            key = event_type.lower() if isinstance(event_type, str) else ""
            plan = self._mapping.plans.get(key)
            if plan is None:
                raise self._unsupported(event_type)
        except TransformError as exc:
            raise TransformError(f"{self.name}: {exc.message}", exc.status_code) from None
        try:
            if tracing is None:
                return self._build(message, state, key, plan, lookup)
            # explain: the tracing variant, with every part run for this event (so each is traced)
            plan = tracing[key]
            static = _TypeState(key)
            static.method, static.endpoint = plan.method, plan.endpoint
            static.header_rules, static.param_rules = tuple(plan.headers.items()), tuple(plan.params.items())
            static.checks, static.max_body_bytes = plan.checks, self._body_limit(state)
            return self._build(message, state, key, plan, lookup, static)
        except TransformError as exc:
            raise TransformError(f"{self.name} {key}: {exc.message}", exc.status_code) from None

    def explain(self, message: Any, settings: Any, *, lookup: Lookup | None = None) -> dict[str, Any]:
        """Why ``transform`` gives what it gives for this event: the result and, for each output
        field (and each rule that left one out), the file, line and rule that decided it, where the
        value came from (event paths, settings, let bindings, look-ups), and what was tried on the
        way: each candidate path (missing, null, empty, found) and each rule of a ``first``
        (skipped on a false condition, gave nothing, gave a value). Returns data::

            {"destination", "event_type", "file", "request" | "error": {"message", "status_code"},
             "lookups": [{"kind", "value", "request", "status"}],
             "fields": [{"field", "file", "line", "rule", "spec", "result": "sent" | "left out" | "error",
                         "value", "source": [...] (when sent), "why" (when left out),
                         "tried": [{"depth", "rule" | "condition" | "path", "result", ...}]}]}

        A value derived from a secret setting shows as ``[redacted]``, and so does a request
        endpoint, header or parameter holding a secret's value; a look-up's URL shows as in
        messages. Keys and the engine's own words are never changed. The tracing functions are
        generated on the first call; ``transform`` never runs them."""
        if self._tracing is None:
            self._tracing = tracing_plans(self._mapping)
        try:
            secrets = Secrets(frozenset(self._mapping.secrets), self._settings.state(settings).secrets)
        except TransformError:  # invalid settings: the event is that error, and no rule runs
            secrets = Secrets()
        asked: list[dict[str, Any]] = []

        def recording(request: dict[str, Any]) -> tuple[int, Any]:
            url = shown_url(request["endpoint"], secrets.values)  # as a message shows it
            entry = {**request.get("lookup", {}), "request": f"{request['method']} {url}", "status": None}
            asked.append(entry)
            answer: tuple[int, Any] = lookup(request)  # type: ignore[misc]  # only given when there is one
            entry["status"] = answer[0] if isinstance(answer, tuple) and answer else None
            return answer

        records: list[tuple[Any, ...]] = []
        token = TRACE.set(records)
        outcome: dict[str, Any]
        try:
            request = self._transform(message, settings, recording if lookup is not None else None, self._tracing)
            json_bytes(request)  # as transform does: text that could never be sent makes the event an error
            outcome = {"request": request}
        except UnicodeEncodeError:
            error = self._not_unicode(message)
            outcome = {"error": {"message": error.message, "status_code": error.status_code}}
        except TransformError as exc:
            outcome = {"error": {"message": exc.message, "status_code": exc.status_code}}
        except RecursionError:
            outcome = {"error": {"message": f"{self.name}: the event is nested too deeply to read", "status_code": 400}}
        except Exception as exc:
            error = self._unexpected(exc, message)
            outcome = {"error": {"message": error.message, "status_code": error.status_code}}
        finally:
            TRACE.reset(token)
        event_type = message.get("type") if isinstance(message, dict) else None
        key = event_type.lower() if isinstance(event_type, str) else None
        plan = self._mapping.plans.get(key) if key is not None else None
        fields, shown = explanation(records, lookups=asked, request=outcome.get("request"), secrets=secrets)
        if shown is not None:
            outcome = {"request": shown}
        data = {"destination": self.name, "event_type": key, "file": plan.file if plan else None, **outcome,
                "lookups": asked, "fields": fields}
        cut: dict[str, Any] = _cut_deep(data)
        return cut

    def _unsupported(self, event_type: Any) -> TransformError:
        if not is_present(event_type):
            return TransformError("Event type is required")
        if not isinstance(event_type, str):
            return TransformError(f"Event type must be a string, got {type_name(event_type)}")
        shown = event_type if len(event_type) <= 60 else event_type[:57] + "..."
        return TransformError(f"Event type {shown!r} is not supported (supported: {', '.join(self.event_types)})")

    def _build(self, message: dict[str, Any], state: SettingsState, event_type: str, plan: EventPlan,
               lookup: Lookup | None, static: _TypeState | None = None) -> dict[str, Any]:
        if static is None:
            static = state.types.get(event_type) or self._type_state(state, event_type, plan)
        asker = static.asker
        if asker is None or asker.function is not lookup:
            asker = static.asker = Asker(lookup, static.headers, state.secrets)
        ctx = Context(message, state.settings, static.static_vars, asker)
        body = plan.body(ctx) if plan.body is not None else MISSING
        if body is MISSING:
            body = {}
        if static.per_event:
            return self._per_event(body, ctx, static, plan)
        return request_description(static.method, static.endpoint, static.headers.copy(), static.params.copy(), body)

    @staticmethod
    def _per_event(body: Any, ctx: Context, static: _TypeState, plan: EventPlan) -> dict[str, Any]:
        """The request, with what varies per event besides the body: checks, request parts whose
        rules read the event, the body size limit."""
        for check in static.checks:
            check.apply(body, ctx)
        method = static.method
        if method.__class__ is not str:
            method = _request_string(method.fn(ctx), plan.file, "method")
        endpoint = static.endpoint
        if endpoint.__class__ is not str:
            endpoint = _request_string(endpoint.fn(ctx), plan.file, "endpoint")
        headers = _with_rules(static.headers, static.header_rules, ctx)
        params = _with_rules(static.params, static.param_rules, ctx)
        limit = static.max_body_bytes
        if limit is not None:
            size = len(compact_json(body).encode("utf-8"))
            if size > limit:
                raise TransformError(f"the request body is {size} bytes, over the limit of {limit} bytes")
        return request_description(method, endpoint, headers, params, body)

    def _type_state(self, state: SettingsState, event_type: str, plan: EventPlan) -> _TypeState:
        """Compute the request parts that read only settings, once per (settings, event type)."""
        static = _TypeState(event_type)
        ctx = Context({}, state.settings, static.static_vars, None)
        for name in ("method", "endpoint"):
            part: Part = getattr(plan, name)
            value = part.fn(ctx) if part.settings_only else MISSING
            # A bad value stays a Part: each event then reports it, as a per-event rule would.
            setattr(static, name, value if value.__class__ is str else part)
        for name, part in plan.headers.items():
            if part.settings_only and (value := part.fn(ctx)) is not MISSING:
                static.headers[name] = value
        for name, part in plan.params.items():
            if part.settings_only and (value := part.fn(ctx)) is not MISSING:
                static.params[name] = value
        static.header_rules = tuple((n, p) for n, p in plan.headers.items() if not p.settings_only)
        static.param_rules = tuple((n, p) for n, p in plan.params.items() if not p.settings_only)
        static.checks = tuple(check if not check.settings_only else replace(check, when=None) for check in plan.checks
                              if not check.settings_only or check.when is None or check.when(ctx))
        static.max_body_bytes = self._body_limit(state)
        static.per_event = bool(static.checks or static.header_rules or static.param_rules
                                or static.max_body_bytes is not None or static.method.__class__ is not str
                                or static.endpoint.__class__ is not str)
        state.types[event_type] = static
        return static

    def _body_limit(self, state: SettingsState) -> int | None:
        limit = self._mapping.max_body_bytes
        if self._mapping.max_body_setting is not None:
            limit = state.settings.get(self._mapping.max_body_setting, limit)
        return limit

    def needed_lookups(self, message: Any, settings: Any) -> list[dict[str, Any]]:
        """The look-ups ``transform`` may ask for this event, in the order it would ask them (as if
        each answered "not found"): ``{"kind", "value", "request"}`` each. For engines that join
        events with a customer table first and transform with the answers after. An event that
        cannot be transformed needs none (its error comes from ``transform``)."""
        asked: list[dict[str, Any]] = []

        def record(request: dict[str, Any]) -> tuple[int, Any]:
            kind_value = request.pop("lookup")
            asked.append({**kind_value, "request": request})
            return 404, None

        try:
            self.transform(message, settings, lookup=record)
        except TransformError:
            pass
        return asked

    # -- batches of inputs -----------------------------------------------------------------

    def process(self, inputs: Iterable[Any], *, lookup: Lookup | None = None) -> list[dict[str, Any]]:
        """The processor shape: one result per input, in order; never raises for a bad input."""
        return list(self.process_iter(inputs, lookup=lookup))

    def process_iter(self, inputs: Iterable[Any], *, lookup: Lookup | None = None) -> Iterator[dict[str, Any]]:
        """Streaming ``process``: yields each input's result as it goes, holding none of them, so an
        engine (Beam, Spark, a file reader) can stream a partition of any size."""
        for item in inputs:
            yield self.process_one(item, lookup=lookup)

    def process_one(self, item: Any, *, lookup: Lookup | None = None) -> dict[str, Any]:
        """One input in the processor shape to one result; never raises for a bad input."""
        if not isinstance(item, dict):
            return {"error": f"{self.name}: an input must be an object with message and destination, got {type_name(item)}",
                    "statusCode": 400, "metadata": None}
        # dict.get, not item.get: a dict subclass may override get (and raise); its storage is what counts.
        metadata = dict.get(item, "metadata")
        destination = dict.get(item, "destination")
        config = dict.get(destination, "Config", MISSING) if isinstance(destination, dict) else MISSING
        if config is MISSING:
            return {"error": f"{self.name}: configuration error: the input has no destination.Config",
                    "statusCode": 400, "metadata": metadata}
        try:
            output = self.transform(dict.get(item, "message", MISSING), config, lookup=lookup)
        except TransformError as exc:
            return {"error": exc.message, "statusCode": exc.status_code, "metadata": metadata}
        return {"output": output, "statusCode": 200, "metadata": metadata}

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

        The key is a digest of the batch endpoint, method and headers: the same on every worker,
        and safe to log (the headers hold credentials, the digest does not show them)."""
        return Packer(self._batching(), self.name).key(result)

    def _batching(self, settings: Any = None) -> Batching:
        """The batch rules, with the limits ``settings`` give (validated) when there are any."""
        spec = self._mapping.batching
        if spec is None:
            raise ValueError(f"destination {self.name} declares no batching")
        return spec if settings is None else spec.for_settings(self._settings.state(settings).settings)

    def batch_limits(self, settings: Any = None) -> dict[str, Any]:
        """The batch limits (``max_events``, ``max_request_bytes``, ``max_event_bytes``) that
        ``batch(results, settings)`` packs by: limits the destination lets settings change are read
        from ``settings``, else their defaults. With ``batch.key``, ``envelope_bytes``: what a batch
        adds around its events' bodies besides one comma between two of them; with ``batch.concat``,
        ``concat``: the most items of each concatenated list."""
        spec = self._batching(settings)
        limits: dict[str, Any] = {"max_events": spec.max_events, "max_request_bytes": spec.max_request_bytes,
                                  "max_event_bytes": spec.max_event_bytes}
        if spec.key is not None:
            limits["envelope_bytes"] = Packer(spec, self.name).overhead
        else:
            limits["concat"] = dict(spec.concat)
        return limits

    def check_settings(self, settings: Any) -> None:
        """Raise TransformError when ``settings`` do not satisfy the destination's settings schema."""
        try:
            self._settings.state(settings)
        except TransformError as exc:
            raise TransformError(f"{self.name}: {exc.message}", exc.status_code) from None


def _request_string(value: Any, file: str, name: str) -> str:
    if value is MISSING:
        raise TransformError(f"{file} request.{name}: the rule gave no value for this event")
    if value.__class__ is not str:
        raise TransformError(f"{file} request.{name}: must be a string, got {type_name(value)}")
    return str(value)


def _cut_deep(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with what is nested deeper than any request may be (an event's value
    read as it came) cut short."""
    if isinstance(value, (dict, list)) and depth > _SHOWN_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {k: _cut_deep(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_deep(item, depth + 1) for item in value]
    return value


_SHOWN_DEPTH = 200  # twice what a request may nest; the explanation nests values a few levels down


def _with_rules(computed: dict[str, Any], rules: tuple[tuple[str, Part], ...], ctx: Context) -> dict[str, Any]:
    """A fresh dict of the values computed once, plus those of the per-event rules that give one."""
    out = dict(computed)
    for name, part in rules:
        value = part.fn(ctx)
        if value is not MISSING:
            out[name] = value
    return out
