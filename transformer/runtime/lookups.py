"""Look-ups: the one place where a transform asks the caller something.

The engine performs no I/O. A ``lookup`` rule describes GET requests; the caller's lookup function
answers each with ``(status_code, body)``. Whatever that function does wrong (raises, hangs up
with SystemExit, returns garbage, answers 200 with nothing usable) becomes this event's error
with a 5xx status naming the look-up, never an exception out of ``process`` and never an error
blamed on the event. KeyboardInterrupt is let through: it is the user stopping the run.

Each request carries ``lookup: {kind, value}`` beside method, endpoint and headers: what is looked
up, as data, so a caller can answer from a table (``table_lookup``) instead of parsing URLs.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import TransformError
from .values import MISSING, has_surrogate, is_huge_int, printable, type_name

Lookup = Callable[[dict[str, Any]], Any]


class Found:
    """A lookup function's answer body that is the found value itself (e.g. a customer id), so a
    caller that already knows it need not build the body the destination's API would send."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Found({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Found) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Found", self.value))

    def __reduce__(self) -> tuple[Any, ...]:
        return Found, (self.value,)


def table_lookup(table: Mapping[tuple[str, Any], Any]) -> Lookup:
    """A lookup function answering from ``table``: ``(kind, value) -> found value`` (e.g.
    ``("email", "ada@example.com") -> "cust-7"``). Look-ups not in the table answer 404."""

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        asked = request.get("lookup") or {}
        kind = asked.get("kind")
        found = table.get((kind, asked.get("value")), MISSING) if isinstance(kind, str) else MISSING
        return (404, None) if found is MISSING else (200, Found(found))

    return lookup


