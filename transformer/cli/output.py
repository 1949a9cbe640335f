"""Writing results: one line of compact JSON each, straight to stdout's bytes."""
from __future__ import annotations

import json
import sys
from typing import Any

from ..runtime.wire import json_line


def line_bytes(result: dict[str, Any]) -> bytes:
    try:
        return json_line(result)
    except UnicodeEncodeError:  # never from the library; escaped rather than lose the line
        return (json.dumps(result, separators=(",", ":")) + "\n").encode("ascii")


def line_writer() -> Any:
    """Write one result as a line of compact JSON (bytes straight to stdout's buffer when it has one);
    bytes are a block's lines already encoded, flushed at once: the next read may wait for input,
    and what was read so far has its results out meanwhile."""
    buffer = getattr(sys.stdout, "buffer", None)

    def write(result: dict[str, Any] | bytes) -> None:
        data = result if isinstance(result, bytes) else line_bytes(result)
        if buffer is not None:
            buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
        if data is result:
            (buffer or sys.stdout).flush()

    return write
