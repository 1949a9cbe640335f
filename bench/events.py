"""A deterministic generator of realistic events, and the spread of settings they run with."""
from __future__ import annotations

import copy
import hashlib
import random
import zlib
from typing import Any

import orjson

from transformer import Found

TYPES = ("identify", "track", "page", "screen")
US = "https://api.kustomerapp.com"

# The processor workload (issue 26): every input has its own settings, drawn from 64 combinations:
# each of five flags on with probability 0.35, and a second API host 30% of the time.
FLAGS = ("genericPage", "genericScreen", "advancedTransform", "setIdentityEmail", "disableEmailAsTrackingProperty")
SECOND_HOST = "https://api.prod2.kustomerapp.com"
# One settings object per combination: a pipeline passes the same object for each of its events.
SETTINGS: list[dict[str, Any]] = [
    {"apiKey": "bench-key", **({"baseEndpoint": SECOND_HOST} if combo & 32 else {}),
     **{flag: True for bit, flag in enumerate(FLAGS) if combo & (1 << bit)}}
    for combo in range(64)
]
# What `transformer run` in the benchmark runs with (one settings for a whole file).
CLI_SETTINGS: dict[str, Any] = {"apiKey": "bench-key-advanced", "advancedTransform": True}


def _settings(rng: random.Random) -> dict[str, Any]:
    combo = sum(1 << bit for bit in range(len(FLAGS)) if rng.random() < 0.35)
    return SETTINGS[combo | (32 if rng.random() < 0.3 else 0)]


_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def _value(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randrange(10_000)
    if kind == 1:
        return round(rng.uniform(0, 500), 2)
    if kind == 2:
        return f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:15:00Z"
    if kind == 3:
        return rng.random() < 0.5
    if kind == 4:
        return {"sku": f"SKU-{rng.randrange(999)}", "qty": rng.randrange(1, 5)}
    if kind == 5:
        return [rng.choice(_WORDS) for _ in range(rng.randrange(1, 4))]
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(1, 4)))


def _traits(rng: random.Random, n: int) -> dict[str, Any]:
    first, last = rng.choice(_WORDS).title(), rng.choice(_WORDS).title()
    pool: dict[str, Any] = {
        "email": f"{first.lower()}.{last.lower()}{rng.randrange(10_000)}@example.com",
        "firstName": first, "lastName": last, "phone": f"+1555{rng.randrange(10**7):07d}",
        "userName": f"{first.lower()}{rng.randrange(100)}", "company": {"name": f"{last} Inc", "employees": 40},
        "createdAt": "2023-05-06T07:08:09Z", "lastSeenAt": "2024-03-04T05:06:07Z", "avatar": "https://example.com/a.png",
        "gender": rng.choice(["m", "f"]), "tags": ["beta", rng.choice(_WORDS)], "timeZone": "Europe/Paris",
        "website": "https://example.com", "birthday": "1990-01-02",
        "address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "postalCode": "62701"},
        "customObject": {"planStr": "pro", "seatsNum": 5}, "defaultLanguage": "en", "rev": rng.randrange(10),
        "plan": "pro", "logins": rng.randrange(100),
    }
    keys = list(pool)
    rng.shuffle(keys)
    chosen = {"email", "firstName", "lastName"} | set(keys[: n - 3])
    return {k: pool[k] for k in keys if k in chosen}


def _properties(rng: random.Random, n: int) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if rng.random() < 0.5:
        props[rng.choice(["kustomerSessionId", "kustomer_session_id"])] = f"sess-{rng.randrange(10**6)}"
    if rng.random() < 0.3:
        props["kustomerTrackingId"] = f"trk-{rng.randrange(10**6)}"
    if rng.random() < 0.3:
        props["email"] = f"p{rng.randrange(10**4)}@example.com"
    while len(props) < n:
        props[f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}" if rng.random() < 0.2 else f"{rng.choice(_WORDS)}{len(props)}"] = _value(rng)
    return props


def generate(count: int, seed: int = 7) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``count`` (event, settings) pairs: 25% of each type; the settings drawn from their own
    generator, so the events do not depend on the settings mix."""
    rng = random.Random(seed)
    settings_rng = random.Random(seed + 1)
    pairs = []
    for index in range(count):
        kind = TYPES[index % 4]
        event: dict[str, Any] = {"type": kind, "messageId": f"m-{index}", "anonymousId": f"anon-{rng.randrange(10**6)}",
                                 "timestamp": "2024-06-01T12:00:00Z", "context": {"locale": "en-US",
                                 "library": {"name": "analytics.js", "version": "2.11.1"}}}
        if rng.random() < 0.9:
            event["userId"] = f"user-{rng.randrange(10**6)}"
        if kind == "identify":
            traits = _traits(rng, rng.randrange(10, 21))
            if rng.random() < 0.5:
                event["traits"] = traits
            else:
                event["context"]["traits"] = traits
            if rng.random() < 0.25:
                event["context"]["externalId"] = [{"type": "kustomerId", "id": f"k-{rng.randrange(10**6)}"}]
        else:
            event["properties"] = _properties(rng, rng.randrange(5, 16))
            if kind == "track":
                event["event"] = rng.choice(["Order Completed", "Product Viewed", "Signed Up", " Cart  Updated "])
            else:
                event["name"] = rng.choice(["Home", "Pricing", "Product Detail", "Checkout "])
            if rng.random() < 0.3:
                event["context"]["sessionId"] = rng.randrange(10**12)
        pairs.append((event, _settings(settings_rng)))
    return pairs


def lookup_answers(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Canned look-up answers: every third identified user is found by userId."""
    answers: dict[str, Any] = {}
    for index, (event, _) in enumerate(pairs):
        if event["type"] == "identify" and "userId" in event and index % 3 == 0:
            answers[f"{US}/v1/customers/externalId={event['userId']}"] = {"status": 200, "body": {"data": {"id": f"c{index}"}}}
    return answers