def shown_url(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` (a URL built from settings and the event) as a message may show it: each secret
    value in it replaced, whatever its length. Only this outside text is redacted, never the
    words the engine wrote around it."""
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return printable(text)


class Asker:
    """What one event's look-ups are asked with: the caller's function, the request headers, and
    the secret settings' values, which never reach a message (a URL may contain one)."""

    __slots__ = ("function", "headers", "secrets")

    def __init__(self, function: Lookup | None, headers: dict[str, Any], secrets: tuple[str, ...]) -> None:
        self.function = function
        self.headers = headers
        self.secrets = secrets

    def where(self, kind: str, url: str) -> str:
        """The look-up as a message names it (made only for a message: redacting has a cost)."""
        return f"look-up {kind} (GET {shown_url(url, self.secrets)})"


LookupRequest = tuple[str, Callable[[Any], Any], Callable[[Any], Any]]  # kind, value rule, endpoint rule
NEXT: Any = object()  # what asking gives for a "not found" answer: ask the next request


def asking(kind: str, found: Callable[[Any], Any], found_path: str, absent: frozenset[int],
           label: str) -> Callable[[Any, Any, Any], Any]:
    """What one request of a ``lookup`` rule does with its value and URL: ask it; a 200 gives the
    value at ``found_path``, a status in ``absent`` gives NEXT, others are the event's error."""
    keys = tuple(found_path.split("."))  # found_path's keys: the usual answer is read with them, in place

    def ask(ctx: Any, value: Any, url: Any) -> Any:
        if url.__class__ is not str:
            raise TransformError(f"{label}: a look-up endpoint must be a string, got {type_name(url)}")
        asker: Asker = ctx.lookup
        function = asker.function
        if function is None:
            raise TransformError(f"{label}: this event needs a {asker.where(kind, url)} and no lookup function was given; "
                                 "pass lookup=... (or canned answers to the CLI with --lookups)")
        # request_description("GET", url, headers, {}, {}) and lookup, written out: asked per event
        request = {"version": "1", "type": "REST", "method": "GET", "endpoint": url, "headers": asker.headers.copy(),
                   "params": {}, "body": {"JSON": {}, "JSON_ARRAY": {}, "XML": {}, "FORM": {}}, "files": {}, "userId": "",
                   "lookup": {"kind": kind, "value": value}}
        try:
            answer = function(request)
        except KeyboardInterrupt:
            raise
        except TransformError as exc:  # the function's own refusal (see cli/canned.py): its words, its status
            raise TransformError(f"{label}: {exc.message}", exc.status_code) from None
        except BaseException as exc:  # the caller's code, SystemExit included: this event's error only
            raise TransformError(f"{label}: the lookup function raised {exc.__class__.__name__} for {asker.where(kind, url)}",
                                 502) from None
        if answer.__class__ is tuple and len(answer) == 2:  # the usual answer, read at once
            status, body = answer
        else:
            try:  # a sequence subclass may raise when read: as unusable as any other wrong shape
                status, body = answer if isinstance(answer, (tuple, list)) and len(answer) == 2 else (None, None)
            except Exception:
                status = body = None
        if status.__class__ is int:  # found, not found, then the other statuses
            if status == 200:
                if body.__class__ is Found:
                    read = body.value
                else:
                    read = body
                    for key in keys:  # plain objects down to the id, read in place
                        read = read.get(key) if read.__class__ is dict else None
                if read.__class__ is str and read and read.isascii():  # the usual id: usable as it is
                    return read
                try:  # any other answer is read, or refused, by the found rule itself
                    return _usable(body.value if isinstance(body, Found) else _found_in(found, body, found_path), found_path)
                except _BadAnswer as bad:
                    raise TransformError(f"{label}: {asker.where(kind, url)} answered 200 {bad}", 502) from None
            if status in absent:  # a status between 100 and 599 (the schema says)
                return NEXT
            if 100 <= status <= 599:
                raise TransformError(f"{label}: {asker.where(kind, url)} failed with status {status}",
                                     status if status >= 400 else 502)
        raise TransformError(f"{label}: the lookup function must return (status_code, body) for {asker.where(kind, url)}", 502)

    return ask


def look_up_rule(requests: list[LookupRequest], found: Callable[[Any], Any], found_path: str,
                 absent: frozenset[int], label: str) -> Callable[[Any], Any]:
    """A ``lookup`` rule as one function over its requests' rules (explain's tracing plans; the
    generated code of other plans asks inline): the first request found wins, in order."""
    asks = [(value_fn, endpoint_fn, asking(kind, found, found_path, absent, label)) for kind, value_fn, endpoint_fn in requests]

    def look_up(ctx: Any) -> Any:
        for value_fn, endpoint_fn, ask in asks:
            value = value_fn(ctx)
            if value is MISSING:
                continue
            url = endpoint_fn(ctx)
            if url is MISSING:
                continue
            answer = ask(ctx, value, url)
            if answer is not NEXT:
                return answer
        return MISSING

    return look_up


class _BodyContext:
    """Lets a generated path function dig into a look-up answer's body."""

    __slots__ = ("event", "settings")

    def __init__(self, body: Any) -> None:
        self.event = body
        self.settings: dict[str, Any] = {}


class _BadAnswer(Exception):
    """What is wrong with a 200 answer, in the words that follow "answered 200"."""


def _found_in(found: Callable[[Any], Any], body: Any, found_path: str) -> Any:
    try:
        value = found(_BodyContext(body))
    except Exception:  # the answer holds something that is not JSON (or raises when read): the look-up's fault
        raise _BadAnswer(f"with a body that is not JSON at {found_path}") from None
    if value is MISSING:
        raise _BadAnswer(f"without {found_path}")
    return value


def _usable(value: Any, found_path: str) -> Any:
    """A found value is an id: a string or a finite number, never an object, a list or a boolean."""
    cls = value.__class__
    if cls is int and is_huge_int(value):
        raise _BadAnswer(f"with {found_path} that is an integer too long to write as JSON")
    if cls is str and value and not has_surrogate(value) or cls is int or cls is float and math.isfinite(value):
        return value
    if cls is str and value:
        raise _BadAnswer(f"with {found_path} that is not valid Unicode (it holds a lone surrogate)")
    raise _BadAnswer(f"with {found_path} that is not a string or a number (got {type_name(value)})")
