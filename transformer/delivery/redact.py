"""Keep secret settings out of what ``send`` shows: dry-run requests and answer excerpts.

One rule: the values of the settings a destination marks ``secrets`` are redacted wherever they
land, and nothing else is. A value lands as it is, percent-encoded (a URL), JSON-escaped (a body)
or base64-encoded (HTTP Basic auth: the language's ``base64``, of the value alone or with more
text around it); a request's header or parameter value that holds one of these forms is itself
secret-derived, and so is its credential after the scheme (``Basic <token>``). No length minimum:
a 3-character key is redacted too, and only where it occurs.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
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
        """A request description as it may be shown: an endpoint, header or parameter holding a
        secret redacted whole (as ``explain`` shows it), and each secret in the body replaced."""
        whole = lambda value: REDACTED if isinstance(value, str) and self.holds(value) else value  # noqa: E731
        shown = dict(request)
        shown["endpoint"] = whole(request["endpoint"])
        shown["headers"] = {name: whole(value) for name, value in request["headers"].items()}
        shown["params"] = {name: whole(value) for name, value in request.get("params", {}).items()}
        if isinstance(request.get("body"), dict):
            shown["body"] = self.value(request["body"])
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
    """The redactor of one request: the secret values' forms, and the request's header and
    parameter values that hold one of them (encoded or not)."""
    forms = value_forms(values)
    derived = set()
    if request is not None:
        raw = [v for v in forms if v]
        headers = request.get("headers", {})
        credentials = [v for k, v in headers.items() if k.lower() in CREDENTIAL_HEADERS]
        parts = [request.get("endpoint"), *headers.values(), *request.get("params", {}).values()]
        for part in parts:
            if isinstance(part, str) and (part in credentials or any(_holds(part, secret) for secret in raw)):
                derived.add(part)
                scheme, _, credential = part.partition(" ")
                if credential and scheme.isalpha():
                    derived.add(credential)
    return Redactor(forms | derived)


def _holds(text: str, secret: str) -> bool:
    """Whether ``text`` holds ``secret`` as it is, or a token of it that base64-decodes to text
    holding it."""
    if secret in text:
        return True
    for token in text.replace(",", " ").split():
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if secret in decoded:
            return True
    return False
