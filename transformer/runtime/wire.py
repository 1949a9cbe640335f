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


def compact_json(value: Any) -> str:
    """JSON as sent on the wire: no spaces, UTF-8 kept, NaN refused."""
    return _COMPACT.encode(value)


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, fast (orjson); the standard library writes what orjson
    refuses (integers past 64 bits). Raises UnicodeEncodeError for text holding a lone surrogate."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return compact_json(value).encode("utf-8")


def json_line(value: Any) -> bytes:
    """``json_bytes(value)`` and a newline: one NDJSON line (orjson appends it as it writes)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return json_bytes(value) + b"\n"
