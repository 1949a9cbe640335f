"""The generated code transform runs and the tracing copy explain runs must agree on every event.

The code transform runs is optimised: a missing key reads as None, paths that read one key under
two objects (``[traits.X, context.traits.X]``) read their merge, a path rule stores straight into
its object, settings conditions run once per function, let bindings are written into the rules that
use them, look-ups are asked inline. The tracing copy does none of that: it reads each path apart,
calls each let binding's function and tests each condition where it stands. So the two are a check
on each other, here on events hypothesis makes with every field missing, null, empty, a scalar or a
container, under a spread of settings.
"""
from __future__ import annotations

import zlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transformer

KUSTOMER = transformer.load("kustomer")
SEGMENT = transformer.load("segment")

SCALAR = st.one_of(st.none(), st.just(""), st.text(max_size=6), st.integers(-5, 10**6), st.booleans(),
                   st.floats(allow_nan=False, allow_infinity=False, width=32))
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
    ["name", "street", "city", "state", "postalCode", "id", "type", "x"]), inner, max_size=3), max_leaves=6)
TRAIT_KEYS = ["name", "firstName", "firstname", "lastName", "last_name", "email", "phone", "userName", "company",
              "createdAt", "lastSeenAt", "avatar", "gender", "tags", "timeZone", "website", "address", "birthday",
              "dob", "customObject", "defaultLanguage", "rev", "userId", "id", "emails", "phones", "plan"]
PROPERTY_KEYS = ["kustomerSessionId", "kustomer_session_id", "kustomerTrackingId", "email", "event", "name", "price",
                 "plan type", "when", "items", "blob"]
TRAITS = st.one_of(st.none(), st.just(""), st.dictionaries(st.sampled_from(TRAIT_KEYS), VALUE, max_size=8))


@st.composite
def events(draw: Any, types: list[str]) -> dict[str, Any]:
    event: dict[str, Any] = {"type": draw(st.sampled_from(types))}
    for key in ("userId", "anonymousId", "messageId", "event", "name", "previousId", "groupId", "timestamp"):
        if draw(st.booleans()):
            event[key] = draw(SCALAR)
    if draw(st.booleans()):
        event["traits"] = draw(TRAITS)
    if draw(st.booleans()):
        context: dict[str, Any] = {"traits": draw(TRAITS)} if draw(st.booleans()) else {}
        if draw(st.booleans()):
            context["externalId"] = draw(st.lists(st.fixed_dictionaries(
                {"type": st.sampled_from(["kustomerId", "other"]), "id": SCALAR}), max_size=2))
        for key in ("locale", "sessionId"):
            if draw(st.booleans()):
                context[key] = draw(SCALAR)
        event["context"] = context
    if draw(st.booleans()):
        event["properties"] = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(PROPERTY_KEYS), VALUE,
                                                                          max_size=6)))
    return event


def lookup(request: dict[str, Any]) -> tuple[int, Any]:
    """Found, not found or failing, by the URL: the same answer for the same URL every time."""
    bucket = zlib.crc32(request["endpoint"].encode("utf-8", "surrogatepass")) % 10
    return (200, {"data": {"id": f"c{bucket}"}}) if bucket < 3 else (404, None) if bucket < 9 else (500, None)


FLAGS = ["genericPage", "genericScreen", "advancedTransform", "setIdentityEmail", "disableEmailAsTrackingProperty",
         "strictPayloads", "customAttributes"]
KUSTOMER_SETTINGS = st.builds(lambda flags, strategy: {"apiKey": "Secret-Key-7Q", **{flag: True for flag in flags},
                                                       "identifyStrategy": strategy},
                              st.sets(st.sampled_from(FLAGS)), st.sampled_from(["lookup", "trackingIdentity"]))
SEGMENT_SETTINGS = st.sampled_from([{"writeKey": "Write-Key-9Z"}, {"writeKey": "Write-Key-9Z", "region": "eu"},
                                    {"writeKey": "Write-Key-9Z", "maxEventBytes": 600}])


