"""What one input is: a line (or array element) of JSON parsed into an event, or an Unreadable
that still gets its own (error) result in its place; blocks of NDJSON lines as read."""
from __future__ import annotations

import io
import json
import operator
import pickle
from collections.abc import Iterator
from typing import Any, SupportsIndex

import orjson

from ..runtime.json_words import json_problem

READ = 1 << 18  # what NDJSON is read by, at most: a block of inputs (about 500 of 500 bytes)

# An integer of 20 digits, or of 19 below zero, may lie outside 64 bits, which orjson would read as a
# float (losing digits): the standard library reads such text. Found as a run of 20 bytes that are
# digits or "-" (each mapped to "0", any other byte to " "), one search for both kinds: ten times
# faster than a regular expression, which cost more than orjson's parse itself. A run that is no
# such integer (a long phone number in a string) only takes the slower path to the same event.
DIGIT_BYTES = bytes(48 if 48 <= byte <= 57 or byte == 45 else 32 for byte in range(256))
LONG_DIGITS = b"0" * 20
JSON_SPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


def parse_json(data: bytes) -> Any:
    """orjson for speed; the standard library for what orjson refuses or reads differently (NaN,
    lone surrogate escapes, integers past 64 bits) and for its error message, so the result never
    depends on the parser. Raises UnicodeDecodeError, another ValueError, or RecursionError."""
    if LONG_DIGITS not in data.translate(DIGIT_BYTES):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data.decode("utf-8"))


def without_bom(data: bytes) -> bytes:
    """Input text without the UTF-8 byte order mark some editors put first (every reader skips it)."""
    return data[len(_BOM):] if data.startswith(_BOM) else data


def read_event(data: bytes, where: str) -> Any:
    """One input's event, or Unreadable saying why it is not one (``where`` names the input)."""
    try:
        return parse_json(data)
    except UnicodeDecodeError as exc:
        return Unreadable(f"{where}: not valid UTF-8 (byte {exc.start + 1} is 0x{data[exc.start]:02x})", data)
    except json.JSONDecodeError as exc:
        return Unreadable(f"{where}: not valid JSON: {json_problem(exc)}", data)
    except ValueError as exc:  # what json refuses beyond its grammar (an integer too long to read)
        return Unreadable(f"{where}: not valid JSON ({exc})", data)
    except RecursionError:
        return Unreadable(f"{where}: nested too deeply to read", data)


class Unreadable:
    """An input that could not be parsed: it still yields one (error) result, in its place.
    ``raw`` is its text as read (None when there is none, e.g. a missing ']'), so `send` can
    write it to the dead letter."""

    def __init__(self, reason: str, raw: bytes | None = None) -> None:
        self.reason = reason
        self.raw = raw


Record = tuple[dict[str, Any], Any]


class Lines:
    """A block of NDJSON lines as read: ``data`` holds whole lines (the input's last maybe without
    its b"\\n"), the first numbered ``first``. One bytes, not a list: a --jobs worker is sent it
    as it was read, and the lines are split (and parsed) only where they are transformed."""

    __slots__ = ("data", "first", "label")

    def __init__(self, label: str, first: int, data: bytes) -> None:
        self.label, self.first, self.data = label, first, data

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        # A --jobs task: with pickle protocol 5 its bytes may travel beside the pickle, not copied
        # into it (engines.parallel); they arrive as bytes either way.
        data = pickle.PickleBuffer(self.data) if operator.index(protocol) >= 5 else self.data
        return Lines, (self.label, self.first, data)

    def count(self) -> int:
        """How many lines the block holds (blank ones too)."""
        return self.data.count(b"\n") + (not self.data.endswith(b"\n"))

    def records(self, after_array: bool = False) -> Iterator[Record]:
        """(metadata, event) for each line that is not blank; after a JSON array, each is an error."""
        label = self.label
        # One look at the whole block for integers past 64 bits: a block without any is parsed by
        # orjson straight away, sparing each line parse_json's own look (a third of its cost).
        loads = parse_json if LONG_DIGITS in self.data.translate(DIGIT_BYTES) else orjson.loads
        lines = self.data.split(b"\n")
        if self.data.endswith(b"\n"):
            lines.pop()  # the empty text after the last line's end
        for number, line in enumerate(lines, start=self.first):
            if not line.strip(JSON_SPACE):
                continue
            if after_array:
                event = Unreadable(f"{label}:{number}: text after the end of the JSON array (a file holds NDJSON "
                                   "or one JSON array)", line)
            else:
                try:
                    event = loads(line)
                except (ValueError, RecursionError):  # what orjson refuses: parse_json reads it, or says why not
                    event = read_event(line, f"{label}:{number}")
            yield {"file": label, "line": number}, event


Block = Lines | list[Record]


def lines_as_read(handle: io.BufferedIOBase, start: bytes = b"") -> Iterator[bytes]:
    """The lines still to read (``start`` begins the first), whole, as one bytes per read: what one
    read brought goes on before the next read, which may wait for input. A line longer than a read
    is joined once, when its end has come; the input's last line may have no b"\\n"."""
    begun = [start] if start else []
    while chunk := handle.read1(READ):
        end = chunk.rfind(b"\n") + 1
        if not end:  # no line ends in this read
            begun.append(chunk)
            continue
        yield b"".join([*begun, chunk[:end]]) if begun else chunk[:end]
        begun = [chunk[end:]] if end < len(chunk) else []
    if begun:
        yield b"".join(begun)
