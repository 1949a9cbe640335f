"""jsonschema, imported only when it has something to say.

Importing jsonschema (with referencing, attrs, rpds and its format checkers) costs about a quarter
of ``import transformer`` plus ``load()``, and for a good mapping and good settings it says nothing:
the mapping files pass their compiled fast tests (loader), and so do valid settings and payloads
(checks.fast_test). jsonschema is imported when a document fails one of those tests (to word the
errors, and to have the last word), or for a schema they do not cover.

``known_valid_schema`` is the same idea for a settings schema checked against the 2020-12
meta-schema: it says yes only for a schema made of keywords whose arguments it checks exactly as
the meta-schema does (with its format checker: a ``pattern`` must compile with ``re``); anything
else goes to jsonschema's ``check_schema``, which words the errors as it always did.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

# Every keyword of the 2020-12 meta-schema and its vocabularies (and the older ones it still
# describes): a key among these that known_valid_schema does not check sends the schema to jsonschema.
META_SCHEMA_KEYWORDS = frozenset({
    "$anchor", "$comment", "$defs", "$dynamicAnchor", "$dynamicRef", "$id", "$recursiveAnchor", "$recursiveRef",
    "$ref", "$schema", "$vocabulary", "additionalProperties", "allOf", "anyOf", "const", "contains",
    "contentEncoding", "contentMediaType", "contentSchema", "default", "definitions", "dependencies",
    "dependentRequired", "dependentSchemas", "deprecated", "description", "else", "enum", "examples",
    "exclusiveMaximum", "exclusiveMinimum", "format", "if", "items", "maxContains", "maxItems", "maxLength",
    "maxProperties", "maximum", "minContains", "minItems", "minLength", "minProperties", "minimum", "multipleOf",
    "not", "oneOf", "pattern", "patternProperties", "prefixItems", "properties", "propertyNames", "readOnly",
    "required", "then", "title", "type", "unevaluatedItems", "unevaluatedProperties", "uniqueItems", "writeOnly"})

_TYPE_NAMES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_COUNTS = frozenset({"maxItems", "maxLength", "maxProperties", "minItems", "minLength", "minProperties"})
_BOUNDS = frozenset({"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"})
_TEXTS = frozenset({"title", "description", "$comment", "format"})
_FLAGS = frozenset({"deprecated", "readOnly", "writeOnly", "uniqueItems"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMAS = frozenset({"additionalProperties", "items", "not"})


class _Unknown(Exception):
    """Something known_valid_schema leaves to jsonschema."""


def known_valid_schema(schema: Any) -> bool:
    """Whether ``schema`` is certainly a valid JSON Schema (2020-12, formats checked); False means
    "ask jsonschema", not "invalid"."""
    try:
        _check(schema, 0)
    except (_Unknown, RecursionError):
        return False
    return True


def _check(node: Any, depth: int) -> None:
    if node is True or node is False:
        return
    if node.__class__ is not dict or depth > 100:
        raise _Unknown
    for key, arg in node.items():
        if key in _SUBSCHEMAS:
            _check(arg, depth + 1)
        elif key in ("properties", "patternProperties"):
            if arg.__class__ is not dict:
                raise _Unknown
            for name, sub in arg.items():
                if key == "patternProperties":
                    _regex(name)
                _check(sub, depth + 1)
        elif key in _SCHEMA_LISTS:
            if arg.__class__ is not list or not arg:
                raise _Unknown
            for sub in arg:
                _check(sub, depth + 1)
        elif not _argument_holds(key, arg):
            raise _Unknown


def _argument_holds(key: str, arg: Any) -> bool:
    """Whether a keyword that holds no schema has an argument the meta-schema takes (or the key is
    no keyword: an annotation of the author's, which the meta-schema allows)."""
    if key == "type":
        names = [arg] if arg.__class__ is str else arg
        return (names.__class__ is list and bool(names) and all(name.__class__ is str and name in _TYPE_NAMES for name in names)
                and len(set(names)) == len(names))
    if key in _COUNTS:
        return arg.__class__ is int and arg >= 0
    if key in _BOUNDS:
        return arg.__class__ is int or arg.__class__ is float
    if key in _TEXTS:
        return arg.__class__ is str
    if key in _FLAGS:
        return arg.__class__ is bool
    if key == "enum" or key == "examples":
        return arg.__class__ is list
    if key == "required":
        return arg.__class__ is list and all(name.__class__ is str for name in arg) and len(set(arg)) == len(arg)
    if key == "pattern":
        return arg.__class__ is str and _regex(arg)
    if key == "const" or key == "default":
        return True
    return key not in META_SCHEMA_KEYWORDS and not key.startswith("$")


def _regex(pattern: str) -> bool:
    """The meta-schema's "format": "regex", as jsonschema's format checker tests it."""
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        raise _Unknown from None
    return True


def has_references(node: Any) -> bool:
    """Whether a ``$ref`` or ``$dynamicRef`` key with a text value stands anywhere in ``node``
    (what the loader's check of a settings schema's references looks at)."""
    stack = [node]
    seen: set[int] = set()  # YAML aliases may repeat a value, or make one contain itself
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if item.__class__ is dict:
            for key, value in item.items():
                if (key == "$ref" or key == "$dynamicRef") and isinstance(value, str):
                    return True
                stack.append(value)
        elif item.__class__ is list:
            stack.extend(item)
    return False


# -- validators built at first use -------------------------------------------------------------

class LazyValidator:
    """A jsonschema validator (Draft 2020-12 with RE2 patterns: patterns.linear_validator) built
    when first needed. ``passes``, a test true exactly when the schema holds (checks.fast_test),
    answers "no errors" without it; a test that raises has said nothing."""

    __slots__ = ("_built", "_no_retrieval", "passes", "schema")

    def __init__(self, schema: Any, passes: Callable[[Any], bool] | None = None, *, no_retrieval: bool = False) -> None:
        self.schema = schema
        self.passes = passes
        self._no_retrieval = no_retrieval  # resolve references with a registry that fetches nothing
        self._built: Any = None

    @property
    def validator(self) -> Any:
        built = self._built
        if built is None:
            from .patterns import linear_validator

            cls = linear_validator()
            built = self._built = cls(self.schema, registry=no_retrieval()) if self._no_retrieval else cls(self.schema)
        return built

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        if self.passes is not None:
            try:
                if self.passes(instance):
                    return iter(())
            except Exception:  # noqa: BLE001, S110 - a value the test cannot take: jsonschema decides
                pass
        result: Iterator[Any] = self.validator.iter_errors(instance)
        return result

    def is_valid(self, instance: Any) -> bool:
        return next(self.iter_errors(instance), None) is None

    def __getattr__(self, name: str) -> Any:  # whatever else jsonschema's validator offers
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.validator, name)


@cache
def no_retrieval() -> Any:
    """A referencing registry that retrieves nothing (jsonschema's own default fetches a remote
    $ref over HTTP): a reference outside the schema is never fetched."""
    import referencing

    return referencing.Registry()
