"""Segment's HTTP Tracking API written by hand in straight-line Python: the benchmark's second
baseline, nothing else.

It does what mappings/segment/*.yaml do for one event: the fields every call carries, ids as text,
messageId (the event's, at most 100 characters, else a name-based UUID of the event's content),
Segment's channels, each type's own fields, the type rules Segment's libraries enforce, and the
size limit of one event; and it refuses the settings the settings schema refuses. The benchmark
checks that it gives the engine's output on every benchmark event (docs/performance-baseline.md).
"""
from __future__ import annotations

import base64
import json
import math
import re
import uuid
from collections.abc import Callable
from typing import Any

from .baseline import MAX_DEPTH, SCALARS, Invalid, check_plain, copy_json, processor_result, text

HOSTS = {"us": "https://api.segment.io/v1", "eu": "https://events.eu1.segmentapis.com/v1"}
ENDPOINT = re.compile(r"https?://\S*[^/\s]")
# Integer settings: (least, most).
LIMITS = {"maxEventBytes": (1, 32768), "maxBatchBytes": (1, 512000), "maxBatchEvents": (1, 2500)}
TYPES = frozenset(("identify", "track", "page", "screen", "group", "alias"))
CHANNELS = frozenset(("browser", "server", "mobile"))
# The event's fields that must be objects, and those that must be strings, when present.
OBJECTS = ("traits", "properties", "context", "integrations")
STRINGS = ("event", "name", "category")
# What the wire carries (NaN refused) and what a derived messageId is made from (keys sorted).
WIRE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=True).encode
# The digest (bench.compare.mappings_digest) of the mappings/segment this baseline was written for:
# when the folder differs, the benchmark and tests/test_bench.py skip the comparison and say why.
# After changing both, record the new digest: python -m bench --digest mappings/segment
MAPPINGS_SHA256 = "9c90c9bcbff1ab2bc6c249549daaccf930a82b005f6ed3075123758d07a65d28"

# Per write key: the Basic auth header, worked out once.
_AUTH: dict[str, str] = {}


def check_settings(settings: dict[str, Any]) -> None:
    """What the settings schema in destination.yaml refuses, by hand: one pass over the settings."""
    key = settings.get("writeKey")
    if key.__class__ is not str or not key:
        raise Invalid("writeKey")
    for name, value in settings.items():
        if name == "region":
            if value.__class__ is not str or value not in HOSTS:
                raise Invalid(name)
        elif name == "endpoint":
            if value.__class__ is not str or not ENDPOINT.fullmatch(value):
                raise Invalid(name)
        elif name in LIMITS:
            least, most = LIMITS[name]
            # JSON Schema's integer: 5000.0 is one, true is not.
            whole = value.__class__ is int or (value.__class__ is float and value.is_integer())
            if not whole or not least <= value <= most:
                raise Invalid(name)
        else:  # writeKey (a string, checked above) and any setting the schema leaves open
            check_plain(value, 1)


def present(value: Any) -> bool:
    return value is not None and value != ""


def own(value: Any) -> Any:
    return value if value.__class__ in SCALARS else copy_json(value)


def an_id(event: dict[str, Any], name: str) -> str | None:
    """An id as text (a number or boolean as JSON writes it); an object or array is refused."""
    value = event.get(name)
    if value is None or value == "":
        return None
    if value.__class__ is str:
        return value
    if isinstance(value, (dict, list)) or value.__class__ is float and not math.isfinite(value):
        raise Invalid(name)
    return text(value)


def whole_numbers(value: Any, depth: int) -> Any:
    """1.0 as 1, at any depth: equal JSON values give equal text, whichever language parsed them;
    an object or array ``depth`` levels down, or deeper, past MAX_DEPTH refused, as a field read is."""
    cls = value.__class__
    if cls is dict or cls is list:
        if depth >= MAX_DEPTH:
            raise Invalid("nested too deep")
        if cls is dict:
            return {k: v if v.__class__ in SCALARS else whole_numbers(v, depth + 1) for k, v in value.items()}
        return [v if v.__class__ in SCALARS else whole_numbers(v, depth + 1) for v in value]
    if cls is float and value.is_integer():
        return int(value)
    return value


def message_id(event: dict[str, Any], kind: str) -> str:
    given = an_id(event, "messageId")
    if given is not None:
        if len(given) > 100:
            raise Invalid("messageId")
        return given
    # The event as Segment receives it, RudderStack's per-delivery additions left out.
    content: dict[str, Any] = {"type": kind}
    for name in ("userId", "anonymousId", "previousId", "groupId", "event", "name", "category", "properties"):
        value = event.get(name)
        if value is not None and value != "":
            content[name] = value
    traits = event.get("traits")
    if traits is None or traits == "":
        context = event.get("context")
        traits = context.get("traits") if isinstance(context, dict) else None
    for name, value in (("traits", traits), ("context", event.get("context")), ("integrations", event.get("integrations")),
                        ("timestamp", event.get("timestamp") if present(event.get("timestamp")) else event.get("originalTimestamp"))):
        if value is not None and value != "":
            content[name] = value
    try:  # the content one level above its fields, which are read as any field is
        return str(uuid.uuid5(uuid.NAMESPACE_URL, CANONICAL(whole_numbers(content, -1))))
    except (ValueError, UnicodeEncodeError):  # NaN or infinity; a lone surrogate
        raise Invalid("not JSON that can be sent") from None


