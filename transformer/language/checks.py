"""Payload checks declared in YAML (``validate``): a JSON Schema for the request body, compiled
once at load time and applied to each body the rules built, so a payload the API would refuse is a
400 here, naming the field and the rule it breaks (never the value: it may be personal data).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import TransformError
from . import schema_words
from ._schema import LazyValidator
from .codegen import Context, Fn
from .functions import canonical_json
from .patterns import pattern_problem, schema_pattern_problems, searcher

# A body breaking many rules (500 over-long tags) gives a readable message, not one per item.
SHOWN_ERRORS = 3


@dataclass(frozen=True)
class Check:
    """One ``validate`` entry: the body must satisfy ``validator`` whenever ``when`` holds."""

    label: str  # "tracking.yaml validate[0]"
    when: Fn | None
    validator: Any
    passes: Callable[[Any], bool] | None  # the fast test (see fast_test); None: jsonschema every time
    settings_only: bool = False  # ``when`` reads only settings: decided once per settings (see destination.py)

    def apply(self, body: Any, ctx: Context) -> None:
        if self.when is not None and not self.when(ctx):
            return
        if self.passes is not None and self.passes(body):
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
    anything: every ``$ref`` must point into the schema itself (``#/$defs/...``).

    The keywords the fast test knows have their arguments checked while it is compiled; a schema
    with other keywords is checked against the 2020-12 meta-schema too (slower: about 50 ms the
    first time in a process)."""
    patterns = [(where, f"not a valid JSON Schema: {message}") for where, message in schema_pattern_problems(schema)]
    if patterns:  # before jsonschema's check, which compiles them with re
        yield from patterns
        return
    try:
        _compile(schema, schema, (), ())
    except _Invalid as exc:
        yield exc.path, f"not a valid JSON Schema: {exc.message}"
        return
    except _Unsupported:
        import jsonschema  # only here, and when a document fails its fast test (see _schema.py)

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
    """jsonschema's validator of ``schema`` (Draft 2020-12 with RE2), built at its first use."""
    return LazyValidator(schema)


# -- the fast test ---------------------------------------------------------------------------------
# jsonschema walks a schema anew for every instance: 40-300 µs a body, more than the whole
# transform. Bodies are valid nearly always, so each schema is also compiled once into nested
# Python tests that only say "valid": exactly for the keywords below, and jsonschema runs only
# when they say no (to word the errors, and to have the last word). A schema using any other
# keyword (or $id, or a recursive $ref) gets no fast test.

Test = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$defs", "$comment", "title", "description", "default", "examples",
                          "deprecated", "readOnly", "writeOnly"})
_TYPES: dict[str, Test] = {
    "string": lambda v: v.__class__ is str,
    "object": lambda v: v.__class__ is dict,
    "array": lambda v: v.__class__ is list,
    "boolean": lambda v: v.__class__ is bool,
    "null": lambda v: v is None,
    "number": lambda v: v.__class__ is int or v.__class__ is float,
    "integer": lambda v: v.__class__ is int or (v.__class__ is float and v.is_integer()),
}


# What jsonschema checks (the keys of jsonschema.Draft202012Validator.VALIDATORS, written out so
# that the fast tests need no jsonschema: a test compares them); document_tests takes any other
# key for an annotation, as jsonschema does.
_KEYWORDS = frozenset({
    "$dynamicRef", "$ref", "additionalProperties", "allOf", "anyOf", "const", "contains", "dependentRequired",
    "dependentSchemas", "enum", "exclusiveMaximum", "exclusiveMinimum", "format", "if", "items", "maxItems", "maxLength",
    "maxProperties", "maximum", "minItems", "minLength", "minProperties", "minimum", "multipleOf", "not", "oneOf",
    "pattern", "patternProperties", "prefixItems", "properties", "propertyNames", "required", "type",
    "unevaluatedItems", "unevaluatedProperties", "uniqueItems"})

_CLASSES: dict[str, tuple[type, ...]] = {"string": (str,), "object": (dict,), "array": (list,), "boolean": (bool,),
                                         "null": (type(None),), "number": (int, float)}


