"""Read a YAML file into plain data plus the line of every node, keyed by its YAML path."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A mapping file is a few kilobytes; refusing huge files keeps a typo'd path from eating memory.
MAX_FILE_BYTES = 1_000_000

YamlPath = tuple[str | int, ...]


def format_path(path: YamlPath) -> str:
    """``('body', 'object', 'emails', 0)`` -> ``body.object.emails[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class Source:
    """One loaded YAML file: its data and where each node stands."""

    file: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line(self, path: YamlPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: YamlPath, message: str) -> Problem:
        return Problem(self.file, self.line(path), format_path(path), message)


def read_text(path: Path, display_name: str) -> tuple[str | None, list[Problem]]:
    """A mapping file's text; on failure None and the problems instead of raising."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Problem(display_name, None, "", f"file is {size} bytes; mapping files are limited to {MAX_FILE_BYTES}")]
        return path.read_text(encoding="utf-8"), []
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(display_name, None, "", f"cannot read file: {exc.__class__.__name__}: {exc}")]


def parse_yaml(text: str, display_name: str) -> tuple[Source | None, list[Problem]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [Problem(display_name, None, "", "file is empty")]
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, display_name)]
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return None, [Problem(display_name, None, "", f"YAML error: {exc.__class__.__name__}")]
    finally:
        loader.dispose()
    source = Source(display_name, data)
    problems: list[Problem] = []
    _record_lines(node, (), source, problems, set())
    return source, problems


# An unclosed bracket or quote is noticed only where the text stops making sense, often lines
# later; the mistake is where the unclosed thing opens, which the error's context marks.
_UNCLOSED = ("flow mapping", "flow sequence", "quoted scalar")


def _syntax_problem(exc: yaml.MarkedYAMLError, display_name: str) -> Problem:
    mark = exc.problem_mark
    noticed = ""
    if exc.context_mark is not None and (mark is None or any(kind in (exc.context or "") for kind in _UNCLOSED)):
        if mark is not None and mark.line != exc.context_mark.line:
            noticed = f" (noticed at line {mark.line + 1})"
        mark = exc.context_mark
    line = mark.line + 1 if mark is not None else None
    reason = ": ".join(part for part in (exc.context, exc.problem) if part)
    return Problem(display_name, line, "", f"YAML syntax error: {reason}{noticed}")


def _record_lines(node: Any, path: YamlPath, source: Source, problems: list[Problem], seen: set[int],
                  line: int | None = None) -> None:
    # A mapping's value stands at its key's line (a block value starts on the line after the key).
    source.lines.setdefault(path, line if line is not None else node.start_mark.line + 1)
    if id(node) in seen:  # an alias: its lines were recorded where the anchor stands
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            if key in keys:
                problems.append(Problem(source.file, key_node.start_mark.line + 1, format_path(path + (key,)),
                                        "duplicate key (YAML keeps only the last one)"))
            keys.add(key)
            _record_lines(value_node, path + (key,), source, problems, seen, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, path + (index,), source, problems, seen)
