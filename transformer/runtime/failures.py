"""What a failure while transforming one event becomes: that event's error, never the batch's.

``transform`` and ``explain`` both answer with this, so an input fails the same way in both."""
from __future__ import annotations

from typing import Any

from ..errors import TransformError
from .values import find_huge_int, find_not_json, find_not_unicode, has_surrogate, printable


def event_error(exc: Exception, name: str, message: Any) -> TransformError:
    """``exc``, raised while destination ``name`` transformed ``message``, as the event's error."""
    if isinstance(exc, TransformError):
        if has_surrogate(exc.message):  # a message quoting the event: still valid UTF-8
            return TransformError(printable(exc.message), exc.status_code)
        return exc
    if isinstance(exc, RecursionError):
        return TransformError(f"{name}: the event is nested too deeply to read")
    if isinstance(exc, UnicodeEncodeError):
        # Settings and look-up answers are checked on their own, so the event holds it (e.g. an
        # emoji cut in half by a client): a 400 naming the field, never an output that cannot be sent.
        where = find_not_unicode(message)
        field = f"the event's {where}" if where else "the event"
        return TransformError(f"{name}: {field} is not valid Unicode (it holds a lone surrogate, e.g. half of an emoji)")
    # Plain JSON input cannot make a rule raise: a value that is not JSON (a dict subclass whose get
    # raises, an object whose == raises) is the input's fault, and named as such.
    where = find_not_json(message) or find_huge_int(message)
    if where is not None:
        return TransformError(f"{name}: the event {where}")
    # Otherwise an engine bug: still one event's error, never the batch's.
    return TransformError(f"{name}: internal error ({exc.__class__.__name__}); please report it", 500)
