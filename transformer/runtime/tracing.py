"""explain's side of a Destination: the tracing variant of its plans (generated on the first
call; ``transform`` never runs it), one event run with every rule recording what it tried, and
the explanation built from those records."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import TransformError
from ..language.codegen import TRACE
from ..language.loader import EventPlan, tracing_plans
from ..language.loader import Mapping as CompiledMapping
from .explain import TOO_DEEP, Secrets, explanation, select_field
from .failures import event_error
from .lookups import Lookup, shown_url
from .settings import SettingsChecker

# Destination._traced: (message, settings, lookup, tracing plans) -> request
Transform = Callable[[Any, Any, "Lookup | None", "dict[str | None, EventPlan]"], dict[str, Any]]
_SHOWN_DEPTH = 200  # twice what a request may nest; the explanation nests values a few levels down


class Tracer:
    """Runs one event through the tracing plans and explains the result (see Destination.explain)."""

    def __init__(self, name: str, mapping: CompiledMapping, settings: SettingsChecker, transform: Transform) -> None:
        self._name, self._mapping, self._settings, self._transform = name, mapping, settings, transform
        self._plans: dict[str | None, EventPlan] | None = None

    def explain(self, message: Any, settings: Any, lookup: Lookup | None, field: str | None) -> dict[str, Any]:
        if self._plans is None:
            self._plans = tracing_plans(self._mapping)
        plans = self._plans
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
            # As transform: text that could never be sent makes the event an error (the request builder checks).
            request = self._transform(message, settings, recording if lookup is not None else None, plans)
            outcome = {"request": request}
        except Exception as exc:
            error = event_error(exc, self._name, message)
            outcome = {"error": {"message": error.message, "status_code": error.status_code}}
        finally:
            TRACE.reset(token)
        fields, shown = explanation(records, lookups=asked, request=outcome.get("request"), secrets=secrets)
        if shown is not None:
            outcome = {"request": shown}
        key, file = self._event_type(message)
        data = {"destination": self._name, "event_type": key, "file": file, **outcome, "lookups": asked, "fields": fields}
        cut: dict[str, Any] = _cut_deep(data)
        return cut if field is None else select_field(cut, field)

    def _event_type(self, message: Any) -> tuple[str | None, str | None]:
        """The event's type (lower case) and the file of its rules, as far as they can be told."""
        event_type = dict.get(message, "type") if isinstance(message, dict) else None  # a subclass's get may raise
        key = event_type.lower() if isinstance(event_type, str) else None
        plan = (self._mapping.plans.get(key) or self._mapping.other) if key else None
        return key, plan.file if plan else None


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
