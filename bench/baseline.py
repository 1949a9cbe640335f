"""Kustomer written by hand in straight-line Python: the benchmark's baseline, nothing else.

It does what mappings/kustomer/*.yaml do for the benchmark's settings (identifyStrategy lookup, no
customAttributes, no strictPayloads), including what the engine promises: settings of the wrong
type or shape are refused, the output shares no object with the input, is strict JSON and encodes
as UTF-8 (a lone surrogate is refused). Each path is written as a careful programmer would write it
by hand: direct key reads, dict literals and comprehensions, one JSON encoder made once, the host
and headers of an API key worked out once and kept. The benchmark checks that both give equal
output on its events (docs/performance-baseline.md says what it does per event).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson

from transformer import Found

US = "https://api.kustomerapp.com"
SESSION_KEYS = frozenset(("kustomerSessionId", "kustomer_session_id", "kustomerTrackingId", "kustomer_tracking_id"))
ISO_8601 = re.compile(r"\d{4}(-\d\d(-\d\d([Tt]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)?)?)?)?")
BOOLEAN_SETTINGS = frozenset(("genericPage", "genericScreen", "advancedTransform", "setIdentityEmail",
                              "disableEmailAsTrackingProperty", "customAttributes", "strictPayloads"))
BASE_ENDPOINT = re.compile(r"https?://\S*[^/\s]")
URL_SAFE = re.compile(r"[A-Za-z0-9_.~@-]*").fullmatch
ORG_POD = re.compile(r"prod[0-9]+")
EMPTY: dict[str, Any] = {}
ANONYMOUS = object()  # the last look-up's value: the anonymousId, read when it is asked
NO_CONFIG = object()  # an input without destination.Config
TYPES = frozenset(("identify", "track", "page", "screen"))
SCALARS = (str, int, bool)
# The engine's limits, which a hand-written transform must keep too to refuse what it refuses: an
# object or array nested this deep in a value read, and the text of a template of two placeholders.
MAX_DEPTH = 100
MAX_TEXT = 1_000_000
# One encoder for the whole run: json.dumps with separators builds a new one per call.
COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
# Per API host and key: the host and the Authorization header, worked out once.
_HOSTS: dict[tuple[Any, Any, str], tuple[str, str]] = {}
# Meta keys with their whitespace turned into dashes, worked out once per key seen (up to a bound).
_DASHED: dict[str, str] = {}
# An identify's fields read from traits (else context.traits) under their own or another name.
TRAIT_FIELDS = (("username", "userName"), ("signedUpAt", "createdAt"), ("lastActivityAt", "lastActivityAt"),
                ("lastCustomerActivityAt", "lastCustomerActivityAt"), ("lastSeenAt", "lastSeenAt"),
                ("importedAt", "importedAt"), ("avatarUrl", "avatar"), ("gender", "gender"), ("tags", "tags"),
                ("socials", "socials"), ("sentiment", "sentiment"), ("whatsapps", "whatsapps"),
                ("facebookIds", "facebookIds"), ("instagramIds", "instagramIds"), ("timeZone", "timeZone"),
                ("rev", "rev"), ("custom", "customObject"), ("defaultLang", "defaultLanguage"))

# The digest (bench.compare.mappings_digest) of the mappings/kustomer this baseline was written for:
# when the folder differs, the benchmark and tests/test_bench.py skip the comparison and say why.
# After changing both, record the new digest: python -m bench --digest mappings/kustomer
MAPPINGS_SHA256 = "52cf363f8924a9513804053c57dd8c3879e6d21d0ac6584449459ac309edf8c5"


class Invalid(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def check_settings(settings: dict[str, Any]) -> None:
    """What the settings schema in destination.yaml refuses, by hand: one pass over the settings."""
    api_key = settings.get("apiKey")
    if api_key.__class__ is not str or not api_key:
        raise Invalid("apiKey")
    for name, value in settings.items():
        if name in BOOLEAN_SETTINGS:
            if value.__class__ is not bool:
                raise Invalid(name)
        elif name == "baseEndpoint" or name == "orgPod":
            if value.__class__ is not str or not (BASE_ENDPOINT if name == "baseEndpoint" else ORG_POD).fullmatch(value) \
                    or not sendable(value):
                raise Invalid(name)
        elif name == "identifyStrategy":
            if value not in ("lookup", "trackingIdentity"):
                raise Invalid(name)
        else:  # apiKey (a string, checked above; its text here) and any setting the schema leaves open
            check_plain(value, 1)


def sendable(text: str) -> bool:
    """Text that encodes as UTF-8 (no lone surrogate). The settings the request's host and headers
    are made of (baseEndpoint; apiKey, through check_plain) are checked with it, so that only the
    body is checked per request."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_plain(value: Any, depth: int) -> None:
    """A setting the schema leaves open must still be JSON that can be sent: no NaN or infinity,
    no lone surrogate, no nesting past MAX_DEPTH."""
    cls = value.__class__
    if cls is str:
        if not sendable(value):
            raise Invalid("not valid Unicode")
    elif cls is float:
        if not math.isfinite(value):
            raise Invalid("not a finite number")
    elif cls is dict or cls is list:
        if depth >= MAX_DEPTH:
            raise Invalid("nested too deep")
        for item in (*value, *value.values()) if cls is dict else value:
            check_plain(item, depth + 1)


