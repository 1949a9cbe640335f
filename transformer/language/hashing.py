"""The ``hash`` step: personal data normalised, then hashed, as the ad APIs ask for it.

A value is normalised with named coercions (``trim``, ``lower``, ``email_canonical``,
``phone_digits``...), then replaced by the lower-case hex digest of its UTF-8 bytes. A value that
already has the digest's form (hex of the digest's length) was hashed upstream: it is kept, in
lower case, and never hashed twice. A list is hashed element by element. hashlib only.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..runtime.values import type_name
from .functions import StepError, to_text

DIGESTS: dict[str, int] = {"sha256": 64, "sha1": 40, "md5": 32}  # name -> length of its hex digest
_HEX = re.compile(r"[0-9a-fA-F]+")

Coercion = Callable[[Any], Any]


class Hasher:
    """One ``hash`` step: its digest and its normalisations, fixed at load."""

    def __init__(self, digest: str, normalize: Sequence[Coercion]) -> None:
        import hashlib  # here, not at import: it loads OpenSSL, and most mappings hash nothing

        self.digest = digest
        self.hex_length = DIGESTS[digest]
        self.normalize = tuple(normalize)
        self._new = hashlib.new

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):  # element by element; an element with no text left is dropped
            hashed = (self.one(item) for item in value if item is not None)
            return [item for item in hashed if item]
        return self.one(value)

    def one(self, value: Any) -> str:
        """The digest of one scalar; "" when normalising leaves no text (the rule then gives nothing)."""
        if isinstance(value, (dict, list)):
            raise StepError(f"hash needs a string or a number, got {type_name(value)}")
        text = to_text(value)
        if len(text) == self.hex_length and _HEX.fullmatch(text):
            return text.lower()  # hashed already: hashing it again would make it useless
        for coerce in self.normalize:
            text = coerce(text)
        if not text:
            return ""
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8 bytes
            raise StepError("hash needs text that is valid Unicode") from None
        return self._new(self.digest, data, usedforsecurity=False).hexdigest()
