"""Reading a JSON array element by element, in flat memory, where a broken element is an error in
its place and the elements after it are still read."""
from __future__ import annotations

import codecs
import io
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

from ..runtime.values import has_surrogate
from .records import Lines, Record, Unreadable, lines_as_read, read_event

CHUNK = 1 << 16  # what a JSON array is read by

_NOT_SPACE = re.compile(r"[^ \t\r\n]")
_IN_STRING = re.compile(r'["\\\n]')
_OUTSIDE_STRING = re.compile(r'["\[\]{},]')


def array_events(first: bytes, first_no: int, handle: io.BufferedIOBase, label: str) -> Iterator[Record]:
    """The elements of a JSON array, each decoded once from a buffer of a few chunks. An element
    that does not decode is found by scanning to the ',' or ']' that ends it (outside strings and
    brackets), reported in its place, and the elements after it are read on."""
    reader = _ArrayText(first, first_no, handle)
    expect_value = True
    index = 0
    while True:
        char = reader.next_char()
        if char == "":  # a truncated array: every element read so far has had its result; so has the end
            yield {"file": label, "index": index}, Unreadable(
                f"{label}: the JSON array is not closed (no ']' after element {index - 1})" if index else
                f"{label}: the JSON array is not closed (no ']')")
            return
        if char == "]":
            reader.pos += 1
            break
        if char == "," and not expect_value:
            reader.pos += 1
            expect_value = True
            continue
        where = f"{label}: element {index} of the JSON array"
        yield {"file": label, "index": index}, reader.element(expect_value, where)
        index += 1
        expect_value = False
    # What follows the array must be white space: any other line is an error in its place.
    line, rest = reader.after_array()
    end = rest.rfind(b"\n") + 1  # whole lines now; a line not yet ended begins what is read on
    for data in itertools.chain([rest[:end]] if end else [], lines_as_read(handle, rest[end:])):
        block = Lines(label, line, data)
        yield from block.records(after_array=True)
        line += block.count()


class _ArrayText:
    """The array's text as read so far: a buffer of a few chunks, the position reached in it, and
    how many lines lie before it (for messages). Decodes an element where it can, and otherwise
    scans to the element's end so reading can go on after it."""

    def __init__(self, first: bytes, first_no: int, handle: io.BufferedIOBase) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._decoder = json.JSONDecoder()
        self._handle = handle
        self.buffer = self._utf8.decode(first)
        self.pos = self.buffer.index("[") + 1
        self.lines_before = first_no - 1  # newlines before buffer[0]
        self.eof = False

    def more(self) -> int:
        """Append a chunk, dropping what is before pos; how far positions moved (-1 at the end).
        A chunk is at least as large as the element read so far, so a large element is copied a
        few times, not once per chunk."""
        chunk = self._handle.read(max(CHUNK, len(self.buffer) - self.pos))
        if not chunk:
            self.eof = True
            self.buffer += self._utf8.decode(b"", True)
            return -1
        shift = self.pos
        self.lines_before += self.buffer.count("\n", 0, self.pos)
        self.buffer = self.buffer[self.pos:] + self._utf8.decode(chunk)
        self.pos = 0
        return shift

    def next_char(self) -> str:
        """The next character that is not white space ("" at the end), with pos at it."""
        while (match := _NOT_SPACE.search(self.buffer, self.pos)) is None:
            self.pos = len(self.buffer)
            if self.more() < 0:
                return ""
        self.pos = match.start()
        return self.buffer[self.pos]

    def element(self, expected_value: bool, where: str) -> Any:
        """The element at pos, decoded, or Unreadable saying why not; pos moves past it."""
        if expected_value:
            try:
                value, end = self._decoder.raw_decode(self.buffer, self.pos)
                if end < len(self.buffer) or self.eof:
                    if not has_surrogate(self.buffer[self.pos:end]):  # decoded with surrogateescape: not UTF-8
                        self.pos = end
                        return value
            except (ValueError, RecursionError):
                pass
        end = self._extent()  # may read on: pos then moves, still at the element's start
        text = self.buffer[self.pos:end]
        where += f" (line {self.line_at(self.pos)})"
        self.pos = end
        raw = text.encode("utf-8", "surrogateescape")
        if not expected_value:
            return Unreadable(f"{where}: expected ',' or ']' before it", raw)
        return read_event(raw, where)

    def line_at(self, at: int) -> int:
        """The input's line number at position ``at`` of the buffer."""
        return self.lines_before + self.buffer.count("\n", 0, at) + 1

    def _extent(self) -> int:
        """Where the element at pos ends: the index of its closing ',' or ']' (len(buffer) at the end).

        A ',' in an object followed by '{' or '[' cannot be JSON (a key must follow): it is where an
        element whose '}' is missing ends and the next element begins (so the next is still read)."""
        at, in_string = self.pos, False
        open_brackets: list[str] = []
        still_open = {"[": 0, "{": 0}
        comma = -1  # a ',' just read inside an object, with only white space after it so far
        while True:
            match = (_IN_STRING if in_string else _OUTSIDE_STRING).search(self.buffer, at)
            if match is None or match.group() == "\\" and match.end() == len(self.buffer):
                at = match.start() if match is not None else len(self.buffer)
                shift = self.more()
                if shift < 0:
                    return len(self.buffer)
                at -= shift
                comma -= shift if comma >= 0 else 0
                continue
            char, at = match.group(), match.end()
            if char in "[{" and not in_string and comma >= 0 and not self.buffer[comma + 1:match.start()].strip():
                return comma
            comma = match.start() if char == "," and not in_string and open_brackets[-1:] == ["{"] else -1
            if in_string:
                # An escape skips a character; a raw newline cannot be in a JSON string, so a string
                # left open ends there and the scan finds its way back to the elements.
                at += char == "\\"
                in_string = char == "\\"
            elif char == '"':
                in_string = True
            elif char in "[{":
                open_brackets.append(char)
                still_open[char] += 1
            elif char in "]}":
                # A closer closes its own kind (and whatever is left open inside it); a ']' with no
                # '[' open in the element is the array's own end, even after a '{' left open.
                kind = "[" if char == "]" else "{"
                if still_open[kind]:
                    while (opened := open_brackets.pop()) != kind:
                        still_open[opened] -= 1
                    still_open[kind] -= 1
                elif char == "]":
                    return match.start()
            elif not open_brackets:
                return match.start()

    def after_array(self) -> tuple[int, bytes]:
        """After the closing ']': the line it is on, and the text already read past it."""
        line = self.line_at(self.pos)
        return line, self.buffer[self.pos:].encode("utf-8", "surrogateescape") + self._utf8.getstate()[0]