class _Unsupported(Exception):
    pass


class _Invalid(Exception):
    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        self.message = message


def fast_test(schema: Any) -> Test | None:
    """A test that is true exactly when ``schema`` holds for the value, or None when the schema
    uses a keyword it does not know."""
    try:
        return _compile(schema, schema, (), ())
    except (_Unsupported, _Invalid):
        return None


def document_tests(root: dict[str, Any], *refs: str) -> tuple[Test, ...] | None:
    """The fast tests of the schemas ``refs`` name in ``root``, a valid schema that may be
    recursive (the mapping schema: rules hold rules); None when it uses a keyword they do not know.

    Besides fast_test's: each reference's target is compiled once for them all (a recursive
    reference calls the test its target becomes); prefixItems, propertyNames and dependentRequired
    are known; a key that is no keyword of jsonschema's is an annotation, as jsonschema takes it.
    A test may raise for a value that is not JSON (a date YAML read): then it has said nothing."""
    targets: dict[str, Test] = {}
    try:
        return tuple(_compile({"$ref": ref}, root, (), (), targets) for ref in refs)
    except (_Unsupported, _Invalid):
        return None


_INT_ARGS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_NUMBER_ARGS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _arg_problem(key: str, arg: Any) -> str | None:
    """What is wrong with a known keyword's argument (the checks JSON Schema's meta-schema makes)."""
    if key == "type":
        names = [arg] if isinstance(arg, str) else arg
        if not isinstance(names, list) or not names or any(name not in _TYPES for name in names):
            return f"type must be one of {', '.join(sorted(_TYPES))}, or a list of them"
    elif key in _INT_ARGS:
        if arg.__class__ is not int or arg < 0:
            return f"{key} must be a whole number, 0 or more"
    elif key in _NUMBER_ARGS:
        if not _is_number(arg):
            return f"{key} must be a number"
    elif key == "uniqueItems":
        if arg.__class__ is not bool:
            return "uniqueItems must be true or false"
    elif key == "enum" or key == "required":
        if not isinstance(arg, list) or (key == "required" and any(not isinstance(name, str) for name in arg)):
            return f"{key} must be a list" + (" of strings" if key == "required" else "")
    elif key in ("allOf", "anyOf", "oneOf"):
        if not isinstance(arg, list) or not arg:
            return f"{key} must be a list of schemas, not empty"
    elif key in ("properties", "patternProperties"):
        if not isinstance(arg, dict):
            return f"{key} must be an object of schemas"
    elif key in ("pattern", "$ref"):
        if not isinstance(arg, str):
            return f"{key} must be a string"
    patterns = [arg] if key == "pattern" else list(arg) if key == "patternProperties" else []
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem is not None:
            return problem
    return None


def _key(value: Any) -> Any:
    """Equal for values equal as JSON (``1`` and ``1.0``), different across types (``true``, ``1``)."""
    cls = value.__class__
    if cls is str or cls is bool:
        return (cls, value)
    if cls is int or cls is float:
        return (int, value)  # 1 == 1.0 and hash alike; True was handled above
    return canonical_json(value) if value is not None else None


def _plain_type(schema: Any) -> frozenset[type] | None:
    """The classes a schema that is only ``{type: ...}`` (not integer) allows, else None."""
    if not isinstance(schema, dict) or set(schema) - _ANNOTATIONS != {"type"}:
        return None
    names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
    if "integer" in names:
        return None
    return frozenset(cls for name in names for cls in _CLASSES[name])


def _is_number(value: Any) -> bool:
    return value.__class__ is int or value.__class__ is float