def host_and_auth(settings: dict[str, Any]) -> tuple[str, str]:
    key = (settings.get("baseEndpoint"), settings.get("orgPod"), settings["apiKey"])
    known = _HOSTS.get(key)
    if known is None:
        endpoint, pod, api_key = key
        base = endpoint or (f"https://api.{pod}.kustomerapp.com" if pod and pod != "prod1" else US)
        known = _HOSTS[key] = (base, f"Bearer {api_key}")
    return known


def copy_json(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON value found ``depth`` levels down in what was read, sharing nothing with
    it; non-finite numbers and nesting past MAX_DEPTH refused."""
    cls = value.__class__
    if cls is dict:
        if depth >= MAX_DEPTH:
            raise Invalid("nested too deep")
        return {k: v if v.__class__ in SCALARS else copy_json(v, depth + 1) for k, v in value.items()}
    if cls is list:
        if depth >= MAX_DEPTH:
            raise Invalid("nested too deep")
        return [v if v.__class__ in SCALARS else copy_json(v, depth + 1) for v in value]
    if cls is float and not math.isfinite(value):
        raise Invalid("not a finite number")
    return value


def check_depth(value: dict[str, Any] | list[Any], depth: int) -> None:
    """Refuse an object or array nested past MAX_DEPTH (the JSON encoder's own limit is deeper)."""
    if depth >= MAX_DEPTH:
        raise Invalid("nested too deep")
    for item in value.values() if value.__class__ is dict else value:
        if item.__class__ is dict or item.__class__ is list:
            check_depth(item, depth + 1)


def bounded(text: str) -> str:
    """A template's text, refused past MAX_TEXT characters."""
    if len(text) > MAX_TEXT:
        raise Invalid("text too long")
    return text


def escaped(value: Any) -> str:
    """A value as one URL path segment: percent-encoded but for letters, digits, ``-_.~@``. Most ids
    are made of those alone, and a regex finds that faster than quote() would give it back unchanged."""
    value = text(value)
    return value if URL_SAFE(value) else quote(value, safe="@")


def text(value: Any) -> str:
    """A value put into text: numbers as JSON writes them, booleans as true and false; an
    object or array refused."""
    if value.__class__ is str:
        return value
    if value.__class__ is dict or value.__class__ is list:
        raise Invalid("not text")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    try:
        return str(value)
    except ValueError:  # an integer past Python's digit limit: it can never be sent either
        raise Invalid("an integer too long to write") from None


def request(method: str, endpoint: str, auth: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1", "type": "REST", "method": method, "endpoint": endpoint,
            "headers": {"Content-Type": "application/json", "Authorization": auth},
            "params": {}, "body": {"JSON": body, "JSON_ARRAY": {}, "XML": {}, "FORM": {}}, "files": {}, "userId": ""}


def transform(event: dict[str, Any], settings: dict[str, Any], lookup: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise Invalid("message")
    if not isinstance(settings, dict):
        raise Invalid("settings")
    check_settings(settings)
    kind = event.get("type")
    if kind.__class__ is not str or (kind := kind.lower()) not in TYPES:
        raise Invalid("type")
    base, auth = host_and_auth(settings)
    try:
        if kind == "identify":
            out = identify(event, base, auth, lookup)
        else:
            out = request("POST", base + "/v1/tracking/identityEvent", auth, tracking(event, kind, settings))
    except ValueError:  # the one JSON encoder met a non-finite number in a list or object
        raise Invalid("not a finite number") from None
    body = out["body"]["JSON"]  # the rest is made of settings checked above and ASCII (escaped ids)
    try:
        orjson.dumps(body)  # every output can be sent: no lone surrogate anywhere
    except orjson.JSONEncodeError:  # or an integer past 64 bits, which the standard library writes
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, ValueError):  # a lone surrogate; an integer past the digit limit
            raise Invalid("not JSON that can be sent") from None
    return out


def process_one(item: dict[str, Any], lookup: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    return processor_result(transform, item, lookup)


def processor_result(transform: Callable[..., dict[str, Any]], item: dict[str, Any], lookup: Any) -> dict[str, Any]:
    """The processor shape by hand: one input (message, destination.Config, metadata) to one result;
    an input of another shape is refused in its place."""
    if not isinstance(item, dict):
        return {"error": "input", "statusCode": 400, "metadata": None}
    metadata = item.get("metadata")
    destination = item.get("destination")
    config = destination.get("Config", NO_CONFIG) if isinstance(destination, dict) else NO_CONFIG
    if config is NO_CONFIG:
        return {"error": "destination.Config", "statusCode": 400, "metadata": metadata}
    try:
        output = transform(item.get("message"), config, lookup)
    except Invalid as exc:
        return {"error": str(exc), "statusCode": exc.status, "metadata": metadata}
    return {"output": output, "statusCode": 200, "metadata": metadata}


def own(value: Any) -> Any:
    return value if value.__class__ in SCALARS else copy_json(value)


def first_given(*values: Any) -> Any:
    """The first value that is present and not empty, as the output's own copy."""
    for value in values:
        if value is not None and value != "":
            return own(value)
    return None


def parts(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """context, traits and context.traits, each an empty dict where the event has no object."""
    context = event.get("context")
    context = context if isinstance(context, dict) else EMPTY
    traits = event.get("traits")
    context_traits = context.get("traits")
    return (context, traits if isinstance(traits, dict) else EMPTY,
            context_traits if isinstance(context_traits, dict) else EMPTY)


def user_id_only(event: dict[str, Any], traits: dict[str, Any], context_traits: dict[str, Any]) -> Any:
    value = event.get("userId")
    if value is not None and value != "":
        return own(value)
    return first_given(traits.get("userId"), traits.get("id"), context_traits.get("userId"), context_traits.get("id"))


def merged_traits(traits: dict[str, Any], context_traits: dict[str, Any]) -> dict[str, Any]:
    """One dict to read traits from: a trait under traits, else under context.traits (most events
    have only one of the two, which is then used as it is)."""
    if not context_traits:
        return traits
    if not traits:
        return context_traits
    merged = dict(context_traits)
    for key, value in traits.items():
        if value is not None and value != "":
            merged[key] = value
    return merged


def identify(event: dict[str, Any], base: str, auth: str, lookup: Callable[..., Any]) -> dict[str, Any]:
    context, t, ct = parts(event)
    traits = merged_traits(t, ct)
    get = traits.get
    body: dict[str, Any] = {}
    name = first_given(get("name"))
    if name is None:
        first_name = first_given(get("firstName"), get("firstname"), get("first_name"))
        last_name = first_given(get("lastName"), get("lastname"), get("last_name"))
        if first_name is not None and last_name is not None:
            name = bounded(f"{text(first_name)} {text(last_name)}")
    if name is not None:
        body["name"] = name
    user_id = user_id_only(event, t, ct)
    external_id = user_id if user_id is not None else first_given(event.get("anonymousId"))
    if external_id is None:
        raise Invalid("userId")
    body["externalId"] = external_id
    company = t.get("company")
    company = first_given(company.get("name") if isinstance(company, dict) else None,
                          ct["company"].get("name") if isinstance(ct.get("company"), dict) else None,
                          company, ct.get("company"))
    if company is not None:
        body["company"] = company
    for key, field in TRAIT_FIELDS:
        value = get(field)
        if value is not None and value != "":
            body[key] = value if value.__class__ in SCALARS else copy_json(value)
    if "custom" in body and body["custom"].__class__ is not dict:
        raise Invalid("customObject")
    locale = context.get("locale")
    if locale is not None and locale != "":
        body["locale"] = own(locale)
    properties = event.get("properties")
    properties = properties if isinstance(properties, dict) else EMPTY
    email = first_given(get("email"), properties.get("email"))
    emails = first_given(get("emails"))
    if emails is None and email is not None:
        emails = [{"type": "home", "email": email}]
    if emails is not None:
        body["emails"] = emails
    phones = first_given(get("phones"))
    if phones is None:
        phone = first_given(get("phone"), properties.get("phone"))
        phones = None if phone is None else [{"type": "home", "phone": phone}]
    if phones is not None:
        body["phones"] = phones
    website = first_given(get("website"), properties.get("website"))
    if website is not None:
        body["urls"] = [{"url": website}]
    address = first_given(get("address"))
    if isinstance(address, dict):
        address = " ".join([text(address[k]) for k in ("street", "city", "state", "postalCode")
                            if address.get(k) not in (None, "")]) or None
    elif address is not None and address.__class__ is not str:
        raise Invalid("address")
    if address is not None:
        body["locations"] = [{"type": "home", "address": address}]
    birthday = first_given(get("dob"), get("birthday"))
    if birthday is not None:
        body["birthdayAt"] = birthday
    customer = known_customer(context)
    if customer is None:
        customer = find_customer(event, email, user_id, base, auth, lookup)
    if customer is None:
        return request("POST", base + "/v1/customers", auth, body)
    return request("PUT", bounded(f"{base}/v1/customers/{escaped(customer)}?replace=false"), auth, body)


def known_customer(context: dict[str, Any]) -> Any:
    """A kustomerId in context.externalId."""
    refs = context.get("externalId")
    if refs.__class__ is list:
        for ref in refs:
            if ref.__class__ is dict and ref.get("type") == "kustomerId" and ref.get("id") is not None:
                return first_given(ref["id"])  # the first such id: an empty one is none
    return None


def find_customer(event: dict[str, Any], email: Any, user_id: Any, base: str, auth: str,
                  lookup: Callable[..., Any]) -> Any:
    """The look-ups by email, userId, anonymousId: the first found wins, a 404 tries the next."""
    for kind, value in (("email", email), ("externalId", user_id), ("externalId", ANONYMOUS)):
        if value is ANONYMOUS:  # read only when the look-ups before found nothing (refused only then)
            value = first_given(event.get("anonymousId"))
        if value is None or value == "":
            continue
        get = {"version": "1", "type": "REST", "method": "GET",
               "endpoint": bounded(f"{base}/v1/customers/{kind}={escaped(value)}"),
               "headers": {"Content-Type": "application/json", "Authorization": auth},
               "params": {}, "body": {"JSON": {}, "JSON_ARRAY": {}, "XML": {}, "FORM": {}}, "files": {}, "userId": "",
               "lookup": {"kind": kind, "value": value}}  # what is looked up, as data: a caller may answer from a table
        try:
            answer = lookup(get)
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - the caller's function failed: this event's error only
            raise Invalid("the lookup function raised", 502) from None
        if isinstance(answer, (tuple, list)) and len(answer) == 2:
            status, body = answer
        else:
            raise Invalid("a lookup answer is (status, body)", 502)
        if status.__class__ is not int:
            raise Invalid("a lookup status is an integer", 502)
        if status == 200:
            return found_id(body)
        if status != 404:
            raise Invalid(f"lookup {status}", status if 400 <= status <= 599 else 502)
    return None


def found_id(body: Any) -> Any:
    """The id a look-up found: data.id of its body (or the value the caller found itself), a
    string or a finite number; anything else is the look-up's failure."""
    if isinstance(body, Found):
        found = body.value
    else:
        data = body.get("data") if isinstance(body, dict) else None
        found = data.get("id") if isinstance(data, dict) else None
    cls = found.__class__
    try:
        if cls is str and found and (found.isascii() or found.encode("utf-8")):  # no lone surrogate
            return found
        if cls is int and str(found) or cls is float and math.isfinite(found):  # an int Python can write
            return found
    except (UnicodeEncodeError, ValueError):
        pass
    raise Invalid("a lookup found no usable id", 502)


def tracking(event: dict[str, Any], kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The {identity, event} body of a track, page or screen."""
    context, t, ct = parts(event)
    properties = event.get("properties")
    p = properties if isinstance(properties, dict) else EMPTY
    user_id = user_id_only(event, t, ct)
    if user_id is None:
        user_id = first_given(event.get("anonymousId"))
    email = first_given(t.get("email"), ct.get("email"), p.get("email"))
    identity: dict[str, Any] = {}
    if user_id is not None:
        identity["externalId"] = user_id
    if email is not None and (user_id is None or settings.get("setIdentityEmail")):
        identity["email"] = email
    if not identity:
        raise Invalid("identity")
    advanced = settings.get("advancedTransform")
    out: dict[str, Any] = {"name": event_name(event, kind, p, settings, advanced)}
    session = first_given(p.get("kustomerSessionId"), p.get("kustomer_session_id"), context.get("sessionId"))
    if session is not None:
        out["sessionId"] = session
    tracking_id = first_given(p.get("kustomerTrackingId"), p.get("kustomer_tracking_id"))
    if tracking_id is not None:
        out["trackingId"] = tracking_id
    if properties is not None and properties != "":
        if properties.__class__ is not dict:
            raise Invalid("properties")
        for key in SESSION_KEYS:  # left out of meta, but read (and refused) as the rest of properties
            value = properties.get(key)
            if value is not None and value.__class__ not in SCALARS:
                copy_json(value, 1)
        if advanced:
            meta = typed_meta(properties)
        else:
            meta = {k: v if v.__class__ in SCALARS else copy_json(v, 1) for k, v in properties.items() if k not in SESSION_KEYS}
        if settings.get("setIdentityEmail") and settings.get("disableEmailAsTrackingProperty"):
            meta.pop("email", None)
        out["meta"] = meta
    return {"identity": identity, "event": out}


def event_name(event: dict[str, Any], kind: str, p: dict[str, Any], settings: dict[str, Any], advanced: Any) -> Any:
    if kind == "track":
        name = first_given(event.get("event"))
        if name is None:
            raise Invalid("event")
    else:
        prefix = "Web-Page-Viewed" if kind == "page" else "Screen-Viewed"
        if settings.get("genericPage" if kind == "page" else "genericScreen"):
            return prefix
        value = first_given(event.get("event"), p.get("event"), event.get("name"), p.get("name"))
        name = prefix if value is None else f"{prefix}-{text(value)}".rstrip()
    if not advanced:
        return name
    if name.__class__ is not str:  # a track's event that is not text cannot be dasherized
        raise Invalid("event")
    # str.split() and re's \s agree on what whitespace is: runs of it become one dash.
    return "-".join(name.split())


def typed_meta(properties: dict[str, Any]) -> dict[str, Any]:
    """advancedTransform: keys dasherized; numbers ...Num, ISO 8601 strings ...At, booleans as
    text, lists as their items' JSON joined with commas, objects as JSON."""
    if len(_DASHED) > 4096:
        _DASHED.clear()
    meta: dict[str, Any] = {}
    left_out = 0
    for key, value in properties.items():
        if key in SESSION_KEYS:
            left_out += 1
            continue
        dashed = _DASHED.get(key)
        if dashed is None:
            dashed = _DASHED[key] = "-".join(key.split())
        cls = value.__class__
        if cls is str:
            # Only a string starting with a digit can be a date: the regex runs on those alone.
            if value[:1].isdigit() and ISO_8601.fullmatch(value) and not dashed.endswith("At"):
                dashed += "At"
        elif cls is bool:
            value = "true" if value else "false"
        elif cls is int or cls is float:
            if cls is float and not math.isfinite(value):
                raise Invalid("not a finite number")
            if not dashed.endswith("Num"):
                dashed += "Num"
        elif cls is list:
            check_depth(value, 1)
            value = ",".join([COMPACT(v) for v in value])
        elif cls is dict:
            check_depth(value, 1)
            value = COMPACT(value)
        meta[dashed] = value
    if len(meta) != len(properties) - left_out:  # two keys became one ("a b" and "a-b", "n" and "nNum")
        raise Invalid("keys collide")
    return meta
