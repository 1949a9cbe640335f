"""The ``entries`` step, which rewrites every key of an object (and some values, by type): made to
cost no more than the dict comprehension a programmer would write for the same work
(``python -m bench.steps`` measures both).

What makes it cheap: the type class is found from the value's Python class by one dict read (the
ISO 8601 test runs only on a string that starts with a digit, and only when dates and strings are
treated differently); each type class has its own table of the new names of keys already seen
(keys recur from event to event), so a key costs one dict read; a value coercion is called only
for the type classes that have one.
"""
from __future__ import annotations

from collections.abc import Callable
from math import isfinite
from typing import Any

from ..runtime.values import MAX_DEPTH, MISSING, copy_below, type_name
from ..runtime.wire import TEXT_JSON, compact_json, fast_compact
from .functions import COERCIONS, StepError, type_class
from .registry import Step

NAMES_KEPT = 4096  # new names remembered per type class: event keys are unbounded in variety
_CLASSES: dict[type, str] = {str: "string", int: "number", float: "number", bool: "boolean", dict: "object",
                             list: "array", type(None): "null"}


class _Kind:
    """One type class's rule: the key coercions and suffix, the value coercion, and the names seen
    (None when keys keep their names)."""

    __slots__ = ("key_coercions", "suffix", "coerce", "names")

    def __init__(self, key_coercions: tuple[Callable[[Any], Any], ...], suffix: str | None,
                 coerce: Callable[[Any], Any] | None) -> None:
        self.key_coercions = key_coercions
        self.suffix = suffix
        self.coerce = coerce
        self.names: dict[str, str] | None = {} if key_coercions or suffix else None

    def for_class(self, cls: type) -> _Kind:
        """The same rule for values of exactly ``cls``, its value coercion called directly where
        the generic one would only find out the class again."""
        exact = _EXACT.get((cls, self.coerce))
        if exact is None:
            return self
        kind = _Kind(self.key_coercions, self.suffix, exact)
        kind.names = self.names
        return kind

    def without_coercion(self) -> _Kind:
        """The same keys (names seen shared), the value kept as it is."""
        kind = _Kind(self.key_coercions, self.suffix, None)
        kind.names = self.names
        return kind

    def rename(self, key: str) -> str:
        new_key = key
        for coerce in self.key_coercions:
            new_key = coerce(new_key)
        if self.suffix and not new_key.endswith(self.suffix):
            new_key += self.suffix
        if self.names is not None:
            if len(self.names) >= NAMES_KEPT:
                self.names.clear()
            self.names[key] = new_key
        return new_key


_OTHER: Any = object()
_UNKNOWN = _Kind((), None, None)  # what the copying read finds for a class no type class has


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _json_items(value: list[Any]) -> str:
    return ",".join([TEXT_JSON(item) if item.__class__ is str else compact_json(item) for item in value])


# (class, coercion) -> what that coercion does to a value of exactly that class.
_EXACT: dict[tuple[type, Any], Callable[[Any], Any]] = {
    (bool, COERCIONS["string"]): _bool_text, (list, COERCIONS["json_items"]): _json_items,
    (dict, COERCIONS["json"]): compact_json, (list, COERCIONS["json"]): compact_json}


# What an entries step does to an object its rule does not own (see ``compile_entries``).
Copying = Callable[[dict[str, Any], frozenset[str]], "dict[str, Any] | None"]


def entries_step(spec: dict[str, Any]) -> Step:
    """The function an ``entries`` spec compiles to (checked by the schema: known coercion names)."""
    return compile_entries(spec)[0]