def transform(event: dict[str, Any], settings: dict[str, Any], lookup: Callable[..., Any] | None = None) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise Invalid("message")
    if not isinstance(settings, dict):
        raise Invalid("settings")
    check_settings(settings)
    kind = event.get("type")
    if kind.__class__ is not str or (kind := kind.lower()) not in TYPES:
        raise Invalid("type")
    body: dict[str, Any] = {"type": kind}
    user_id, anonymous_id = an_id(event, "userId"), an_id(event, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise Invalid("userId")
    if user_id is not None:
        body["userId"] = user_id
    if anonymous_id is not None:
        body["anonymousId"] = anonymous_id
    for name in ("context", "integrations"):
        value = event.get(name)
        if value is not None and value != "":
            body[name] = own(value)
    timestamp = event.get("timestamp")
    if timestamp is None or timestamp == "":
        timestamp = event.get("originalTimestamp")
    if timestamp is not None and timestamp != "":
        body["timestamp"] = own(timestamp)
    body["messageId"] = message_id(event, kind)
    channel = event.get("channel")
    if channel is not None and channel.__class__ not in SCALARS:
        copy_json(channel)  # read as any field is: NaN or nesting past the limit refused
    if channel.__class__ is str and channel in CHANNELS:
        body["channel"] = channel
    own_fields(event, kind, body)
    for name in OBJECTS:
        if name in body and body[name].__class__ is not dict:
            raise Invalid(name)
    for name in STRINGS:
        if name in body and body[name].__class__ is not str:
            raise Invalid(name)
    return envelope(body, kind, settings)


def own_fields(event: dict[str, Any], kind: str, body: dict[str, Any]) -> None:
    """Each call's own fields, as identify.yaml, track.yaml, page-screen.yaml, group.yaml and alias.yaml send them."""
    get = event.get
    if kind == "track":
        if not present(get("event")):
            raise Invalid("event")
        body["event"] = own(get("event"))
        if present(get("properties")):
            body["properties"] = own(get("properties"))
    elif kind == "page" or kind == "screen":
        category = get("category")
        for name in ("name", "category", "properties"):
            if present(get(name)):
                body[name] = own(get(name))
        if kind == "page" and present(category):
            properties = body.get("properties")
            if properties is not None and properties.__class__ is not dict:
                raise Invalid("properties")
            body["properties"] = {**(properties or {}), "category": own(category)}
    elif kind == "identify":
        traits = get("traits")
        if not present(traits):
            context = get("context")
            traits = context.get("traits") if isinstance(context, dict) else None
        if present(traits):
            body["traits"] = own(traits)
    elif kind == "group":
        group_id = an_id(event, "groupId")
        if group_id is None:
            raise Invalid("groupId")
        body["groupId"] = group_id
        if present(get("traits")):
            body["traits"] = own(get("traits"))
    else:
        previous_id, user_id = an_id(event, "previousId"), an_id(event, "userId")
        if previous_id is None or user_id is None:
            raise Invalid("previousId" if previous_id is None else "userId")
        body["previousId"], body["userId"] = previous_id, user_id


def envelope(body: dict[str, Any], kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The request around the body, once the body's size is known to be within the limit."""
    try:
        size = len(WIRE(body).encode("utf-8"))
    except (ValueError, UnicodeEncodeError):  # NaN or infinity; a lone surrogate
        raise Invalid("not JSON that can be sent") from None
    if size > settings.get("maxEventBytes", 32000):
        raise Invalid("too large")
    key = settings["writeKey"]
    auth = _AUTH.get(key)
    if auth is None:
        auth = _AUTH[key] = "Basic " + base64.b64encode(f"{key}:".encode()).decode("ascii")
    host = settings.get("endpoint") or HOSTS[settings.get("region", "us")]
    return {"version": "1", "type": "REST", "method": "POST", "endpoint": f"{host}/{kind}",
            "headers": {"Content-Type": "application/json", "Authorization": auth},
            "params": {}, "body": {"JSON": body, "JSON_ARRAY": {}, "XML": {}, "FORM": {}}, "files": {}, "userId": ""}


def process_one(item: dict[str, Any], lookup: Callable[..., Any] | None = None) -> dict[str, Any]:
    return processor_result(transform, item, lookup)