def _compile(node: Any, root: Any, refs: tuple[str, ...], path: tuple[str | int, ...],
             targets: dict[str, Test] | None = None) -> Test:
    """``targets``: None for fast_test and schema_problems; for document_tests, each reference's test."""
    if node is True or node == {}:
        return lambda v: True
    if node is False:
        return lambda v: False
    if not isinstance(node, dict):
        raise _Invalid(path, "a schema must be an object or a boolean")
    tests: list[Test] = []
    for key, arg in node.items():
        if key == "$id" and targets is not None and node is not root:
            raise _Unsupported  # a new base for the references under it
        if key in _ANNOTATIONS or (targets is not None and key not in _KEYWORDS):
            continue
        problem = _arg_problem(key, arg)
        if problem is not None:
            raise _Invalid((*path, key), problem)
        tests.append(_keyword(key, arg, node, root, refs, (*path, key), targets))
    return _all_of(tests)


def _all_of(tests: list[Test]) -> Test:
    """One test for all of ``tests``, chained with ``and`` (no generator per call: this is hot)."""
    if not tests:
        return lambda v: True
    test = tests[0]
    for following in tests[1:]:
        test = (lambda a, b: lambda v: a(v) and b(v))(test, following)
    return test


def _keyword(key: str, arg: Any, node: dict[str, Any], root: Any, refs: tuple[str, ...],
             path: tuple[str | int, ...], targets: dict[str, Test] | None) -> Test:
    """The test of one keyword of ``node`` (raises _Unsupported for one left to jsonschema).
    ``targets`` is None for the settings' quick test, which compiles fewer keywords."""
    def sub(schema: Any, *where: str | int) -> Test:
        return _compile(schema, root, refs, (*path, *where), targets)

    if key == "$ref":
        return _reference(arg, root, refs, path, targets)
    whole = targets is not None
    test = (_value_keyword(key, arg) or _array_keyword(key, arg, node, sub, whole)
            or _object_keyword(key, arg, node, sub, whole) or _combinator(key, arg, sub))
    if test is None:
        raise _Unsupported
    return test


def _reference(arg: str, root: Any, refs: tuple[str, ...], path: tuple[str | int, ...],
               targets: dict[str, Test] | None) -> Test:
    target = _resolve(root, arg) if arg.startswith("#") else None
    if target is None or (arg in refs and targets is None):  # remote, dangling or recursive:
        raise _Unsupported  # reported, or left to jsonschema
    if targets is None:
        return _compile(target, root, (*refs, arg), path)
    if arg not in targets:
        compiled: list[Test] = []
        targets[arg] = lambda v: compiled[0](v)  # what a recursive reference calls
        compiled.append(_compile(target, root, (*refs, arg), path, targets))
        targets[arg] = compiled[0]
    return targets[arg]


def _value_keyword(key: str, arg: Any) -> Test | None:
    """Keywords about the value itself: its type, its allowed values, its length or size."""
    if key == "type":
        names = [arg] if isinstance(arg, str) else arg
        if "integer" in names:
            kinds = [_TYPES[name] for name in names]
            return lambda v: any(kind(v) for kind in kinds)
        classes = frozenset(cls for name in names for cls in _CLASSES[name])
        return lambda v: v.__class__ in classes
    if key in ("enum", "const"):
        allowed = {_key(item) for item in (arg if key == "enum" else [arg])}
        return lambda v: _key(v) in allowed
    if key == "pattern":
        search = searcher(arg)
        return lambda v: v.__class__ is not str or search(v)
    if key in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        cls = str if key.endswith("Length") else list if key.endswith("Items") else dict
        if key.startswith("min"):
            return lambda v: v.__class__ is not cls or len(v) >= arg
        return lambda v: v.__class__ is not cls or len(v) <= arg
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        compare: dict[str, Callable[[Any], bool]] = {"minimum": lambda v: v >= arg, "maximum": lambda v: v <= arg,
                                                     "exclusiveMinimum": lambda v: v > arg,
                                                     "exclusiveMaximum": lambda v: v < arg}
        holds = compare[key]
        return lambda v: not _is_number(v) or holds(v)
    return None