def mixed_lookup(request: dict[str, Any]) -> tuple[int, Any]:
    """Look-ups answered by a plain function of the URL (issue 26's mix): 30% found, 67% not
    found (404), 3% a server error (500), the same answer for the same URL every time."""
    url = request["endpoint"]
    bucket = zlib.crc32(url.encode("utf-8")) % 100
    if bucket < 30:
        return 200, {"data": {"id": f"c{bucket}-{len(url)}"}}
    return (404, None) if bucket < 97 else (500, None)


# Segment's workload: the same realistic events, a sixth of them turned into group and alias calls,
# 30% without a messageId (so it is derived), some numeric ids, channels, page categories,
# integrations, and one in 200 over the event size limit; under four settings.
SEGMENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")
SEGMENT_SETTINGS: list[dict[str, Any]] = [
    {"writeKey": "bench-write-key"},
    {"writeKey": "bench-write-key", "region": "eu"},
    {"writeKey": "bench-write-key-proxy", "endpoint": "https://proxy.example.com/v1"},
    {"writeKey": "bench-write-key-small", "maxEventBytes": 2000},
]


def generate_segment(count: int, seed: int = 7) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``count`` (event, settings) pairs for Segment, about a sixth of each type."""
    rng = random.Random(seed + 2)
    pairs = []
    for index, (event, _) in enumerate(generate(count, seed)):
        kind = SEGMENT_TYPES[index % 6]
        if kind == "group":
            event = {**event, "type": "group", "groupId": rng.choice([f"g-{rng.randrange(1000)}", rng.randrange(1000)]),
                     "traits": {"name": rng.choice(_WORDS).title(), "employees": rng.randrange(500)}}
            event.pop("properties", None)
        elif kind == "alias":
            event = {**event, "type": "alias", "previousId": f"anon-{rng.randrange(10**6)}",
                     "userId": event.get("userId") or rng.randrange(10**6)}
        if rng.random() < 0.3:
            event.pop("messageId")
        if rng.random() < 0.1 and "userId" in event:
            event["userId"] = rng.randrange(10**6)
        if rng.random() < 0.3:
            event["channel"] = rng.choice(["web", "server", "browser", "mobile"])
        if kind == "page" and rng.random() < 0.5:
            event["category"] = rng.choice(["Docs", "Shop", "Blog"])
        if rng.random() < 0.2:
            event["integrations"] = {"All": True, "Mixpanel": rng.random() < 0.5}
        if rng.random() < 0.005:
            event["properties"] = {"blob": "x" * 33_000}
        pairs.append((event, SEGMENT_SETTINGS[rng.randrange(len(SEGMENT_SETTINGS))]))
    return pairs


def _nested(depth: int, kind: type) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value} if kind is dict else [value]
    return value


# What a hostile or broken producer puts where a field should be: containers where text belongs,
# numbers JSON cannot carry (or only some encoders can), text past the engine's limits, nesting at
# and past its limit, lone surrogates in keys and values.
HOSTILE_VALUES: tuple[Any, ...] = (
    {"a": 1}, [1, "x"], [], {}, "", None, True, -0.0, 1.5, 1e300, 10**30, 12345678901234567890,
    float("nan"), float("inf"), "a\ud800", "  spaced  key ", "x" * 1_000_001,
    _nested(99, dict), _nested(100, dict), _nested(100, list), _nested(101, list),
    10**5000, 2**64, -2**63 - 1, 1e-7, 1e16, 5e-324, 123456789.0, "\ud800x", {"k\ud800": 1}, {"": 1}, ["a", None, ""])
_HOSTILE_KEYS = ("email", "name", "event", "firstName", "lastName", "address", "tags", "userId", "phone", "website",
                 "customObject", "kustomerSessionId", "kustomer_session_id", "kustomerTrackingId", "k e y", "k\ud800", "",
                 "company", "traits", "properties", "context", "anonymousId", "messageId", "category", "groupId",
                 "previousId", "channel", "timestamp", "originalTimestamp", "integrations", "externalId")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append((*prefix, key))
        found.extend(_paths(item, (*prefix, key)))
    return found


def hostile(pairs: list[tuple[dict[str, Any], Any]], count: int, seed: int = 11) -> list[tuple[dict[str, Any], Any]]:
    """``count`` events made from ``pairs``' by putting hostile values (HOSTILE_VALUES) at one or
    two of their paths, now and then under a key a mapping reads, and now and then under a key
    that a rewrite of keys makes another's: the engine and a baseline must treat each alike (the
    same request, or both a refusal with the same status)."""
    rng = random.Random(seed)
    out: list[tuple[dict[str, Any], Any]] = []
    for _ in range(count):
        event, settings = rng.choice(pairs)
        event = copy.deepcopy(event)
        for _ in range(rng.choice((1, 1, 2))):
            path = rng.choice([p for p in _paths(event) if p[0] != "type"])
            parent = event
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        if rng.random() < 0.2:
            holders = [event, *(v for k in ("properties", "traits", "context") if isinstance(v := event.get(k), dict))]
            rng.choice(holders)[rng.choice(_HOSTILE_KEYS)] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        if rng.random() < 0.1 and isinstance(properties := event.get("properties"), dict) and properties:
            # a key that becomes another's once rewritten ("a b" and "a-b", "n" and "nNum")
            key = rng.choice(list(properties))
            twin = rng.choice((key.replace(" ", "-"), key.replace(" ", "  "), key + "Num", key + "At"))
            properties[twin] = copy.deepcopy(rng.choice((*HOSTILE_VALUES, 1, "2024-01-02", "text", False)))
        out.append((event, settings))
    return out


MISSING_TYPE = object()  # hostile_inputs: an event without its type
NOT_MESSAGES: tuple[Any, ...] = (None, [], "x", 5)


def hostile_inputs(pairs: list[tuple[dict[str, Any], Any]], count: int) -> list[Any]:
    """Inputs a broken producer sends, made from the first ``count`` pairs: not an object, without
    a message or destination.Config, a message that is not an object, an event type missing, not
    text or not one the destination has. Each is refused in its place, never the batch's error."""
    out: list[Any] = [None, [1, 2], "event"]
    for event, settings in pairs[:count]:
        out += [{"message": event}, {"message": event, "destination": []}, {"message": event, "destination": {}},
                {"message": event, "destination": {"Config": None}}, {"destination": {"Config": settings}}]
        out += [{"message": message, "destination": {"Config": settings}} for message in NOT_MESSAGES]
        for kind in (MISSING_TYPE, None, 5, True, "", ["track"], {"a": 1}, "PAGE ", "group", "alias", "unknown",
                     event["type"].upper()):
            changed = copy.deepcopy(event)
            if kind is MISSING_TYPE:
                del changed["type"]
            else:
                changed["type"] = kind
            out.append({"message": changed, "destination": {"Config": settings}, "metadata": {"kind": repr(kind)}})
    return out


