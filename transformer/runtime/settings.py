"""Settings: validated against the destination's schema once per distinct value, not per input.

Real processor traffic gives every input its own settings dict (parsed from JSON), so a cache
keyed by object identity would miss on every input, and one keyed by ``==`` would let ``True``
stand for ``1``. The key here is the settings' *value* with every scalar's exact type, so two
settings share an entry only when they are the same JSON with the same types. The cache is small
and bounded (it holds secrets), and invalid settings are cached as their error, so a stream of
inputs with the same bad settings pays for one validation too.
"""
from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

import orjson

from ..errors import TransformError
from ..language import schema_words
from .values import MAX_DEPTH, find_huge_int, find_not_json, find_not_unicode, fresh, type_name

# Distinct settings values kept; processor traffic has a few per destination, not thousands.
CACHE_SIZE = 128


class SettingsState:
    """One distinct settings value, validated: the settings rules read (defaults applied, a copy
    the caller cannot change) and what each event type computes once from them."""

    __slots__ = ("settings", "secrets", "types")

    def __init__(self, settings: dict[str, Any], secrets: tuple[str, ...]) -> None:
        self.settings = settings
        self.secrets = secrets  # the secret settings' values (see secret_forms), to keep out of messages
        self.types: dict[str, Any] = {}


class SettingsChecker:
    """Validates settings against a destination's settings schema, caching by strict value."""

    def __init__(self, schema: Mapping[str, Any], validator: Any, secrets: tuple[str, ...],
                 messages: Mapping[str, str] | None = None) -> None:
        self._validator = validator
        self._secret_names = secrets
        self._messages = dict(messages or {})  # the mapping's own words for a setting that fails
        self._defaults = {key: prop["default"] for key, prop in schema.get("properties", {}).items()
                          if isinstance(prop, dict) and "default" in prop}
        # By cache_key: each distinct settings value checked, valid (a SettingsState) or not (its error).
        # A hit is one dict.get, which the destination's hot path makes itself (read only).
        self.checked: dict[Hashable, SettingsState | TransformError] = {}
        self._lock = threading.Lock()

    def state(self, settings: Any) -> SettingsState:
        """The validated state for ``settings``; raises TransformError (400) when they are invalid."""
        if settings.__class__ is not dict:
            if not isinstance(settings, dict):
                raise TransformError(f"configuration error: settings must be an object, got {type_name(settings)}")
            settings = dict(dict.items(settings))  # a subclass may override get/items: read the plain storage
        key = cache_key(settings)
        cached = self.checked.get(key) if key is not None else None  # a hit takes no lock
        if cached is None:
            cached = self._check(settings)
            if key is not None:
                self._remember(key, cached)
        if cached.__class__ is not SettingsState:
            raise TransformError(cached.message, cached.status_code)  # type: ignore[union-attr]
        return cached

    def _remember(self, key: Hashable, checked: SettingsState | TransformError) -> None:
        # Evicting iterates the dict, which another thread's insert would break (RuntimeError: a 500
        # for a good event): misses take turns; a hit's dict.get is atomic and never waits.
        with self._lock:
            if len(self.checked) >= CACHE_SIZE:
                del self.checked[next(iter(self.checked))]  # the oldest entry
            self.checked[key] = checked

    def _check(self, settings: dict[str, Any]) -> SettingsState | TransformError:
        try:
            errors = sorted(self._validator.iter_errors(settings), key=lambda e: [str(p) for p in e.absolute_path])
        except Exception as exc:  # a value jsonschema cannot even inspect (a hostile object)
            return TransformError(f"configuration error: the settings could not be checked ({exc.__class__.__name__})")
        if errors:
            described = dict.fromkeys(describe_error(e, self._messages) for e in errors)  # one message once
            return TransformError("configuration error: " + "; ".join(described))
        try:
            copied = fresh(settings, "settings")
        except TransformError as exc:
            return TransformError(f"configuration error: {exc.message}")
        except Exception:  # a dict subclass whose methods raise, deeper down
            return TransformError(f"configuration error: the settings object {find_not_json(settings) or 'could not be read'}")
        huge = find_huge_int(copied)
        if huge is not None:
            return TransformError(f"configuration error: the settings {huge}")
        where = find_not_unicode(copied)
        if where is not None:
            return TransformError(f"configuration error: setting {where} is not valid Unicode (it holds a lone surrogate)")
        values = [value for name in self._secret_names if (value := copied.get(name)).__class__ is str and value]
        return SettingsState({**self._defaults, **copied}, secret_forms(values))


