"""Keep secret settings out of what ``send`` shows: dry-run requests and answer excerpts.

One rule: the values of the settings a destination marks ``secrets`` are redacted wherever they
land, and nothing else is. A value lands as it is, percent-encoded (a URL), JSON-escaped (a body)
or base64-encoded (HTTP Basic auth: the language's ``base64``, of the value alone or with more
text around it); a credential header (``Authorization``) is secret-derived whole, and so is its
credential after the scheme (``Basic <token>``). No length minimum: a 3-character key is redacted
too, and only where it occurs: the text around it is left as it is.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from typing import Any

REDACTED = "[redacted]"
# Headers that carry a credential: shown redacted even when the settings that made them are unknown
# (``Sender.deliver`` of results transformed elsewhere).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})


class Redactor:
    """Replaces each secret string (longest first, so no part of a longer one is left)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def holds(self, text: str) -> bool:
        return any(secret in text for secret in self.secrets)

    def excerpt(self, data: bytes, chars: int) -> str:
        """The first ``chars`` characters of an answer, redacted before the cut: a secret that
        straddles it is never half shown."""
        longest = len(self.secrets[0]) if self.secrets else 0
        text = data[:(chars + longest) * 4].decode("utf-8", "replace")
        return self.text(text)[:chars]

    def value(self, value: Any) -> Any:
        """A JSON value with each string's secrets replaced (keys kept)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        """A request description as it may be shown: each secret replaced in its endpoint, header
        and parameter values and its body (names and keys kept)."""
        shown = dict(request)
        for part in ("endpoint", "headers", "params", "body"):
            if part in request:
                shown[part] = self.value(request[part])
        return shown


def value_forms(values: Iterable[str]) -> set[str]:
    """The forms the secret values take on the wire: as given (URL forms included) and JSON-escaped."""
    forms = set()
    for value in values:
        forms.add(value)
        forms.add(json.dumps(value)[1:-1])
        forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return forms


def for_request(values: Iterable[str], request: dict[str, Any] | None) -> Redactor:
    """The redactor of one request: the secret values' forms, the credential headers' values
    (and the credential after their scheme), and each token of the request's endpoint, headers
    and parameters that base64-decodes to text holding a secret value."""
    forms = value_forms(values)
    derived = set()
    if request is not None:
        raw = [v for v in forms if v]
        headers = request.get("headers", {})
        for name, value in headers.items():
            if name.lower() in CREDENTIAL_HEADERS and isinstance(value, str) and value:
                derived.add(value)
                scheme, _, credential = value.partition(" ")
                if credential and scheme.isalpha():
                    derived.add(credential)
        for part in [request.get("endpoint"), *headers.values(), *request.get("params", {}).values()]:
            if isinstance(part, str) and raw:
                derived.update(_encoded(part, raw))
    return Redactor(forms | derived)


def _encoded(text: str, secrets: list[str]) -> Iterator[str]:
    """The tokens of ``text`` that base64-decode to text holding one of ``secrets``."""
    for token in text.replace(",", " ").split():
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if any(secret in decoded for secret in secrets):
            yield token
