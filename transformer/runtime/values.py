"""The value rules every mapping shares: MISSING, "present", and fresh JSON copies."""
from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from math import isfinite
from typing import Any

from ..errors import TransformError

# Deeper than any real analytics payload; keeps hostile nesting from exhausting the stack.
MAX_DEPTH = 100


class _Missing:
    """No value at all: distinct from None (JSON null), which a payload may legitimately hold.

    There is exactly one: every ``is MISSING`` test in generated code depends on it, so a copy
    made by any pickler (pickle, cloudpickle, dill) must come back as the same object.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"  # pickled by reference: unpickling looks up transformer.values.MISSING

    def __copy__(self) -> _Missing:
        return self

    def __deepcopy__(self, memo: Any) -> _Missing:
        return self


MISSING: Any = _Missing()


def is_present(value: Any) -> bool:
    """Present means not missing, not null and not the empty string; 0 and false are present."""
    return value is not MISSING and value is not None and value != ""


class _BadValue(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.keys: list[str] = []


def fresh(value: Any, where: str) -> Any:
    """Return ``value`` as a new JSON value that shares nothing with the input.

    Output must never alias the caller's event (a caller mutating a request must not change its
    event), and must serialise as strict JSON; ``where`` names the source for the error message.
    """
    try:  # generated code calls this for what is not a plain scalar: a container, mostly
        return _copy(value, 0)
    except _BadValue as bad:
        raise _refused(where, bad) from None


def fresh_from(value: Any, first: Mapping[str, Any], key: str, where: str, otherwise: str) -> Any:
    """``fresh`` for a value read at one of two paths (``traits.email``, then
    ``context.traits.email``): named ``where`` if ``first`` (the object the first path's last key
    is read from) holds it under ``key``, else ``otherwise``; worked out only for an error message."""
    try:
        return _copy(value, 0)
    except _BadValue as bad:
        raise _refused(where if first.get(key) is value else otherwise, bad) from None


def _refused(where: str, bad: _BadValue) -> TransformError:
    """Why a value read at ``where`` cannot be copied, naming the keys down to what is wrong."""
    keys = list(reversed(bad.keys))
    if len(keys) > 8:  # a hostile depth would make the message as long as the event
        keys = [*keys[:4], f"<{len(keys) - 6} more>", *keys[-2:]]
    suffix = "".join(f".{k}" for k in keys)
    return TransformError(f"{where}{suffix} {bad.reason}")


def copy_below(value: Any, depth: int) -> Any:
    """``fresh``'s copy of a value found ``depth`` levels down in what a rule read, or MISSING
    where ``fresh`` would refuse it (a caller then lets ``fresh`` say why, with the whole path)."""
    try:
        return _copy(value, depth)
    except _BadValue:
        return MISSING


# What a copy shares with the input: one set lookup costs less than testing each class in turn.
_PLAIN = frozenset((str, int, bool, type(None)))


def _copy(value: Any, depth: int) -> Any:
    # Plain dicts and lists first (what calls here most): copied whole at C speed, then each value
    # that is not a plain scalar replaced by its own copy. Scalars are most of any payload: a call
    # each would double the cost, so a finite float is tested in the loop too.
    cls = value.__class__
    if cls is dict:
        if depth >= MAX_DEPTH:
            raise _BadValue(f"is nested deeper than {MAX_DEPTH} levels")
        out = value.copy()
        for key, item in out.items():
            if key.__class__ is not str:
                raise _BadValue("has a key that is not a string")
            kind = item.__class__
            if kind in _PLAIN or kind is float and isfinite(item):
                continue
            try:
                out[key] = _copy(item, depth + 1)  # a value replaced, no key added: iterating stays valid
            except _BadValue as bad:
                bad.keys.append(key)
                raise
        return out
    if cls is list:
        if depth >= MAX_DEPTH:
            raise _BadValue(f"is nested deeper than {MAX_DEPTH} levels")
        items = value.copy()
        for index, item in enumerate(items):
            kind = item.__class__
            if kind in _PLAIN or kind is float and isfinite(item):
                continue
            try:
                items[index] = _copy(item, depth + 1)
            except _BadValue as bad:
                bad.keys.append(str(index))
                raise
        return items
    if cls in _PLAIN:
        return value
    if cls is float:
        if isfinite(value):
            return value
        raise _BadValue("is not a finite number (NaN and infinity are not JSON)")
    if depth >= MAX_DEPTH:
        raise _BadValue(f"is nested deeper than {MAX_DEPTH} levels")
    # Subclasses become their plain JSON type (a dict subclass read through its own items(), a
    # tuple a list, a str enum a str), copied as such.
    if isinstance(value, dict):
        return _copy(dict(value.items()), depth)
    if isinstance(value, (list, tuple)):
        return _copy(list(value), depth)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _copy(float(value), depth)
    raise _BadValue(f"holds a {cls.__name__}, which is not a JSON value")


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    name: str = value.__class__.__name__
    return name


def find_not_json(value: Any) -> str | None:
    """Say where ``value`` holds something that is not plain JSON (a subclass of dict, an object of
    another type), as a phrase for a message; None when it is plain JSON throughout."""
    for path, item in _walk(value):
        cls = item.__class__
        if cls is str or cls is int or cls is bool or cls is float or item is None:
            continue
        if cls is dict and any(key.__class__ is not str for key in dict.keys(item)):
            return f"has a key that is not a string at {_shown(path) or 'its top level'}"
        if cls is not dict and cls is not list:
            return (f"holds a {cls.__name__} at {_shown(path)}, which is not a JSON value" if path
                    else f"is a {cls.__name__}, not a plain JSON object")
    return None


def is_huge_int(value: int) -> bool:
    """Whether Python refuses to write ``value`` as decimal text (more digits than
    sys.get_int_max_str_digits(), 4,300 by default): such an integer can never be sent as JSON."""
    limit = sys.get_int_max_str_digits()
    return limit > 0 and value.bit_length() > 3 * limit and abs(value) >= 10 ** limit  # 3 bits < 1 digit


def find_huge_int(value: Any) -> str | None:
    """Say where ``value`` holds an integer too long to write as JSON text, as a phrase for a
    message (as find_not_json does); None when it holds none."""
    for path, item in _walk(value):
        if item.__class__ is int and is_huge_int(item):
            return (f"holds an integer of more than {sys.get_int_max_str_digits():,} digits at {_shown(path) or 'its top level'}, "
                    "which cannot be written as JSON")
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (half of a UTF-16 pair, e.g. a truncated emoji):
    such text cannot be encoded as UTF-8, so it can never be sent."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def find_not_unicode(value: Any) -> str | None:
    """The path (as shown in messages) of the first string or key in ``value`` that holds a lone
    surrogate; ``""`` when ``value`` is such a string itself; None when there is none."""
    for path, item in _walk(value):
        if item.__class__ is str and has_surrogate(item):
            return _shown(path)
        if item.__class__ is dict:
            for key in dict.keys(item):
                if key.__class__ is str and has_surrogate(key):
                    return _shown(f"{path}.{key}" if path else key)
    return None


def printable(text: str) -> str:
    """``text`` with each lone surrogate written as an escape (``\\ud83d``), so a message that
    quotes input can always be encoded as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if has_surrogate(text) else text


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every value inside ``value`` (itself included) with its dotted path; plain dicts and lists
    are read through their own storage (a subclass's methods may raise), each once (no cycles)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    seen: set[int] = set()
    while stack:
        item, path = stack.pop()
        yield path, item
        cls = item.__class__
        if (cls is dict or cls is list) and id(item) not in seen:
            seen.add(id(item))
            pairs = dict.items(item) if cls is dict else enumerate(item)
            stack.extend((sub, f"{path}.{key}" if path else str(key)) for key, sub in reversed(list(pairs)))


def _shown(path: str) -> str:
    """A path as a message shows it: short, and always valid UTF-8."""
    return printable(path if len(path) <= 200 else path[:100] + "..." + path[-60:])
