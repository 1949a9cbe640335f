"""Payload checks declared in YAML (``validate``): a JSON Schema for the request body, compiled
once at load time and applied to each body the rules built, so a payload the API would refuse is a
400 here, naming the field and the rule it breaks (never the value: it may be personal data).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema

from .codegen import Context, Fn
from .errors import TransformError

# A body breaking many rules (500 over-long tags) gives a readable message, not one per item.
SHOWN_ERRORS = 3


@dataclass(frozen=True)
class Check:
    """One ``validate`` entry: the body must satisfy ``validator`` whenever ``when`` holds."""

    label: str  # "tracking.yaml validate[0]"
    when: Fn | None
    validator: Any

    def apply(self, body: Any, ctx: Context) -> None:
        if self.when is not None and not self.when(ctx):
            return
        errors = list(self.validator.iter_errors(body))
        if not errors:
            return
        errors.sort(key=lambda e: [str(p) for p in e.absolute_path])
        shown = "; ".join(describe(e) for e in errors[:SHOWN_ERRORS])
        more = f"; and {len(errors) - SHOWN_ERRORS} more" if len(errors) > SHOWN_ERRORS else ""
        raise TransformError(f"{self.label}: {shown}{more}")


def schema_problems(schema: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """What makes ``schema`` unusable for a check, as (path inside the schema, message): not a valid
    JSON Schema (2020-12), or a reference that is not local or does not resolve. Checks never fetch
    anything: every ``$ref`` must point into the schema itself (``#/$defs/...``)."""
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        yield tuple(exc.path), f"not a valid JSON Schema: {exc.message}"
        return
    for path, ref in _refs(schema, ()):
        if not ref.startswith("#"):
            yield path, f"only local references (#/...) are allowed, got {ref!r}"
        elif _resolve(schema, ref) is None:
            yield path, f"reference {ref!r} points to nothing in this schema"


def validator_for(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(schema)


def _refs(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _refs(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _refs(item, (*path, index))


def _resolve(schema: Any, ref: str) -> Any:
    """The node a local JSON Pointer reference names, or None."""
    node = schema
    pointer = ref[1:]
    if not pointer:
        return node
    if not pointer.startswith("/"):
        return None
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def describe(error: Any) -> str:
    """One broken rule in words: the field as a dotted path from ``body``, and the rule."""
    where = ".".join(["body", *(str(p) for p in error.absolute_path)])
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [key for key in expected if isinstance(value, dict) and key not in value]
        return "; ".join(f"{where}.{key} is required" for key in missing)
    if kind == "type":
        types = [expected] if isinstance(expected, str) else expected
        return f"{where} must be of type {' or '.join(types)}"
    if kind == "pattern":
        return f"{where} must match the pattern {expected}"
    if kind == "maxLength":
        return f"{where} is {len(value)} characters, over the limit of {expected}"
    if kind == "minLength":
        return f"{where} must not be empty" if expected == 1 else f"{where} must be at least {expected} characters"
    if kind == "maxItems":
        return f"{where} has {len(value)} items, over the limit of {expected}"
    if kind == "maxProperties":
        return f"{where} has {len(value)} keys, over the limit of {expected}"
    if kind == "uniqueItems":
        return f"{where} must not hold the same item twice"
    if kind in ("enum", "const"):
        allowed = expected if kind == "enum" else [expected]
        return f"{where} must be one of {', '.join(json.dumps(v) for v in allowed)}"
    if kind == "additionalProperties":
        return f"{where} has a key this API does not accept"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "over", "exclusiveMaximum": "under"}
        return f"{where} must be {words[kind]} {expected}"
    return f"{where} does not satisfy {kind} {json.dumps(expected)[:200]}"
