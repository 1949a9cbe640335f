"""Named coercions a mapping may apply in ``then`` steps, and the type classes of ``entries``.

Every change of type or shape happens here, by name, so a mapping never converts a value
implicitly. Each coercion takes one value and returns one value, or raises StepError.
"""
from __future__ import annotations

import base64 as _base64
import json
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ..runtime.values import type_name
from ..runtime.wire import compact_json


class StepError(Exception):
    """A step met a value it cannot handle; the engine adds the rule's name to the message."""


def to_text(value: Any) -> str:
    """Render a scalar as text the way JSON writes it (true, 1.5); containers are refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    raise StepError(f"cannot put {_article(type_name(value))} into text")


def _article(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def needs_text(value: Any, coercion: str) -> str:
    if not isinstance(value, str):
        raise StepError(f"{coercion} needs a string, got {_article(type_name(value))}")
    return value


def dasherize(value: Any) -> str:
    """Trim, then turn each run of white space into one dash: ``" Order  Done "`` -> ``Order-Done``."""
    # split() cuts at exactly the white space a regex's \s matches, and is several times faster.
    return "-".join(needs_text(value, "dasherize").split())


def trim(value: Any) -> str:
    """Remove white space at both ends: ``" a b "`` -> ``a b``."""
    return needs_text(value, "trim").strip()


def rstrip(value: Any) -> str:
    """Remove white space at the end: ``"Pricing  "`` -> ``Pricing``."""
    return needs_text(value, "rstrip").rstrip()


def lower(value: Any) -> str:
    """Lower case: ``Ada@Example.COM`` -> ``ada@example.com``."""
    return needs_text(value, "lower").lower()


def upper(value: Any) -> str:
    """Upper case: ``eu`` -> ``EU``."""
    return needs_text(value, "upper").upper()


def digits(value: Any) -> str:
    """Only the digits 0-9 of a string or number: ``"+1 (616) 954-7888"`` -> ``16169547888``."""
    return "".join(char for char in to_text(value) if "0" <= char <= "9")


def phone_digits(value: Any) -> str:
    """A phone number as Meta's Conversions API hashes it: digits only (symbols and letters
    dropped), without leading zeros, country code included as given: ``"+44 020 7946 0000"`` ->
    ``4402079460000``."""
    return digits(value).lstrip("0")


def email_canonical(value: Any) -> str:
    """An e-mail address as the ad APIs hash it: white space trimmed, lower case:
    ``" Ada@Example.COM "`` -> ``ada@example.com``."""
    return needs_text(value, "email_canonical").strip().lower()


def string(value: Any) -> str:
    """A scalar as text, as JSON writes it: ``true`` -> ``"true"``, ``1.5`` -> ``"1.5"``."""
    return to_text(value)


def to_json(value: Any) -> str:
    """Compact JSON text, as JavaScript's JSON.stringify writes it."""
    return compact_json(value)


def json_items(value: Any) -> str:
    """Each item of an array as JSON, joined with commas: ``[1, "a"]`` -> ``1,"a"``."""
    if not isinstance(value, list):
        raise StepError(f"json_items needs an array, got {_article(type_name(value))}")
    return ",".join(to_json(item) for item in value)


# Text made only of what each coercion leaves as it is: most ids and emails. Matching it costs a
# third of quote(), which would give the same text back.
_ESCAPE_KEEPS = re.compile(r"[A-Za-z0-9_.~@-]*").fullmatch
_COMPONENT_KEEPS = re.compile(r"[A-Za-z0-9_.~!*'()-]*").fullmatch


def url_escape(value: Any) -> str:
    """Percent-encode a value for one URL path component (``/`` too; ``@`` kept readable): all but
    ``A-Z a-z 0-9 - _ . ~ @``."""
    if value.__class__ is str and _ESCAPE_KEEPS(value):
        return value
    return _percent_encode(value, "@", "url_escape")


def url_component(value: Any) -> str:
    """Percent-encode all but ``A-Z a-z 0-9 - _ . ! ~ * ' ( )``, as JavaScript's encodeURIComponent."""
    if value.__class__ is str and _COMPONENT_KEEPS(value):
        return value
    return _percent_encode(value, "!*'()", "url_component")


def _percent_encode(value: Any, safe: str, coercion: str) -> str:
    # quote() always leaves letters, digits and "-_.~" alone; ``safe`` adds to them.
    try:
        return quote(to_text(value), safe=safe)
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 bytes to encode
        raise StepError(f"{coercion} needs text that is valid Unicode") from None


def base64(value: Any) -> str:
    """UTF-8 bytes of the text, base64-encoded (as HTTP Basic auth wants)."""
    try:
        return _base64.b64encode(needs_text(value, "base64").encode("utf-8")).decode("ascii")
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 bytes to encode
        raise StepError("base64 needs text that is valid Unicode") from None


def url_parent(value: Any) -> str:
    """A URL without its last path component: ``https://h/v1/items`` -> ``https://h/v1``."""
    text = needs_text(value, "url_parent")
    head, slash, _ = text.rstrip("/").rpartition("/")
    if not slash or head.endswith("/"):
        raise StepError("url_parent needs a URL with a path")
    return head


