"""Building one event's request from its compiled plan: the body per event, and the request parts
that read only settings computed once per (settings, event type)."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from ..errors import TransformError
from ..language.checks import Check
from ..language.codegen import Context, request_string
from ..language.compiler import EVENT_TYPE_VAR
from ..language.loader import CHECKS_VAR, EventPlan, Part
from ..language.loader import Mapping as CompiledMapping
from .lookups import Asker, Lookup
from .settings import SettingsState
from .values import MISSING, type_name
from .wire import json_bytes, json_size, request_description


class TypeState:
    """What one (settings, event type) pair computes once: settings-only lets and request parts.

    ``method`` and ``endpoint`` hold a checked string, or the Part to run (and check) per event;
    ``headers`` and ``params`` hold the values computed once, ``*_rules`` the Parts to run per
    event. ``checks`` are the body checks that may apply: one whose condition reads only settings
    is left out when false, and kept without its condition when true. ``parts_per_event`` says
    whether a header or parameter rule or a body size limit is left to do per event, ``per_event``
    whether any of the above is. ``asker`` is the last Asker made, reused while callers pass the
    same lookup function.

    What is computed here can always be sent: it comes from settings, which hold no lone surrogate
    (settings.py refuses them), and the mapping's constants, which cannot (the YAML reader refuses
    the escape); so per event only what the event gives (the body, and the parts that read it) is
    checked for text that could never be sent.
    """

    __slots__ = ("static_vars", "method", "endpoint", "headers", "params", "header_rules", "param_rules", "checks",
                 "max_body_bytes", "parts_per_event", "per_event", "asker")

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
        self.parts_per_event = True
        self.per_event = True
        self.asker: Asker | None = None


class RequestBuilder:
    """Runs a compiled mapping's plans: one event and its settings state in, one request out,
    whose text can be sent (a lone surrogate anywhere in it raises UnicodeEncodeError)."""

    def __init__(self, mapping: CompiledMapping) -> None:
        self._mapping = mapping

    def build(self, message: dict[str, Any], state: SettingsState, event_type: str, plan: EventPlan,
              lookup: Lookup | None, static: TypeState | None = None) -> dict[str, Any]:
        if static is None:  # _prepared, written out: every event comes here, and a call costs about 1% of one
            static = state.types.get(event_type) or self._type_state(state, event_type, plan)
        asker = static.asker
        if asker is None or asker.function is not lookup:
            asker = static.asker = Asker(lookup, static.headers, state.secrets)
        ctx = Context(message, state.settings, static.static_vars, asker)
        if plan.request is not None:  # body, checks, method and endpoint in one call
            body, method, endpoint = plan.request(ctx)
            if static.parts_per_event:
                return _finished(body, method, endpoint, ctx, static)
            quoting: Any = (method, endpoint, body)  # what may quote the event (see TypeState)
        else:
            body = plan.body(ctx) if plan.body is not None else MISSING
            if body is MISSING:
                body = {}
            if static.per_event:
                return _per_event(body, ctx, static, plan)
            method, endpoint, quoting = static.method, static.endpoint, body
        # The usual request, with no rule left to run: _finished and request_description written
        # out, as most events come here and their three calls cost about 3% of an identify.
        try:
            orjson.dumps(quoting)
        except TypeError:  # json_bytes decides: UnicodeEncodeError for text that could never be sent
            json_bytes(quoting)
        return {"version": "1", "type": "REST", "method": method, "endpoint": endpoint, "headers": static.headers.copy(),
                "params": static.params.copy(), "body": {"JSON": body, "JSON_ARRAY": {}, "XML": {}, "FORM": {}},
                "files": {}, "userId": ""}

    def build_each(self, message: dict[str, Any], state: SettingsState, event_type: str, plan: EventPlan,
                   lookup: Lookup | None, static: TypeState | None = None) -> list[dict[str, Any] | Exception]:
        """Fan-out: one request per element of the list ``plan.for_each`` gives, each built with
        the element bound to ``plan.item_name``; a failing element is its exception, in its place.
        A missing list gives no request; a value that is not a list is the event's error."""
        assert plan.for_each is not None
        static, asker = self._prepared(state, event_type, plan, lookup, static)
        items = plan.for_each(Context(message, state.settings, static.static_vars, asker))
        if items is MISSING:
            return []
        if items.__class__ is not list:
            raise TransformError(f"{plan.file} for_each: must give a list, got {type_name(items)}")
        out: list[dict[str, Any] | Exception] = []
        for index, item in enumerate(items):
            ctx = Context(message, state.settings, static.static_vars, asker)
            ctx.vars[plan.item_name] = item
            try:
                body = plan.body(ctx) if plan.body is not None else MISSING
                out.append(_per_event({} if body is MISSING else body, ctx, static, plan))
            except Exception as exc:  # noqa: BLE001 - each element's failure is its own result
                out.append(_at_index(exc, index))
        return out

    def _prepared(self, state: SettingsState, event_type: str, plan: EventPlan, lookup: Lookup | None,
                  static: TypeState | None) -> tuple[TypeState, Asker]:
        """The (settings, event type) state, computed on first use, and the Asker for ``lookup``."""
        if static is None:
            static = state.types.get(event_type) or self._type_state(state, event_type, plan)
        asker = static.asker
        if asker is None or asker.function is not lookup:
            asker = static.asker = Asker(lookup, static.headers, state.secrets)
        return static, asker

    def every_part(self, state: SettingsState, event_type: str, plan: EventPlan) -> TypeState:
        """A state that runs every request part per event (explain's tracing plans: each is traced)."""
        static = TypeState(event_type)
        static.method, static.endpoint = plan.method, plan.endpoint
        static.header_rules, static.param_rules = tuple(plan.headers.items()), tuple(plan.params.items())
        static.checks, static.max_body_bytes = plan.checks, self._body_limit(state)
        return static

    def _type_state(self, state: SettingsState, event_type: str, plan: EventPlan) -> TypeState:
        """Compute the request parts that read only settings, once per (settings, event type)."""
        static = TypeState(event_type)
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
        static.static_vars[CHECKS_VAR] = static.checks  # what plan.request runs
        static.max_body_bytes = self._body_limit(state)
        static.parts_per_event = bool(static.header_rules or static.param_rules or static.max_body_bytes is not None)
        static.per_event = bool(static.parts_per_event or static.checks or static.method.__class__ is not str
                                or static.endpoint.__class__ is not str)
        if event_type in self._mapping.plans:  # not other_events' types: any string may come, so none is kept
            state.types[event_type] = static
        return static

    def _body_limit(self, state: SettingsState) -> int | None:
        limit = self._mapping.max_body_bytes
        if self._mapping.max_body_setting is not None:
            limit = state.settings.get(self._mapping.max_body_setting, limit)
        return limit


