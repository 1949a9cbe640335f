"""A loaded destination: turns events into request descriptions, one or a batch at a time."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import Problem, TransformError
from ..language.delivery_rules import DeliveryRules
from ..language.listing import GeneratedRule, generated_rules
from ..language.loader import Batching, EventPlan, load_mapping
from ..language.loader import Mapping as CompiledMapping
from ..language.suggest import did_you_mean
from .failures import event_error
from .lookups import Lookup
from .processor import Processor
from .request import RequestBuilder, TypeState
from .settings import SettingsChecker, SettingsState, cache_key
from .tracing import Tracer
from .values import MISSING, is_present, type_name


def _rebuild(folder: str, texts: dict[str, str]) -> Destination:
    """Unpickle: compile the mapping again from the texts it was built from (no file is read)."""
    return Destination(load_mapping(Path(folder), texts))


class Destination(Processor):
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
        self._requests = RequestBuilder(mapping)
        self._plans, self._type_first = mapping.plans, mapping.type_first  # read per event
        self._checked_settings = self._settings.checked  # read per event: a hit is the usual event's settings state
        self._tracer = Tracer(self.name, mapping, self._settings, self._traced)
        self.fans_out = any(plan.for_each is not None for plan in [*mapping.plans.values(), mapping.other] if plan)

    @classmethod
    def from_folder(cls, folder: str | Path) -> Destination:
        return cls(load_mapping(Path(folder)))

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (str(self._mapping.folder), dict(self._mapping.texts))

    @property
    def folder(self) -> Path:
        return self._mapping.folder

    @property
    def setting_names(self) -> tuple[str, ...]:
        """The settings the mapping declares."""
        return tuple(self._mapping.settings_schema.get("properties", {}))

    @property
    def secret_settings(self) -> tuple[str, ...]:
        """The names of the settings marked ``secrets``: what a tool showing results keeps out of sight."""
        return tuple(self._mapping.secrets)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """What loaded but is likely not what the author meant (``transformer check`` prints them)."""
        return self._mapping.warnings

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

    def _transform(self, message: Any, settings: Any, lookup: Lookup | None) -> dict[str, Any]:
        # The usual event, read here: a plain object of a declared type, with settings whose value
        # was checked before and found valid. Any other goes through _plan, which says what is
        # wrong with it (the calls saved are about 2% of an event).
        if not (message.__class__ is dict and (key := message.get("type")).__class__ is str
                and (plan := self._plans.get(key)) is not None and settings.__class__ is dict
                and (state := self._checked_settings.get(cache_key(settings))).__class__ is SettingsState):
            try:
                state, key, plan = self._plan(message, settings)
            except Exception as exc:
                raise event_error(exc, self.name, message) from None
        try:  # the request builder has checked that the output's text can be sent
            if plan.for_each is None:
                return self._requests.build(message, state, key, plan, lookup)
            return self._one_of_each(message, state, key, plan, lookup, None)
        except Exception as exc:
            raise event_error(_named(exc, f"{self.name} {key}"), self.name, message) from None

    def transform_each(self, message: Any, settings: Any, *,
                       lookup: Lookup | None = None) -> list[dict[str, Any] | TransformError]:
        try:
            state, key, plan = self._plan(message, settings)
        except Exception as exc:
            raise event_error(exc, self.name, message) from None
        if plan.for_each is None:
            return [self.transform(message, settings, lookup=lookup)]
        try:
            outputs = self._requests.build_each(message, state, key, plan, lookup)
        except Exception as exc:
            raise event_error(_named(exc, f"{self.name} {key}"), self.name, message) from None
        return [self._checked(output, key, message) for output in outputs]

    def _checked(self, output: dict[str, Any] | Exception, key: str, message: Any) -> dict[str, Any] | TransformError:
        """One fanned-out request, or its error worded as ``transform`` words an event's."""
        try:
            if isinstance(output, Exception):
                raise output
            return output
        except Exception as exc:  # noqa: BLE001 - this element's error only
            return event_error(_named(exc, f"{self.name} {key}"), self.name, message)

    def _plan(self, message: Any, settings: Any) -> tuple[SettingsState, str, EventPlan]:
        """The event's settings state, type key and plan; a TransformError naming the destination."""
        try:
            if not isinstance(message, dict):
                raise TransformError(f"the message must be an object, got {type_name(message)}")
            # Which error an event with bad settings and an unsupported type gets: the mapping says.
            state = None if self._type_first else self._settings.state(settings)
            key = event_type = message.get("type", MISSING)
            plan = self._plans.get(key) if key.__class__ is str else None  # most types come as declared
            if plan is None:
                key = event_type.lower() if isinstance(event_type, str) else ""
                plan = self._plans.get(key) or self._other(event_type)
            if state is None:
                state = self._settings.state(settings)
        except TransformError as exc:
            raise TransformError(f"{self.name}: {exc.message}", exc.status_code) from None
        return state, key, plan

    def _traced(self, message: Any, settings: Any, lookup: Lookup | None,
                tracing: dict[str | None, EventPlan]) -> dict[str, Any]:
        """``transform`` with explain's tracing plans, every request part run for this event (so each is traced)."""
        state, key, plan = self._plan(message, settings)
        try:
            plan = tracing[key if key in tracing else None]  # None: other_events' file
            static = self._requests.every_part(state, key, plan)
            if plan.for_each is not None:
                return self._one_of_each(message, state, key, plan, lookup, static)
            return self._requests.build(message, state, key, plan, lookup, static)
        except TransformError as exc:
            raise _named(exc, f"{self.name} {key}") from None

    def _one_of_each(self, message: dict[str, Any], state: SettingsState, key: str, plan: EventPlan,
                     lookup: Lookup | None, static: TypeState | None) -> dict[str, Any]:
        """``transform`` of a fan-out event type: its request when it makes exactly one."""
        outputs = self._requests.build_each(message, state, key, plan, lookup, static)
        if len(outputs) != 1:
            raise TransformError(f"{plan.file} for_each: the event makes {len(outputs)} requests, not one "
                                 "(transform_each, transform_all and process_each give them all)")
        if isinstance(outputs[0], Exception):
            raise outputs[0]
        return outputs[0]

    def explain(self, message: Any, settings: Any, *, lookup: Lookup | None = None,
                field: str | None = None) -> dict[str, Any]:
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
        generated on the first call; ``transform`` never runs them. With ``field`` (``"body.email"``),
        ``fields`` holds only that field's trace and ``selected`` names it; a field no rule of the
        event type gives is a ValueError naming the closest one."""
        return self._tracer.explain(message, settings, lookup, field)

    def generated_code(self, event_type: str) -> list[GeneratedRule]:
        """The Python generated for ``event_type``'s rules, to read: each rule root (method,
        endpoint, headers, params, body, validate conditions; ``body, method and endpoint`` in one
        where the method and endpoint both read the event) and each let it calls, commented with
        the file:line of every rule. Generated afresh (the same code transform runs, plus comments).
        An event type the mapping does not declare is a ValueError naming the closest one."""
        if event_type not in self._mapping.rules:
            raise ValueError(f"{self.name} declares no event type {event_type!r}"
                             f"{did_you_mean(event_type, self.event_types)} (declared: {', '.join(self.event_types)})")
        return generated_rules(self._mapping, event_type)

    def _other(self, event_type: Any) -> EventPlan:
        """The plan of a type ``events`` does not name: other_events' file, else its error."""
        if not is_present(event_type):
            raise TransformError("Event type is required")
        if not isinstance(event_type, str):
            raise TransformError(f"Event type must be a string, got {type_name(event_type)}")
        if self._mapping.other is not None:
            return self._mapping.other
        shown = event_type if len(event_type) <= 60 else event_type[:57] + "..."
        if self._mapping.other_error is not None:  # the mapping's words; {type} is the type as given
            raise TransformError(self._mapping.other_error.replace("{type}", shown))
        raise TransformError(f"Event type {shown!r} is not supported{did_you_mean(event_type, self.event_types)} "
                             f"(supported: {', '.join(self.event_types)})")

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

    def _batching(self, settings: Any = None) -> Batching:
        """The batch rules, with the limits ``settings`` give (validated) when there are any."""
        spec = self._mapping.batching
        if spec is None:
            raise ValueError(f"destination {self.name} declares no batching")
        return spec if settings is None else spec.for_settings(self._settings.state(settings).settings)

    def check_settings(self, settings: Any) -> None:
        """Raise TransformError when ``settings`` do not satisfy the destination's settings schema."""
        try:
            self._settings.state(settings)
        except TransformError as exc:
            raise TransformError(f"{self.name}: {exc.message}", exc.status_code) from None


def _named(exc: Exception, name: str) -> Exception:
    """A TransformError prefixed with the destination (and event type) it came from."""
    if isinstance(exc, TransformError):
        return TransformError(f"{name}: {exc.message}", exc.status_code)
    return exc