_WORD = re.compile(r"[^\W_]+")  # letters and digits, any script


def camel(value: Any) -> str:
    """lowerCamelCase from words split at anything but letters and digits: ``favorite_color``,
    ``Favorite Color`` and ``favorite-color`` -> ``favoriteColor``. A word in capitals alone is
    lowered (``MRR total`` -> ``mrrTotal``); a word's other capitals are kept (``userID``)."""
    words: list[str] = [w.lower() if w.isupper() else w for w in _WORD.findall(needs_text(value, "camel"))]
    if not words:
        raise StepError("camel needs a string with a letter or digit")
    first, rest = words[0], words[1:]
    return first[0].lower() + first[1:] + "".join(word[0].upper() + word[1:] for word in rest)


def compact(value: Any) -> Any:
    """An object without its null values, or an array without its null items."""
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [item for item in value if item is not None]
    raise StepError(f"compact needs an object or an array, got {_article(type_name(value))}")


def unique(value: Any) -> list[Any]:
    """An array without repeated items (equal as JSON values, types strict), first ones kept."""
    if not isinstance(value, list):
        raise StepError(f"unique needs an array, got {_article(type_name(value))}")
    seen: set[str] = set()
    out = []
    for item in value:
        key = canonical_json(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# Built once: json.dumps with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_KEPT = frozenset({str, int, bool, type(None)})  # what _whole_numbers leaves as it is, without a call


def canonical_json(value: Any) -> str:
    """JSON text with keys sorted, no white space, and whole numbers without a fraction (``1.0`` is
    ``1``): equal JSON values give equal text, whichever language parsed them."""
    return _CANONICAL(_whole_numbers(value))


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: item if item.__class__ in _KEPT else _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [item if item.__class__ in _KEPT else _whole_numbers(item) for item in value]
    return value


# The namespace of name-based ids: the RFC 4122 URL namespace, so any language can derive the same id.
ID_NAMESPACE = uuid.NAMESPACE_URL


def uuid5(value: Any) -> str:
    """A name-based UUID (version 5) of the value's canonical JSON: the same value, the same id."""
    return str(uuid.uuid5(ID_NAMESPACE, canonical_json(value)))


COERCIONS: dict[str, Callable[[Any], Any]] = {
    "base64": base64,
    "camel": camel,
    "compact": compact,
    "dasherize": dasherize,
    "digits": digits,
    "email_canonical": email_canonical,
    "json": to_json,
    "json_items": json_items,
    "lower": lower,
    "phone_digits": phone_digits,
    "rstrip": rstrip,
    "string": string,
    "trim": trim,
    "unique": unique,
    "upper": upper,
    "url_component": url_component,
    "url_escape": url_escape,
    "url_parent": url_parent,
    "uuid5": uuid5,
}

# ISO 8601 dates and date-times in the W3C profile: YYYY, YYYY-MM, YYYY-MM-DD, then a time with
# optional seconds, fraction and zone.
_ISO_8601 = re.compile(r"\d{4}(-\d\d(-\d\d([Tt]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)?)?)?)?")

_JSON_TYPES = {str: "string", int: "number", float: "number", bool: "boolean", dict: "object", list: "array",
               type(None): "null"}  # type_name's answers for the plain classes, by one dict look-up


def type_class(value: Any) -> str:
    """The class ``entries.by_type`` dispatches on: a JSON type name, with ``datetime`` for a
    string in ISO 8601 form."""
    name = _JSON_TYPES.get(value.__class__) or type_name(value)
    return "datetime" if name == "string" and _ISO_8601.fullmatch(value) else name


def prune(value: Any) -> Any:
    """An object or array without null, ``{}`` and ``[]`` at any depth: what holds only those is
    dropped too (``{"a": {"b": null}, "c": ""}`` -> ``{"c": ""}``). ``""``, ``0`` and ``false`` stay."""
    if not isinstance(value, (dict, list)):
        raise StepError(f"prune needs an object or an array, got {_article(type_name(value))}")
    return _pruned(value)


_PLAIN_SCALARS = frozenset({str, int, float, bool})  # never equal to {} or []


def _pruned(value: Any) -> Any:
    # One pass, each value tested where it stands: a plain scalar is kept without a call.
    if isinstance(value, list):  # as an object keyed by index, in order
        return list(_pruned(dict(enumerate(value))).values())
    if not isinstance(value, dict):
        return value
    kept: dict[Any, Any] = {}
    for key, item in value.items():
        cls = item.__class__
        if cls in _PLAIN_SCALARS:
            kept[key] = item
        elif cls is dict or cls is list or isinstance(item, (dict, list)):
            item = _pruned(item)
            if item:  # not {} or [] once pruned
                kept[key] = item
        elif item is not None and item != {} and item != []:
            kept[key] = item
    return kept


COERCIONS["prune"] = prune  # listed apart from the table above, after its definition

# The coercions that give a plain str (or raise): generated code tests what they give as text.
GIVES_TEXT = frozenset({base64, camel, dasherize, digits, email_canonical, to_json, json_items, lower, phone_digits,
                        rstrip, string, trim, upper, url_component, url_escape, url_parent, uuid5})
