"""JSON Schema errors in the project's words: the field by name, the rule broken, never the value.

Settings (settings.py) and payload checks (checks.py) are both validated with jsonschema; one
wording serves both, so a rule reads the same wherever it is broken.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_BOUNDS = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "over", "exclusiveMaximum": "under"}


def describe(error: Any, name: Callable[[list[str]], str], *, sizes: bool) -> str:
    """``error`` in words. ``name(path)`` names the field at a path (a list of keys);
    ``sizes`` allows saying how long the value is (a count, never the value itself)."""
    path = [str(p) for p in error.absolute_path]
    where = name(path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [key for key in expected if isinstance(value, dict) and key not in value]
        return "; ".join(f"{name([*path, key])} is required" for key in missing)
    if kind == "type":
        types = [expected] if isinstance(expected, str) else expected
        return f"{where} must be of type {' or '.join(types)}"
    if kind == "pattern":
        return f"{where} must match the pattern {expected}"
    if kind == "minLength":
        return f"{where} must not be empty" if expected == 1 else f"{where} must be at least {expected} characters"
    if kind in ("enum", "const"):
        allowed = expected if kind == "enum" else [expected]
        return f"{where} must be one of {', '.join(json.dumps(v) for v in allowed)}"
    if kind in _BOUNDS:
        return f"{where} must be {_BOUNDS[kind]} {expected}"
    if sizes and kind in ("maxLength", "maxItems", "maxProperties"):
        unit = {"maxLength": "characters", "maxItems": "items", "maxProperties": "keys"}[kind]
        verb = "is" if kind == "maxLength" else "has"
        return f"{where} {verb} {len(value)} {unit}, over the limit of {expected}"
    if kind == "uniqueItems":
        return f"{where} must not hold the same item twice"
    if kind == "additionalProperties":
        return f"{where} has a key this API does not accept"
    return f"{where} does not satisfy {kind} {json.dumps(expected)[:200]}"