# What a look-up function written wrong answers (or does): each must become the event's error with
# the same status in engine and baseline, or the same request where the answer is usable after all.
HOSTILE_ANSWERS: tuple[Any, ...] = (
    None, 5, (200,), (200, None, 1), [200, {"data": {"id": "c1"}}], ("200", {}), (True, {}), (200.0, {}), (302, None),
    (99, None), (600, None), (0, None), (401, None), (503, "x"), (200, None), (200, {}), (200, "text"), (200, [1]),
    (200, {"data": None}), (200, {"data": []}), (200, {"data": "x"}),
    *((200, {"data": {"id": found}}) for found in (None, "", {"a": 1}, [1], True, float("nan"), float("inf"), 10**5000,
                                                    5, 1.5, 2.0, -0.0, "a\ud800", "a b/c@d", "x" * 1_000_001)),
    (200, Found("c9")), (200, Found({"a": 1})), (200, Found(True)))


def _raising(kind: type[BaseException], *args: Any) -> Any:
    def lookup(request: dict[str, Any]) -> Any:
        raise kind(*args)  # a new one each time: one raised again would grow its traceback
    return lookup


def _answering(answer: Any) -> Any:
    return lambda request: answer


HOSTILE_LOOKUPS: tuple[Any, ...] = (_raising(RuntimeError, "broken"), _raising(SystemExit, 3),
                                    *(_answering(answer) for answer in HOSTILE_ANSWERS))


def _echoing(found_kind: str) -> Any:
    """A look-up function that finds the customer at the first request of ``found_kind``, with an
    id that is a digest of the whole request asked: a request that differs in any part (its
    ``lookup: {kind, value}`` included, which a caller may answer from) gives another id."""
    def lookup(request: dict[str, Any]) -> Any:
        asked = request.get("lookup") or {}
        if asked.get("kind") != found_kind:
            return 404, None
        return 200, Found(hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16])
    return lookup


# Look-up functions that answer from what they are asked: engine and baseline must ask alike.
ECHOING_LOOKUPS: tuple[Any, ...] = (_echoing("email"), _echoing("externalId"))