def outcome_of_transform(destination: transformer.Destination, event: Any, config: Any) -> Any:
    try:
        request = destination.transform(event, config, lookup=lookup)
    except transformer.TransformError as exc:
        return ("error", exc.status_code, exc.message)
    return ("request", request["method"], request["endpoint"], request["params"], request["body"])


def outcome_of_explain(destination: transformer.Destination, event: Any, config: Any) -> Any:
    explained = destination.explain(event, config, lookup=lookup)
    if "error" in explained:
        return ("error", explained["error"]["status_code"], explained["error"]["message"])
    request = explained["request"]
    return ("request", request["method"], request["endpoint"], request["params"], request["body"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(["identify", "track", "page", "screen"]), KUSTOMER_SETTINGS)
def test_kustomer_transform_and_explain_agree(event: dict[str, Any], config: dict[str, Any]) -> None:
    assert outcome_of_transform(KUSTOMER, event, config) == outcome_of_explain(KUSTOMER, event, config)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events(["identify", "track", "page", "screen", "group", "alias"]), SEGMENT_SETTINGS)
def test_segment_transform_and_explain_agree(event: dict[str, Any], config: dict[str, Any]) -> None:
    assert outcome_of_transform(SEGMENT, event, config) == outcome_of_explain(SEGMENT, event, config)


def test_a_trait_under_both_objects_is_read_as_the_path_list_says() -> None:
    """[traits.X, context.traits.X]: traits' present value wins; a null or empty one there falls
    through to context.traits; the input is left as it was."""
    config = {"apiKey": "Secret-Key-7Q", "identifyStrategy": "trackingIdentity"}
    event = {"type": "identify", "userId": "u", "traits": {"email": "a@x.io", "phone": None, "userName": ""},
             "context": {"traits": {"email": "b@x.io", "phone": "+1555", "userName": "ctx", "timeZone": "UTC"}}}
    before = repr(event)
    body = KUSTOMER.transform(event, config)["body"]["JSON"]
    assert (body["email"], body["phone"], body["username"], body["timeZone"]) == ("a@x.io", "+1555", "ctx", "UTC")
    assert repr(event) == before
    assert outcome_of_transform(KUSTOMER, event, config) == outcome_of_explain(KUSTOMER, event, config)


def test_settings_conditions_are_computed_once_per_settings_value_and_read_per_event() -> None:
    """A generated function's settings-only conditions run in a function of their own, once per
    settings value and event type; their values are kept with that state and read at every event."""
    event = {"type": "track", "userId": "u", "event": "Order Completed", "properties": {"plan type": "pro"}}
    advanced, plain = {"apiKey": "flags-k", "advancedTransform": True}, {"apiKey": "flags-k"}
    for _ in range(3):  # alternating settings values: each event reads its own settings' conditions
        assert KUSTOMER.transform(event, dict(advanced))["body"]["JSON"]["event"] == {
            "name": "Order-Completed", "meta": {"plan-type": "pro"}}
        assert KUSTOMER.transform(event, dict(plain))["body"]["JSON"]["event"] == {
            "name": "Order Completed", "meta": {"plan type": "pro"}}
    identify = {"type": "identify", "userId": "u"}
    for _ in range(2):  # a case on a setting (identifyStrategy) is read once per settings value too
        assert KUSTOMER.transform(identify, {**plain, "identifyStrategy": "trackingIdentity"})["endpoint"].endswith(
            "/v1/tracking/identity")
        assert KUSTOMER.transform(identify, dict(plain), lookup=lambda request: (404, None))["endpoint"].endswith(
            "/v1/customers")
    kept = {key: value for key, value in KUSTOMER._settings.state(advanced).types["track"].static_vars.items()
            if key.startswith("#")}
    assert kept and all(value.__class__ is tuple for value in kept.values())
    assert any(True in value for value in kept.values())  # advancedTransform's condition, on
