"""Every input of the event files (or stdin), in order: NDJSON in blocks as read, or a JSON array
element by element."""
from __future__ import annotations

import io
import itertools
import sys
from collections.abc import Iterator

from ..runtime.values import printable
from .jsonarray import array_events
from .records import JSON_SPACE, Block, Lines, Record, lines_as_read, without_bom


def read_events(names: list[str]) -> Iterator[Record]:
    """Every input of the files (or stdin, for "-"), in order, as (metadata, event)."""
    for block in read_blocks(names):
        yield from block.records() if isinstance(block, Lines) else block


def read_blocks(names: list[str]) -> Iterator[Block]:
    """Every input of the files, in order, in blocks: the NDJSON lines one read brought, or one
    element of a JSON array as [(metadata, event)]."""
    for name in names:
        label = printable(name) if name != "-" else "<stdin>"
        handle = stdin_bytes() if name == "-" else open(name, "rb")  # noqa: SIM115
        try:
            yield from _blocks_in(handle, label)
        finally:
            if name != "-":
                handle.close()


def stdin_bytes() -> io.BufferedIOBase:
    """Standard input's bytes, through a reader of its own when it is a real file or pipe: not
    sys.stdin.buffer, whose lock the reading thread of --jobs holds while input is awaited, and
    which a worker process takes as it starts (it closes sys.stdin): it would wait forever."""
    try:
        return open(sys.stdin.fileno(), "rb", closefd=False)  # noqa: SIM115
    except (AttributeError, OSError, ValueError):  # a stream put in its place (a test, an embedding program)
        pass
    buffer: io.BufferedIOBase | None = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer
    return io.BytesIO(sys.stdin.read().encode("utf-8", "surrogateescape"))  # a text stream put in its place


def _blocks_in(handle: io.BufferedIOBase, label: str) -> Iterator[Block]:
    """NDJSON, or a JSON array element by element (the first byte that is not white space says
    which): memory stays flat either way. Bytes are read, so a line that is not UTF-8 is one error
    in its place."""
    for number, line in enumerate(handle, start=1):
        if number == 1:
            line = without_bom(line)
        text = line.strip(JSON_SPACE)  # only JSON's white space: a line of "\xa0" is an input
        if not text:
            continue
        if text.startswith(b"["):
            yield from ([record] for record in array_events(line, number, handle, label))
            return
        for data in itertools.chain([line], lines_as_read(handle)):
            block = Lines(label, number, data)
            yield block
            number += block.count()
        return
