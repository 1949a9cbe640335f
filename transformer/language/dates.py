"""Dates for the ``date`` step: read an ISO 8601 string or an epoch number, write unix time or ISO.

Instants are carried as whole microseconds since 1970-01-01T00:00:00Z, so no conversion rounds
through a float twice. Finer fractions are cut, not rounded (as a clock would show them).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ..runtime.values import type_name
from .functions import StepError

# A date, optionally with a time (minutes, seconds and a fraction optional) and a zone: 2024-01-02,
# 2024-01-02T03:04Z, 2024-01-02 03:04:05.123456789+05:30. No zone means UTC.
_ISO_8601 = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
                       r"([Zz]|[+-]\d\d(?::?\d\d)?)?)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROS = {"seconds": 1_000_000, "millis": 1_000}
_FRACTION_DIGITS = {"seconds": 0, "millis": 3, "micros": 6}


def read_instant(value: Any, epoch: str) -> int:
    """Microseconds since the epoch of an ISO 8601 string, or of a number of ``epoch`` units."""
    if isinstance(value, str):
        return _read_iso(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StepError(f"date needs an ISO 8601 string or an epoch number, got {type_name(value)}")
    return value * _MICROS[epoch] if isinstance(value, int) else round(value * _MICROS[epoch])


def _read_iso(text: str) -> int:
    match = _ISO_8601.fullmatch(text)
    if match is None:
        raise StepError("date cannot read the string as an ISO 8601 date")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                          int(((fraction or "") + "000000")[:6]), tzinfo=timezone.utc)
    except ValueError:  # month 13, February 30th, hour 24, a leap second...
        raise StepError("date found no such day or time in the string") from None
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:] or 0) * 60
        micros -= (offset if zone[0] == "+" else -offset) * 1_000_000
    return micros


def unix(micros: int, unit: str) -> int:
    return micros // _MICROS[unit]


def iso(micros: int, precision: str) -> str:
    """``2024-01-02T03:04:05.678Z``: UTC, with the fraction ``precision`` asks for."""
    try:
        moment = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise StepError("date is outside the years 1 to 9999") from None
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    digits = _FRACTION_DIGITS[precision]
    if digits:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    return text + "Z"