def _array_keyword(key: str, arg: Any, node: dict[str, Any], sub: Callable[..., Test], whole: bool) -> Test | None:
    if key == "uniqueItems":
        if not arg:
            return lambda v: True
        return lambda v: v.__class__ is not list or len({_key(item) for item in v}) == len(v)
    if key == "items":
        item = sub(arg)
        after = len(node.get("prefixItems", ())) if whole else 0  # items tests the items after those
        if after:
            return lambda v: v.__class__ is not list or all(item(x) for x in v[after:])
        return lambda v: v.__class__ is not list or all(item(x) for x in v)
    if whole and key == "prefixItems":
        firsts = [sub(schema, index) for index, schema in enumerate(arg)]
        return lambda v: v.__class__ is not list or all(test(x) for test, x in zip(firsts, v))
    return None


def _object_keyword(key: str, arg: Any, node: dict[str, Any], sub: Callable[..., Test], whole: bool) -> Test | None:
    if whole and key == "propertyNames":
        name = sub(arg)
        return lambda v: v.__class__ is not dict or all(name(k) for k in v)
    if whole and key == "dependentRequired":
        needs = tuple((name, tuple(names)) for name, names in arg.items())
        return lambda v: v.__class__ is not dict or all(n in v for name, names in needs if name in v for n in names)
    if key == "required":
        names = tuple(arg)
        return lambda v: v.__class__ is not dict or all(name in v for name in names)
    if key == "properties":
        tests = tuple((name, sub(schema, name)) for name, schema in arg.items())  # each checked, as before
        plain = tuple((name, _plain_type(schema)) for name, schema in arg.items())
        if all(classes is not None for _, classes in plain):  # types alone: no call per key
            return _plain_properties(plain)  # type: ignore[arg-type]  # no None among them
        return _properties(tests)
    if key == "patternProperties":
        return _pattern_properties([(searcher(pattern), sub(schema, pattern)) for pattern, schema in arg.items()])
    if key == "additionalProperties":
        return _additional_properties(arg, node, sub)
    return None


def _properties(props: tuple[tuple[str, Test], ...]) -> Test:
    def properties(v: Any) -> bool:  # a loop, not all(): this runs per event in `validate` checks
        if v.__class__ is dict:
            for name, test in props:
                if name in v and not test(v[name]):
                    return False
        return True

    return properties


def _plain_properties(props: tuple[tuple[str, frozenset[type]], ...]) -> Test:
    """``properties`` whose schemas are each only a ``type`` (not integer): the value's class looked up."""
    def plain_properties(v: Any) -> bool:
        if v.__class__ is dict:
            for name, classes in props:
                if name in v and v[name].__class__ not in classes:
                    return False
        return True

    return plain_properties


def _pattern_properties(patterns: list[tuple[Callable[[str], Any], Test]]) -> Test:
    def pattern_properties(v: Any) -> bool:
        if v.__class__ is dict:
            for name, item in v.items():
                for search, test in patterns:
                    if search(name) and not test(item):
                        return False
        return True

    return pattern_properties


def _additional_properties(arg: Any, node: dict[str, Any], sub: Callable[..., Test]) -> Test:
    extra = sub(arg)
    declared = frozenset(node.get("properties", ()))
    searches = [searcher(pattern) for pattern in node.get("patternProperties", ())]
    allowed_classes = _plain_type(arg)
    if allowed_classes is not None and not declared and not searches:  # common, inlined: the values' types
        only = allowed_classes
        return lambda v: v.__class__ is not dict or all(item.__class__ in only for item in v.values())

    def additional(v: Any) -> bool:
        if v.__class__ is dict:
            for name, item in v.items():
                if name not in declared and not any(search(name) for search in searches) and not extra(item):
                    return False
        return True

    return additional


def _combinator(key: str, arg: Any, sub: Callable[..., Test]) -> Test | None:
    if key in ("allOf", "anyOf", "oneOf"):
        parts = [sub(schema, index) for index, schema in enumerate(arg)]
        if key == "allOf":
            return lambda v: all(part(v) for part in parts)
        if key == "anyOf":
            return lambda v: any(part(v) for part in parts)
        return lambda v: sum(1 for part in parts if part(v)) == 1
    if key == "not":
        inner = sub(arg)
        return lambda v: not inner(v)
    return None


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
    return schema_words.describe(error, lambda path: ".".join(["body", *path]), sizes=True)
