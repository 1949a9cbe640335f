"""Kustomer written by hand in straight-line Python: the benchmark's baseline, nothing else.

It does what mappings/kustomer/*.yaml do for valid events, including what the engine promises
(settings of the wrong type or shape are refused, the output shares no object with the input, is
strict JSON, and encodes as UTF-8: a lone surrogate is refused), so the two are compared on equal
terms. The benchmark checks that both give equal output on its events.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson

US = "https://api.kustomerapp.com"
SESSION_KEYS = ("kustomerSessionId", "kustomer_session_id", "kustomerTrackingId", "kustomer_tracking_id")
USER_ID_ONLY = (("userId",), ("traits", "userId"), ("traits", "id"), ("context", "traits", "userId"), ("context", "traits", "id"))
USER_ID = USER_ID_ONLY + (("anonymousId",),)
EMAIL = (("traits", "email"), ("context", "traits", "email"), ("properties", "email"))
PHONE = (("traits", "phone"), ("context", "traits", "phone"), ("properties", "phone"))
WEBSITE = (("traits", "website"), ("context", "traits", "website"), ("properties", "website"))
ISO_8601 = re.compile(r"\d{4}(-\d\d(-\d\d([Tt]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)?)?)?)?")
WHITESPACE = re.compile(r"\s+")
SAME_NAMED = ("lastActivityAt", "lastCustomerActivityAt", "lastSeenAt", "importedAt", "gender", "tags", "socials",
              "sentiment", "whatsapps", "facebookIds", "instagramIds", "timeZone", "rev")


BOOLEAN_SETTINGS = ("genericPage", "genericScreen", "advancedTransform", "setIdentityEmail",
                    "disableEmailAsTrackingProperty", "customAttributes", "strictPayloads")
BASE_ENDPOINT = re.compile(r"https?://\S*[^/\s]")
ORG_POD = re.compile(r"prod[0-9]+")


class Invalid(Exception):
    pass


def check_settings(settings: dict[str, Any]) -> None:
    """What the settings schema in destination.yaml refuses, by hand."""
    api_key = settings.get("apiKey")
    if api_key.__class__ is not str or not api_key:
        raise Invalid("apiKey")
    for name in BOOLEAN_SETTINGS:
        if settings.get(name, False).__class__ is not bool:
            raise Invalid(name)
    for name, pattern in (("baseEndpoint", BASE_ENDPOINT), ("orgPod", ORG_POD)):
        if name in settings and (settings[name].__class__ is not str or not pattern.fullmatch(settings[name])):
            raise Invalid(name)
    if settings.get("identifyStrategy", "lookup") not in ("lookup", "trackingIdentity"):
        raise Invalid("identifyStrategy")


def copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("not a finite number")
    return value


def first(event: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> Any:
    for path in paths:
        value: Any = event
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
            if value is None:
                break
        if value is not None and value != "":
            return copy_json(value)
    return None


def both(event: dict[str, Any], *names: str) -> Any:
    return first(event, tuple(p for name in names for p in (("traits", name), ("context", "traits", name))))


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def host(settings: dict[str, Any]) -> str:
    if settings.get("baseEndpoint"):
        return str(settings["baseEndpoint"])
    pod = settings.get("orgPod")
    if pod and pod != "prod1":
        return f"https://api.{pod}.kustomerapp.com"
    return US


def request(method: str, endpoint: str, settings: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {"version": "1", "type": "REST", "method": method, "endpoint": endpoint,
            "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {settings['apiKey']}"},
            "params": {}, "body": {"JSON": body, "JSON_ARRAY": {}, "XML": {}, "FORM": {}}, "files": {}, "userId": ""}


def transform(event: dict[str, Any], settings: dict[str, Any], lookup: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise Invalid("settings")
    check_settings(settings)
    kind = event["type"].lower()
    base = host(settings)
    out = identify(event, settings, base, lookup) if kind == "identify" else tracking(event, kind, settings, base)
    try:
        orjson.dumps(out)  # every output can be sent: no lone surrogate anywhere
    except orjson.JSONEncodeError:  # or an integer past 64 bits, which the standard library writes
        try:
            json.dumps(out, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("not valid Unicode") from None
    return out


def identify(event: dict[str, Any], settings: dict[str, Any], base: str, lookup: Callable[..., Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    name = both(event, "name")
    if name is None:
        first_name = both(event, "firstName", "firstname", "first_name")
        last_name = both(event, "lastName", "lastname", "last_name")
        if first_name is not None and last_name is not None:
            name = f"{text(first_name)} {text(last_name)}"
    if name is not None:
        body["name"] = name
    external_id = first(event, USER_ID)
    if external_id is None:
        raise Invalid("userId")
    body["externalId"] = external_id
    for key, source in (("username", ("userName",)), ("company", ()), ("signedUpAt", ("createdAt",)),
                        *((n, (n,)) for n in SAME_NAMED[:4]), ("avatarUrl", ("avatar",)), *((n, (n,)) for n in SAME_NAMED[4:])):
        value = both(event, *source) if source else first(event, (("traits", "company", "name"), ("context", "traits", "company", "name"),
                                                                     ("traits", "company"), ("context", "traits", "company")))
        if value is not None:
            body[key] = value
    locale = first(event, (("context", "locale"),))
    if locale is not None:
        body["locale"] = locale
    email = first(event, EMAIL)
    emails = both(event, "emails")
    if emails is None and email is not None:
        emails = [{"type": "home", "email": email}]
    if emails is not None:
        body["emails"] = emails
    phones = both(event, "phones")
    if phones is None:
        phone = first(event, PHONE)
        phones = None if phone is None else [{"type": "home", "phone": phone}]
    if phones is not None:
        body["phones"] = phones
    website = first(event, WEBSITE)
    if website is not None:
        body["urls"] = [{"url": website}]
    address = both(event, "address")
    if isinstance(address, dict):
        parts = [text(address[k]) for k in ("street", "city", "state", "postalCode") if address.get(k) not in (None, "")]
        address = " ".join(parts) if parts else None
    if address is not None:
        body["locations"] = [{"type": "home", "address": address}]
    for key, names in (("birthdayAt", ("dob", "birthday")), ("custom", ("customObject",)), ("defaultLang", ("defaultLanguage",))):
        value = both(event, *names)
        if value is not None:
            body[key] = value

    customer = None
    for ref in (event.get("context") or {}).get("externalId") or ():
        if isinstance(ref, dict) and ref.get("type") == "kustomerId":
            customer = ref.get("id")
            break
    if customer is None:
        user_id = first(event, USER_ID_ONLY)
        for kind, value in (("email", email), ("externalId", user_id), ("externalId", event.get("anonymousId"))):
            if value is None:
                continue
            url = f"{base}/v1/customers/{kind}={quote(text(value), safe='@')}"
            get = {"version": "1", "type": "REST", "method": "GET", "endpoint": url,
                   "headers": {"Content-Type": "application/json", "Authorization": f"Bearer {settings['apiKey']}"},
                   "params": {}, "body": {"JSON": {}, "JSON_ARRAY": {}, "XML": {}, "FORM": {}}, "files": {}, "userId": ""}
            status, answer = lookup(get)
            if status == 200:
                customer = answer["data"]["id"]
                break
            if status != 404:
                raise Invalid(f"lookup {status}")
    if customer is None:
        return request("POST", f"{base}/v1/customers", settings, body)
    return request("PUT", f"{base}/v1/customers/{quote(text(customer), safe='@')}?replace=false", settings, body)


def tracking(event: dict[str, Any], kind: str, settings: dict[str, Any], base: str) -> dict[str, Any]:
    user_id = first(event, USER_ID)
    email = first(event, EMAIL)
    identity: dict[str, Any] = {}
    if user_id is not None:
        identity["externalId"] = user_id
    if email is not None and (settings.get("setIdentityEmail") or user_id is None):
        identity["email"] = email
    if not identity:
        raise Invalid("identity")
    if kind == "track":
        name = first(event, (("event",),))
        if name is None:
            raise Invalid("event")
    else:
        prefix = "Web-Page-Viewed" if kind == "page" else "Screen-Viewed"
        if settings.get("genericPage" if kind == "page" else "genericScreen"):
            name = prefix
        else:
            value = first(event, (("event",), ("properties", "event"), ("name",), ("properties", "name")))
            name = prefix if value is None else f"{prefix}-{text(value)}".rstrip()
    advanced = settings.get("advancedTransform")
    if advanced:
        name = WHITESPACE.sub("-", name.strip())
    out: dict[str, Any] = {"name": name}
    session = first(event, (("properties", "kustomerSessionId"), ("properties", "kustomer_session_id"), ("context", "sessionId")))
    if session is not None:
        out["sessionId"] = session
    tracking_id = first(event, (("properties", "kustomerTrackingId"), ("properties", "kustomer_tracking_id")))
    if tracking_id is not None:
        out["trackingId"] = tracking_id
    properties = event.get("properties")
    if properties is not None and properties != "":
        meta = {k: copy_json(v) for k, v in properties.items() if k not in SESSION_KEYS}
        if advanced:
            typed: dict[str, Any] = {}
            for key, value in meta.items():
                key = WHITESPACE.sub("-", key.strip())
                if isinstance(value, bool):
                    value = "true" if value else "false"
                elif isinstance(value, (int, float)):
                    key = key if key.endswith("Num") else key + "Num"
                elif isinstance(value, str) and ISO_8601.fullmatch(value):
                    key = key if key.endswith("At") else key + "At"
                elif isinstance(value, list):
                    value = ",".join(json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in value)
                elif isinstance(value, dict):
                    value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                typed[key] = value
            meta = typed
        if settings.get("setIdentityEmail") and settings.get("disableEmailAsTrackingProperty"):
            meta.pop("email", None)
        out["meta"] = meta
    return request("POST", f"{base}/v1/tracking/identityEvent", settings, {"identity": identity, "event": out})


def process_one(item: dict[str, Any], lookup: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """The processor shape by hand: one input (message, destination.Config, metadata) to one result."""
    metadata = item.get("metadata")
    try:
        output = transform(item["message"], item["destination"]["Config"], lookup)
    except Invalid as exc:
        return {"error": str(exc), "statusCode": 400, "metadata": metadata}
    return {"output": output, "statusCode": 200, "metadata": metadata}
