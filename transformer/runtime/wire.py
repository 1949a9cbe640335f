"""The request description's wire shape (the reference implementation's, so users can swap it in)."""
from __future__ import annotations

import json
from typing import Any

import orjson


def request_description(method: str, endpoint: str, headers: dict[str, Any], params: dict[str, Any],
                        body: Any) -> dict[str, Any]:
    return {"version": "1", "type": "REST", "method": method, "endpoint": endpoint, "headers": headers,
            "params": params, "body": {"JSON": body, "JSON_ARRAY": {}, "XML": {}, "FORM": {}},
            "files": {}, "userId": ""}


# Built once: json.dumps with any non-default option builds a new encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# orjson writes what _COMPACT writes, byte for byte (as UTF-8), but for: NaN and infinities (null,
# where _COMPACT refuses them), floats under 1e-4 (1e-05 as 0.00001, 1e-07 as 1e-7), and the types
# it writes itself (dates, dataclasses, subclasses: raised here, so _COMPACT decides).
_AS_COMPACT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def fast_compact(value: Any) -> bytes | None:
    """orjson's bytes for ``value`` where they are certainly _COMPACT's (no ``null``, ``0.0000``
    or digit before ``e-`` in them); None where the standard library must write them."""
    try:
        raw = orjson.dumps(value, option=_AS_COMPACT)
    except TypeError:  # past 64 bits, a lone surrogate, a type orjson leaves alone
        return None
    # find, not "in": bytes' "in" first tries its operand as an integer and formats a TypeError to
    # drop, which costs more than the search
    if raw.find(b"null") >= 0 or raw.find(b"0.0000") >= 0 or _digit_then_exponent(raw):
        return None
    return raw


# What _COMPACT.encode does with a string (ensure_ascii off), called directly: one call fewer.
# (json.encoder keeps it public, as the C function or its pure-Python twin.)
TEXT_JSON = json.encoder.encode_basestring


def compact_json(value: Any) -> str:
    """JSON as sent on the wire: no spaces, UTF-8 kept, NaN refused (at orjson's speed where its
    text is the same)."""
    if value.__class__ is str:  # the standard library's own function for a string: faster still
        return TEXT_JSON(value)
    raw = fast_compact(value)
    return raw.decode("utf-8") if raw is not None else _COMPACT.encode(value)


def json_size(value: Any) -> int:
    """``len(compact_json(value).encode("utf-8"))``, with its errors, at orjson's speed."""
    raw = fast_compact(value)
    return len(raw) if raw is not None else len(_COMPACT.encode(value).encode("utf-8"))


def _digit_then_exponent(raw: bytes) -> bool:
    at = raw.find(b"e-")
    while at > 0:
        if raw[at - 1] in b"0123456789":
            return True
        at = raw.find(b"e-", at + 2)
    return False


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, fast (orjson); the standard library writes what orjson
    refuses (integers past 64 bits). Raises UnicodeEncodeError for text holding a lone surrogate."""
    try:
        return orjson.dumps(value)
    except TypeError:  # what orjson refuses it refuses in compact_json's fast path too: straight to the encoder
        return _COMPACT.encode(value).encode("utf-8")


def json_line(value: Any) -> bytes:
    """``json_bytes(value)`` and a newline: one NDJSON line (orjson appends it as it writes)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return json_bytes(value) + b"\n"
