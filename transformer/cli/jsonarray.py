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
    utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    decode = utf8.decode
    decoder = json.JSONDecoder()
    buffer = decode(first)
    pos = buffer.index("[") + 1
    lines_before = first_no - 1  # newlines before buffer[0]
    eof = False
    index = 0

    def more() -> int:
        """Append a chunk, dropping what is before pos; how far positions moved (-1 at the end).
        A chunk is at least as large as the element read so far, so a large element is copied a
        few times, not once per chunk."""
        nonlocal buffer, pos, lines_before, eof
        chunk = handle.read(max(CHUNK, len(buffer) - pos))
        if not chunk:
            eof = True
            buffer += decode(b"", True)
            return -1
        shift = pos
        lines_before += buffer.count("\n", 0, pos)
        buffer = buffer[pos:] + decode(chunk)
        pos = 0
        return shift

    def next_char() -> str:
        nonlocal pos
        while (match := _NOT_SPACE.search(buffer, pos)) is None:
            pos = len(buffer)
            if more() < 0:
                return ""
        pos = match.start()
        return buffer[pos]

    def extent() -> int:
        """Where the element at pos ends: the index of its closing ',' or ']' (len(buffer) at the end)."""
        at, in_string = pos, False
        open_brackets: list[str] = []
        still_open = {"[": 0, "{": 0}
        while True:
            match = (_IN_STRING if in_string else _OUTSIDE_STRING).search(buffer, at)
            if match is None or match.group() == "\\" and match.end() == len(buffer):
                at = match.start() if match is not None else len(buffer)
                shift = more()
                if shift < 0:
                    return len(buffer)
                at -= shift
                continue
            char, at = match.group(), match.end()
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

    def element(expected_value: bool) -> Any:
        nonlocal pos
        if expected_value:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                if end < len(buffer) or eof:
                    if not has_surrogate(buffer[pos:end]):  # decoded with surrogateescape: a byte not UTF-8
                        pos = end
                        return value
            except (ValueError, RecursionError):
                pass
        end = extent()  # may read on: pos then moves, still at the element's start
        text, start_line = buffer[pos:end], lines_before + buffer.count("\n", 0, pos) + 1
        pos = end
        where = f"{label}: element {index} of the JSON array (line {start_line})"
        if not expected_value:
            return Unreadable(f"{where}: expected ',' or ']' before it", text.encode("utf-8", "surrogateescape"))
        return read_event(text.encode("utf-8", "surrogateescape"), where)

    expect_value = True
    while True:
        char = next_char()
        if char == "":  # a truncated array: every element read so far has had its result; so has the end
            yield {"file": label, "index": index}, Unreadable(
                f"{label}: the JSON array is not closed (no ']' after element {index - 1})" if index else
                f"{label}: the JSON array is not closed (no ']')")
            return
        if char == "]":
            pos += 1
            break
        if char == "," and not expect_value:
            pos += 1
            expect_value = True
            continue
        yield {"file": label, "index": index}, element(expect_value)
        index += 1
        expect_value = False
    # What follows the array must be white space: any other line is an error in its place.
    line = lines_before + buffer.count("\n", 0, pos) + 1
    rest = io.BytesIO(buffer[pos:].encode("utf-8", "surrogateescape") + utf8.getstate()[0]).readlines()
    begun = rest.pop() if rest and not rest[-1].endswith(b"\n") else b""
    for lines in itertools.chain([rest], lines_as_read(handle, begun)):
        yield from Lines(label, line, lines).records(after_array=True)
        line += len(lines)