def _per_event(body: Any, ctx: Context, static: TypeState, plan: EventPlan) -> dict[str, Any]:
    """The request, with what varies per event besides the body: checks, request parts whose
    rules read the event, the body size limit."""
    for check in static.checks:
        check.apply(body, ctx)
    method = static.method
    if method.__class__ is not str and (method := method.fn(ctx)).__class__ is not str:
        method = request_string(method, plan.file, "method")
    endpoint = static.endpoint
    if endpoint.__class__ is not str and (endpoint := endpoint.fn(ctx)).__class__ is not str:
        endpoint = request_string(endpoint, plan.file, "endpoint")
    return _finished(body, method, endpoint, ctx, static)


def _finished(body: Any, method: str, endpoint: str, ctx: Context, static: TypeState) -> dict[str, Any]:
    """The request from its body, method and endpoint: headers and parameters with their per-event
    rules, the body size limit, and the check that its text can be sent."""
    # What may quote the event is checked for text that could never be sent (see TypeState).
    rest: tuple[Any, ...] = (method, endpoint)
    if static.header_rules:
        headers = _with_rules(static.headers, static.header_rules, ctx)
        rest += (headers,)
    else:
        headers = static.headers.copy()
    if static.param_rules:
        params = _with_rules(static.params, static.param_rules, ctx)
        rest += (params,)
    else:
        params = static.params.copy()
    limit = static.max_body_bytes
    if limit is None:
        json_bytes((*rest, body))  # raises UnicodeEncodeError for text that could never be sent
        return request_description(method, endpoint, headers, params, body)
    size = json_size(body)  # counted as UTF-8: a body that could never be sent raised here already
    if size > limit:
        raise TransformError(f"the request body is {size} bytes, over the limit of {limit} bytes")
    json_bytes(rest)  # the rest of the request, which may quote the event too
    return request_description(method, endpoint, headers, params, body)


def _at_index(exc: Exception, index: int) -> Exception:
    """An element's error, naming the element (other exceptions are worded by the caller)."""
    if isinstance(exc, TransformError):
        return TransformError(f"for_each[{index}]: {exc.message}", exc.status_code)
    return exc


def _with_rules(computed: dict[str, Any], rules: tuple[tuple[str, Part], ...], ctx: Context) -> dict[str, Any]:
    """A fresh dict of the values computed once, plus those of the per-event rules that give one."""
    out = dict(computed)
    for name, part in rules:
        value = part.fn(ctx)
        if value is not MISSING:
            out[name] = value
    return out
