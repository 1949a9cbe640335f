"""A loaded destination: turns events into request descriptions, one or a batch at a time."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .batching import Packer
from .codegen import Context, Lookup
from .compiler import EVENT_TYPE_VAR
from .errors import TransformError
from .loader import EventPlan, Part, load_mapping
from .loader import Mapping as CompiledMapping
from .values import MISSING, fresh, is_present, type_name
from .wire import compact_json, request_description

# Settings objects seen recently, by id; each entry keeps a copy to detect in-place changes.
_SETTINGS_CACHE_SIZE = 64


class _TypeState:
    """What one (settings, event type) pair computes once: settings-only lets and request parts.

    ``method`` and ``endpoint`` hold a value, or the Part to run per event; ``headers`` and
    ``params`` hold the values computed once, ``*_rules`` the Parts to run per event.
    """

    __slots__ = ("static_vars", "method", "endpoint", "headers", "params", "header_rules", "param_rules")

    def __init__(self, event_type: str) -> None:
        self.static_vars: dict[str, Any] = {EVENT_TYPE_VAR: event_type}
        self.method: Any = MISSING
        self.endpoint: Any = MISSING
        self.headers: dict[str, Any] = {}
        self.params: dict[str, Any] = {}
        self.header_rules: tuple[tuple[str, Part], ...] = ()
        self.param_rules: tuple[tuple[str, Part], ...] = ()

    def lookup_headers(self, ctx: Context) -> dict[str, Any]:
        return dict(self.headers)


class _SettingsState:
    __slots__ = ("snapshot", "settings", "types")

    def __init__(self, snapshot: Any, settings: dict[str, Any]) -> None:
        self.snapshot = snapshot
        self.settings = settings
        self.types: dict[str, _TypeState] = {}


class Destination:
    """One destination's compiled mappings. Safe to share between threads: it holds no event state,
    only a cache of validated settings (checked against a copy, so in-place changes are seen)."""

    def __init__(self, mapping: CompiledMapping) -> None:
        self._mapping = mapping
        self.name = mapping.name
        self.event_types = tuple(mapping.plans)
        self._defaults = {key: prop["default"] for key, prop in mapping.settings_schema.get("properties", {}).items()
                          if isinstance(prop, dict) and "default" in prop}
        self._settings_cache: dict[int, _SettingsState] = {}

    @classmethod
    def from_folder(cls, folder: str | Path) -> Destination:
        return cls(load_mapping(Path(folder)))

    @property
    def folder(self) -> Path:
        return self._mapping.folder

    @property
    def supports_batching(self) -> bool:
        return self._mapping.batching is not None

    def __repr__(self) -> str:
        return f"<Destination {self.name} from {self._mapping.folder}>"

    # -- one event -------------------------------------------------------------------------

    def transform(self, message: Any, settings: Any, *, lookup: Lookup | None = None) -> dict[str, Any]:
        """Turn one event into one request description; raise TransformError when it cannot."""
        try:
            return self._transform(message, settings, lookup)
        except TransformError as exc:
            raise TransformError(self._redact(exc.message, settings), exc.status_code) from None
        except RecursionError:
            raise TransformError(f"{self.name}: the event is nested too deeply to read") from None
        except Exception as exc:  # an engine bug must still be one event's error, never the batch's
            raise TransformError(f"{self.name}: internal error ({exc.__class__.__name__}); please report it", 500) from None

    def _transform(self, message: Any, settings: Any, lookup: Lookup | None) -> dict[str, Any]:
        try:
            key, plan, state = self._dispatch(message, settings)
        except TransformError as exc:
            raise TransformError(f"{self.name}: {exc.message}", exc.status_code) from None
        try:
            return self._build(message, state, key, plan, lookup)
        except TransformError as exc:
            raise TransformError(f"{self.name} {key}: {exc.message}", exc.status_code) from None

    def _dispatch(self, message: Any, settings: Any) -> tuple[str, EventPlan, _SettingsState]:
        if not isinstance(message, dict):
            raise TransformError(f"the message must be an object, got {type_name(message)}")
        state = self._settings_state(settings)
        event_type = message.get("type", MISSING)
        if not is_present(event_type):
            raise TransformError("Event type is required")
        if not isinstance(event_type, str):
            raise TransformError(f"Event type must be a string, got {type_name(event_type)}")
        key = event_type.lower()
        plan = self._mapping.plans.get(key)
        if plan is None:
            shown = event_type if len(event_type) <= 60 else event_type[:57] + "..."
            raise TransformError(f"Event type {shown!r} is not supported (supported: {', '.join(self.event_types)})")
        return key, plan, state

    def _build(self, message: dict[str, Any], state: _SettingsState, event_type: str, plan: EventPlan,
               lookup: Lookup | None) -> dict[str, Any]:
        static = state.types.get(event_type)
        if static is None:
            static = self._type_state(state, event_type, plan)
        ctx = Context(message, state.settings, static.static_vars, lookup, static.lookup_headers)
        body = plan.body(ctx) if plan.body is not None else MISSING
        if body is MISSING:
            body = {}
        method = static.method.fn(ctx) if isinstance(static.method, Part) else static.method
        endpoint = static.endpoint.fn(ctx) if isinstance(static.endpoint, Part) else static.endpoint
        for name, value in (("method", method), ("endpoint", endpoint)):
            if value is MISSING:
                raise TransformError(f"{plan.file} request.{name}: the rule gave no value for this event")
            if value.__class__ is not str:
                raise TransformError(f"{plan.file} request.{name}: must be a string, got {type_name(value)}")
        headers = _with_rules(static.headers, static.header_rules, ctx)
        params = _with_rules(static.params, static.param_rules, ctx)
        limit = self._mapping.max_body_bytes
        if limit is not None:
            size = len(compact_json(body).encode("utf-8"))
            if size > limit:
                raise TransformError(f"the request body is {size} bytes, over the limit of {limit} bytes")
        return request_description(method, endpoint, headers, params, body)

    def _type_state(self, state: _SettingsState, event_type: str, plan: EventPlan) -> _TypeState:
        """Compute the request parts that read only settings, once per (settings, event type)."""
        static = _TypeState(event_type)
        ctx = Context({}, state.settings, static.static_vars, None, None)
        static.method = plan.method.fn(ctx) if plan.method.settings_only else plan.method
        static.endpoint = plan.endpoint.fn(ctx) if plan.endpoint.settings_only else plan.endpoint
        for name, part in plan.headers.items():
            if part.settings_only and (value := part.fn(ctx)) is not MISSING:
                static.headers[name] = value
        for name, part in plan.params.items():
            if part.settings_only and (value := part.fn(ctx)) is not MISSING:
                static.params[name] = value
        static.header_rules = tuple((n, p) for n, p in plan.headers.items() if not p.settings_only)
        static.param_rules = tuple((n, p) for n, p in plan.params.items() if not p.settings_only)
        state.types[event_type] = static
        return static

    def _settings_state(self, settings: Any) -> _SettingsState:
        if not isinstance(settings, dict):
            raise TransformError(f"configuration error: settings must be an object, got {type_name(settings)}")
        cached = self._settings_cache.get(id(settings))
        if cached is not None and cached.snapshot == settings:
            return cached
        self._check_settings(settings)
        resolved = {**self._defaults, **settings}
        try:
            snapshot = fresh(settings, "settings")
        except TransformError:
            return _SettingsState(None, resolved)  # not JSON: usable, but not worth caching
        state = _SettingsState(snapshot, resolved)
        if len(self._settings_cache) >= _SETTINGS_CACHE_SIZE:
            self._settings_cache.clear()
        self._settings_cache[id(settings)] = state
        return state

    def _check_settings(self, settings: dict[str, Any]) -> None:
        errors = sorted(self._mapping.settings_validator.iter_errors(settings), key=lambda e: list(e.absolute_path))
        if errors:
            raise TransformError("configuration error: " + "; ".join(_describe_settings_error(e) for e in errors))

    def _redact(self, message: str, settings: Any) -> str:
        """Last line of defence: no secret setting's value survives into a message."""
        if isinstance(settings, dict):
            for name in self._mapping.secrets:
                secret = settings.get(name)
                if isinstance(secret, str) and len(secret) >= 4:
                    message = message.replace(secret, "[redacted]")
        return message

    # -- batches of inputs -----------------------------------------------------------------

    def process(self, inputs: Iterable[Any], *, lookup: Lookup | None = None) -> list[dict[str, Any]]:
        """The processor shape: one result per input, in order; never raises for a bad input."""
        return [self.process_one(item, lookup=lookup) for item in inputs]

    def process_one(self, item: Any, *, lookup: Lookup | None = None) -> dict[str, Any]:
        if not isinstance(item, dict):
            return {"error": f"{self.name}: an input must be an object with message and destination, got {type_name(item)}",
                    "statusCode": 400, "metadata": None}
        metadata = item.get("metadata")
        destination = item.get("destination")
        config = destination.get("Config", MISSING) if isinstance(destination, dict) else MISSING
        if config is MISSING:
            return {"error": f"{self.name}: configuration error: the input has no destination.Config",
                    "statusCode": 400, "metadata": metadata}
        try:
            output = self.transform(item.get("message", MISSING), config, lookup=lookup)
        except TransformError as exc:
            return {"error": exc.message, "statusCode": exc.status_code, "metadata": metadata}
        return {"output": output, "statusCode": 200, "metadata": metadata}

    def batch(self, results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Pack successful results into as few batch requests as the destination's limits allow.

        Order is kept: a batch stands where its first event stood, error results pass through
        untouched, and no event is split or dropped (one too large for any batch becomes an error).
        """
        return list(self.iter_batches(results))

    def iter_batches(self, results: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Streaming form of ``batch``: holds at most one open batch and the errors behind it."""
        spec = self._mapping.batching
        if spec is None:
            raise ValueError(f"destination {self.name} declares no batching")
        yield from Packer(spec, self.name).pack(results)

    def check_settings(self, settings: Any) -> None:
        """Raise TransformError when ``settings`` do not satisfy the destination's settings schema."""
        try:
            self._settings_state(settings)
        except TransformError as exc:
            raise TransformError(self._redact(f"{self.name}: {exc.message}", settings), exc.status_code) from None


def _with_rules(computed: dict[str, Any], rules: tuple[tuple[str, Part], ...], ctx: Context) -> dict[str, Any]:
    """A fresh dict of the values computed once, plus those of the per-event rules that give one."""
    out = dict(computed)
    for name, part in rules:
        value = part.fn(ctx)
        if value is not MISSING:
            out[name] = value
    return out


def _describe_settings_error(error: Any) -> str:
    """A settings problem in words that name the setting and never repeat its value."""
    path = ".".join(str(p) for p in error.absolute_path)
    name = f"setting {path}" if path else "settings"
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [key for key in expected if key not in instance]
        prefix = f"{path}." if path else ""
        return "; ".join(f"setting {prefix}{key} is required" for key in missing)
    if kind == "type":
        return f"{name} must be of type {expected if isinstance(expected, str) else ' or '.join(expected)}"
    if kind == "enum":
        return f"{name} must be one of {', '.join(json.dumps(v) for v in expected)}"
    if kind == "pattern":
        return f"{name} must match the pattern {expected}"
    if kind == "minLength":
        return f"{name} must not be empty" if expected == 1 else f"{name} must be at least {expected} characters"
    return f"{name} does not satisfy {kind} {json.dumps(expected)}"