def compile_entries(spec: dict[str, Any]) -> tuple[Step, Copying]:
    """An ``entries`` spec's step, and its variant for an object read straight from the event.

    The variant spares the copy a path read makes before its steps run (``then`` uses it): from
    the uncopied object it builds the step's result, leaving out the keys a leading ``omit`` drops
    and copying each container it keeps. It gives None for anything but a plain JSON object of
    plain values, or where the step would fail: the caller then copies the object with ``fresh``
    and runs the steps, so every error is the one the rule has always given."""
    key_coercions = tuple(COERCIONS[name] for name in spec.get("key", ()))
    by_type = spec.get("by_type", {})
    kinds = {name: _Kind(key_coercions, by_type.get(name, {}).get("key_suffix"),
                         COERCIONS[by_type[name]["value"]] if "value" in by_type.get(name, {}) else None)
             for name in ("string", "datetime", "number", "boolean", "object", "array", "null")}
    by_class = {cls: kinds[name].for_class(cls) for cls, name in _CLASSES.items()}
    # A container whose value becomes its JSON text (json; json_items: the same without its
    # brackets), by class: the rule that keeps that text as it is, and how much to trim.
    as_text = {cls: (kind.without_coercion(), 1 if kind.coerce is _json_items else 0)
               for cls, kind in by_class.items() if cls in (dict, list) and kind.coerce in (compact_json, _json_items)}
    strings, dates = by_class[str], kinds["datetime"]
    dates_differ = (strings.suffix, strings.coerce) != (dates.suffix, dates.coerce)
    renames = any(kind.names is not None for kind in kinds.values())  # else no two keys can become one

    def copying(value: dict[str, Any], skip: frozenset[str]) -> dict[str, Any] | None:
        # rewrite's loop, with fresh's checks and copies folded in: a helper called per key
        # would cost more than the copy of the whole object this saves. A string first (most
        # values are); a key left out is still refused where fresh would refuse its value.
        out: dict[str, Any] = {}
        left_out = 0
        try:
            for key, item in value.items():
                cls = item.__class__
                if cls is str:
                    kind = dates if dates_differ and item[:1].isdigit() and type_class(item) == "datetime" else strings
                elif cls is dict or cls is list:
                    text = as_text.get(cls)
                    # Its text written from the object as it is, where orjson writes what the copy
                    # would give (fast_compact) and counting its brackets shows it within the limit.
                    if text is not None and (raw := fast_compact(item)) is not None \
                            and raw.count(b"[") + raw.count(b"{") < MAX_DEPTH:
                        kind, trim = text
                        item = (raw[1:-1] if trim else raw).decode("utf-8")
                    else:
                        item = copy_below(item, 1)
                        if item is MISSING:
                            return None
                        kind = by_class[cls]
                elif cls is float and not isfinite(item):
                    return None
                elif (kind := by_class.get(cls, _UNKNOWN)) is _UNKNOWN:  # a subclass, another type: fresh decides
                    return None
                if key.__class__ is not str:
                    return None
                if key in skip:
                    left_out += 1
                    continue
                names = kind.names
                new_key = key if names is None else names.get(key) or kind.rename(key)
                if kind.coerce is not None:
                    item = kind.coerce(item)
                out[new_key] = item
        except Exception:  # noqa: BLE001 - a coercion's refusal: the usual path reports it, after fresh's checks
            return None
        # two keys that became one: the usual path names them
        return out if not renames or len(out) == len(value) - left_out else None

    def kind_of(item: Any) -> _Kind:
        """The rule of a value whose class is not a plain JSON one (a subclass, another type)."""
        return kinds.get(type_class(item)) or _Kind(key_coercions, None, None)

    def rewrite(value: Any) -> Any:
        if value.__class__ is not dict and not isinstance(value, dict):
            raise StepError(f"entries needs an object, got {type_name(value)}")
        out: dict[str, Any] = {}
        for key, item in value.items():
            kind = by_class.get(item.__class__)
            if kind is None:
                kind = kind_of(item)
            elif kind is strings and dates_differ and item[:1].isdigit() and type_class(item) == "datetime":
                kind = dates  # only a string that starts with a digit can be an ISO 8601 date
            new_key = key
            if renames and kind.names is not None:
                new_key = kind.names.get(key) or kind.rename(key)
            if kind.coerce is not None:
                item = kind.coerce(item)
            if renames and new_key in out:
                first = next(k for k, v in value.items() if _renamed(k, v, kinds, key_coercions) == new_key)
                raise StepError(f"keys {first!r} and {key!r} both become {new_key!r}")
            out[new_key] = item
        return out

    if not by_type and key_coercions:  # keys alone: a comprehension; on a problem, the loop finds the one it reports first
        names, rename = strings.names, strings.rename
        assert names is not None

        def keys_only(value: Any) -> Any:
            if value.__class__ is dict:
                try:
                    out = {names.get(key) or rename(key): item for key, item in value.items()}
                    if len(out) == len(value):
                        return out
                except StepError:
                    pass
            return rewrite(value)

        return keys_only, copying
    if not renames:  # values alone: a copy, then only the values of a class with a coercion replaced
        coerced = {cls: kind.coerce for cls, kind in by_class.items()}

        def values_only(value: Any) -> Any:
            if value.__class__ is not dict or dates_differ or strings.coerce is not None:
                return rewrite(value)
            out = value.copy()
            for key, item in out.items():
                coerce = coerced.get(item.__class__, _OTHER)
                if coerce is None:
                    continue
                if coerce is _OTHER:  # a subclass, another type: the loop finds its type class
                    return rewrite(value)
                out[key] = coerce(item)  # a value replaced, no key added: iterating stays valid
            return out

        return values_only, copying
    return rewrite, copying


def _renamed(key: str, item: Any, kinds: dict[str, _Kind], key_coercions: tuple[Callable[[Any], Any], ...]) -> str:
    """The new name of ``key`` holding ``item`` (for the message naming two keys that collide)."""
    return (kinds.get(type_class(item)) or _Kind(key_coercions, None, None)).rename(key)
