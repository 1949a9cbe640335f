"""Regular expressions that a mapping applies to event data and settings, run in linear time.

Python's ``re`` backtracks: a pattern such as ``^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$`` takes seconds on a
64 KB e-mail, and ``(a+)+b`` takes years on 40 characters. Every pattern a mapping applies to
input (``matches``, ``replace``, and ``pattern`` / ``patternProperties`` in ``validate`` and
settings schemas) is therefore run by RE2 (the ``google-re2`` package), whose matching time is
linear in the text by construction, whatever the pattern. A pattern RE2 cannot run (a back
reference, a look-around, a repeat count over 1,000) is a load error at its line.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import re2

if TYPE_CHECKING:
    from jsonschema import ValidationError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is a load error, not a line on stderr
MAX_REPEAT = 1000  # RE2's bound on {n,m}
# RE2 reads a repeat count too large to parse (past 2^31) as literal text: such a count is refused here.
_REPEAT = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message says why."""


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, in words; None when it can."""
    try:
        _compiled(pattern)
    except PatternError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    for found in _REPEAT.finditer(pattern):
        count = max(int(n) for n in found.groups() if n)
        if count > MAX_REPEAT:
            raise PatternError(f"the regular expression {pattern!r} repeats {count:,} times, over the limit of {MAX_REPEAT:,}")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = "; RE2 has no back references or look-arounds" if "escape" in reason or "perl operator" in reason else ""
        raise PatternError(f"the regular expression {pattern!r} does not compile ({reason}{hint})") from None


def compile_pattern(pattern: str) -> Any:
    """The RE2 regular expression of ``pattern`` (``search``, ``sub``...); raises PatternError."""
    return _compiled(pattern)


@lru_cache(maxsize=1024)
def searcher(pattern: str) -> Callable[[str], bool]:
    """A test of whether ``pattern`` matches somewhere in a text; raises PatternError. An RE2 set
    of one pattern answers yes or no without building a match object: several times faster."""
    _compiled(pattern)
    one = re2.Set.SearchSet(_OPTIONS)
    one.Add(pattern)
    one.Compile()
    match = one.Match

    def search(text: str) -> bool:
        try:
            return bool(match(text))
        except UnicodeEncodeError:  # a lone surrogate: RE2 reads the bytes; the text is refused later anyway
            return bool(match(text.encode("utf-8", "surrogatepass")))

    return search


def schema_pattern_problems(schema: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) for each ``pattern`` or ``patternProperties`` key of a JSON Schema that RE2
    cannot run. jsonschema's own schema check compiles them with ``re`` (and lets an
    OverflowError out for a huge repeat count), so these are checked first. jsonschema matches
    ``patternProperties`` with ``re`` to decide ``unevaluatedProperties``: the two together are refused."""
    uneven: tuple[str | int, ...] | None = None
    with_patterns = False
    for path, key, value in _keys(schema, ()):
        if key == "unevaluatedProperties":
            uneven = uneven or (*path, key)
        patterns = [value] if key == "pattern" and isinstance(value, str) else \
            [k for k in value if isinstance(k, str)] if key == "patternProperties" and isinstance(value, dict) else []
        with_patterns = with_patterns or key == "patternProperties"
        for pattern in patterns:
            problem = pattern_problem(pattern)
            if problem is not None:
                yield ((*path, key, pattern) if key == "patternProperties" else (*path, key)), problem
    if uneven is not None and with_patterns:
        yield uneven, "unevaluatedProperties cannot be used with patternProperties (use additionalProperties)"


def _keys(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    """(path, key, value) of every key of every object in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _keys(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _keys(item, (*path, index))


# -- jsonschema with RE2: the keywords that apply a pattern to an instance --------------------------

# jsonschema is imported by linear_validator, at first use (see _schema.py): these functions run
# only inside the validator class it builds.

def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    from jsonschema import ValidationError

    if validator.is_type(instance, "string") and not searcher(pattern)(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        test = searcher(pattern)
        for key, value in instance.items():
            if test(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    from jsonschema import Draft202012Validator, ValidationError

    if "patternProperties" not in schema or not validator.is_type(instance, "object"):
        yield from Draft202012Validator.VALIDATORS["additionalProperties"](validator, additional, instance, schema)
        return
    declared = schema.get("properties", {})
    tests = [searcher(pattern) for pattern in schema["patternProperties"]]
    extras = [key for key in instance if key not in declared and not any(test(key) for test in tests)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        shown = ", ".join(repr(each) for each in sorted(extras))
        yield ValidationError(f"{shown} do not match any of the regexes: {', '.join(map(repr, schema['patternProperties']))}")


@cache
def linear_validator() -> Any:
    """jsonschema's Draft 2020-12 validator class with RE2 wherever a pattern meets an instance
    (unevaluatedProperties, which would too, is refused at load next to a patternProperties: see
    schema_pattern_problems). Built, and jsonschema imported, at the first call."""
    import jsonschema

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {  # type: ignore[no-untyped-call]
        "pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties})


def __getattr__(name: str) -> Any:
    """``LinearValidator``, the class linear_validator builds, under the name it always had."""
    if name == "LinearValidator":
        return linear_validator()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