def secret_forms(values: list[str]) -> tuple[str, ...]:
    """Each secret value as a URL may hold it (as it is, and percent-encoded as a URL path or a
    query needs), longest first, so that redacting one form never leaves part of a longer one."""
    forms = {form for value in values for form in (value, quote(value, safe=""), quote(value, safe="@"),
                                                     quote(value, safe="-_.!~*'()"), quote_plus(value))}
    return tuple(sorted(forms, key=len, reverse=True))


# Setting types whose compact JSON text tells every value apart with its exact type.
_FLAT_TYPES = frozenset({str, int, bool, type(None)})


def cache_key(settings: dict[str, Any]) -> Hashable | None:
    """``value_key(settings)``, or an equivalent that is cheaper to make and to compare: for
    settings of strings, integers, booleans and nulls alone (as most are), their JSON text, in
    which ``true`` and ``1`` differ. orjson refuses what would blur a type there (subclasses,
    non-string keys, integers past 64 bits, lone surrogates): those take the exact path."""
    for value in settings.values():  # a loop: twice as fast as issuperset(map(type, ...)) on a few values
        if value.__class__ not in _FLAT_TYPES:
            return value_key(settings)
    try:
        return orjson.dumps(settings, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return value_key(settings)


def value_key(value: Any, depth: int = 0) -> Hashable | None:
    """A hashable key that two JSON values share only when equal with the same types throughout
    (``True`` and ``1``, ``1`` and ``1.0``, ``0.0`` and ``-0.0`` differ); None for what is not JSON
    (or nested beyond MAX_DEPTH: such settings are validated, and refused, without a cache entry)."""
    cls = value.__class__
    if cls is dict:
        if depth >= MAX_DEPTH:
            return None
        parts: list[Any] = [dict]
        for key, item in value.items():
            kind = item.__class__
            if key.__class__ is not str:
                return None
            if kind is str or kind is bool or kind is int or item is None:  # inline: most settings are these
                parts.append((key, kind, item))
                continue
            sub = value_key(item, depth + 1)
            if sub is None:
                return None
            parts.append((key, sub))
        return tuple(parts)
    if cls is list:
        if depth >= MAX_DEPTH:
            return None
        items: list[Any] = [list]
        for item in value:
            sub = value_key(item, depth + 1)
            if sub is None:
                return None
            items.append(sub)
        return tuple(items)
    if cls is str or cls is bool or cls is int or value is None:
        return (cls, value)
    if cls is float:
        return (cls, repr(value))  # repr tells -0.0 from 0.0, and every NaN is the same 'nan'
    return None


def describe_error(error: Any, messages: Mapping[str, str] | None = None) -> str:
    """A settings problem in words that name the setting and never repeat its value (nor its
    size): the destination's own message for a top-level setting when ``messages`` has one."""
    messages = messages or {}

    def name(path: list[str]) -> str:
        return f"setting {'.'.join(path)}" if path else "settings"

    path = [str(p) for p in error.absolute_path]
    if path and path[0] in messages:
        return messages[path[0]]
    if error.validator == "required" and not path and isinstance(error.instance, Mapping):
        return "; ".join(messages.get(key, f"setting {key} is required")
                         for key in error.validator_value if key not in error.instance)
    return schema_words.describe(error, name, sizes=False)
