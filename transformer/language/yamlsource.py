"""Read a YAML file into plain data plus the line of every node, keyed by its YAML path."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import Problem
from ..runtime.values import MAX_DEPTH
from ._record import FrozenRecord, Record

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A mapping file is a few kilobytes; refusing huge files keeps a typo'd path from eating memory.
MAX_FILE_BYTES = 1_000_000
# Deeper than any mapping or settings file needs (the JSON values in them stop at MAX_DEPTH too).
MAX_NESTING = MAX_DEPTH
# What aliases may add to a file: a few shared blocks, never an exponential expansion.
MAX_ALIAS_NODES = 100_000

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


class Source(Record):
    """One loaded YAML file: its data and where each node stands."""

    __slots__ = ("file", "data", "lines")  # noqa: RUF023 - the fields in order
    file: str
    data: Any
    lines: dict[YamlPath, int]

    def __init__(self, file: str, data: Any, lines: dict[YamlPath, int] | None = None) -> None:
        self.file = file
        self.data = data
        self.lines = {} if lines is None else lines

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


class Limits(FrozenRecord):
    """What one file may hold beyond the bounds every file has (nesting, alias expansion)."""

    __slots__ = ("nodes", "chars")  # noqa: RUF023 - the fields in order
    nodes: int  # values, aliases expanded
    chars: int  # characters in one value

    def __init__(self, nodes: int, chars: int) -> None:
        self._set(nodes=nodes, chars=chars)


def parse_yaml(text: str, display_name: str, limits: Limits | None = None) -> tuple[Source | None, list[Problem]]:
    """The data of a YAML text with the line of each node; None and the problems when it has none."""
    loader = _Loader(text)
    try:
        read = _read_events(loader, display_name, limits)
    finally:
        loader.dispose()
    if isinstance(read, Problem):
        return None, [read]
    if read is not None:
        return read
    # Anchors, aliases, tags, merge keys, complex keys, several documents or a syntax error:
    # PyYAML composes and constructs the text (within the bounds just checked), and words its errors.
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


def _read_events(loader: Any, display_name: str, limits: Limits | None) -> Problem | tuple[Source | None, list[Problem]] | None:
    """Measure nesting and alias expansion from the parser's events, before any node is composed;
    and build the data of a plain text (see _Builder) from the same events, in the same pass.

    The first bound the text breaks; else the data and problems of a plain text; else None: the
    text needs PyYAML's composer (which also words a syntax error with its line).

    The parser keeps its own stack, so it reads text of any depth; composing then recurses in C once
    per level (deep enough text overflows the C stack: a crash, not an exception), and every walk
    after it follows aliases, which can expand a kilobyte into billions of nodes (billion laughs).
    """
    builder: _Builder | None = _Builder(loader, display_name)
    heights: dict[str, tuple[int, int]] = {}  # anchor -> (nodes it expands to, levels it adds)
    open_nodes: list[list[Any]] = []  # per open mapping or sequence: anchor, nodes before it, deepest level in it
    nodes = added = 0
    try:
        while True:
            event = loader.get_event()
            if builder is not None and not builder.add(event):
                builder = None
            cls = event.__class__
            if cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
                nodes += 1
                open_nodes.append([event.anchor, nodes, len(open_nodes) + 1])
                level = len(open_nodes)
            elif cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
                anchor, before, deepest = open_nodes.pop()
                level = deepest
                if anchor is not None:
                    heights[anchor] = (nodes - before + 1, deepest - len(open_nodes))
            elif cls is yaml.ScalarEvent:
                nodes += 1
                if event.anchor is not None:
                    heights[event.anchor] = (1, 0)
                if limits is not None and len(event.value) > limits.chars:
                    return Problem(display_name, _line(event), "", f"a value is longer than {limits.chars:,} characters")
                level = len(open_nodes)
            elif cls is yaml.AliasEvent:
                size, height = heights.get(event.anchor or "", (1, 0))
                nodes += size
                added += size
                level = len(open_nodes) + height
            elif cls is yaml.StreamEndEvent:
                break
            else:
                continue
            if open_nodes and open_nodes[-1][2] < level:
                open_nodes[-1][2] = level
            if level > MAX_NESTING:
                return Problem(display_name, _line(event), "", f"nested deeper than {MAX_NESTING} levels")
            if added > MAX_ALIAS_NODES:
                return Problem(display_name, _line(event), "", f"aliases (*name) expand to more than {MAX_ALIAS_NODES:,} "
                                                               "values; repeat less, or write the values out")
            if limits is not None and nodes > limits.nodes:
                return Problem(display_name, _line(event), "", f"holds more than {limits.nodes:,} values")
    except yaml.YAMLError:
        return None  # a syntax error: composing reports it with its line
    if builder is None:
        return None
    if builder.documents == 0:
        return None, [Problem(display_name, None, "", "file is empty")]
    return builder.source, builder.problems


def _line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark is not None else None


_DUPLICATE_KEY = "duplicate key (YAML keeps only the last one)"  # both readers' words for it
_STR_TAG = "tag:yaml.org,2002:str"
# Scalars PyYAML's SafeConstructor builds from the value alone; any other tag (merge keys, sets,
# binary, an unknown tag) is left to it.
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp"))
_NO_KEY = object()  # a mapping waiting for its next key


class _Open:
    """A mapping or sequence being built: where it stands and, in a mapping, the key waiting for its value."""

    __slots__ = ("container", "key", "key_line", "keys", "path", "written")

    def __init__(self, container: dict[Any, Any] | list[Any], path: YamlPath) -> None:
        self.container = container
        self.path = path
        self.keys: set[str] = set()  # the keys as written, for duplicates
        self.key: Any = _NO_KEY
        self.written = ""  # the key as written: it names the value's YAML path
        self.key_line = 0

    def wants_key(self) -> bool:
        return self.key is _NO_KEY and self.container.__class__ is dict


class _Builder:
    """The data, lines and duplicate keys of a plain YAML text from its parser events: what PyYAML's
    composer and SafeConstructor and then _record_lines give, without a node tree and in one pass.

    Plain: one document; no anchor, alias or explicit tag; keys that are scalars; scalars that
    SafeConstructor builds from their value alone. ``add`` says False at anything else, and at any
    error constructing a scalar: PyYAML then does it all, and decides as it always has.
    """

    def __init__(self, loader: Any, display_name: str) -> None:
        self.loader = loader
        self.source = Source(display_name, None)
        self.problems: list[Problem] = []
        self.open: list[_Open] = []
        self.documents = 0

    def add(self, event: Any) -> bool:
        cls = event.__class__
        if cls is yaml.ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                return False
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == _STR_TAG:
                value = event.value
            elif tag in _SCALAR_TAGS:
                node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
                try:
                    value = self.loader.yaml_constructors[tag](self.loader, node)
                except Exception:  # noqa: BLE001 - whatever it is, PyYAML meets it again and decides
                    return False
            else:
                return False
            if self.open and self.open[-1].wants_key():
                self.key(self.open[-1], value, event)
            else:
                self.place(value, event)
            return True
        if cls is yaml.MappingStartEvent or cls is yaml.SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:
                return False
            if self.open and self.open[-1].wants_key():
                return False  # a mapping or sequence as a key
            container: dict[Any, Any] | list[Any] = {} if cls is yaml.MappingStartEvent else []
            self.open.append(_Open(container, self.place(container, event)))
            return True
        if cls is yaml.MappingEndEvent or cls is yaml.SequenceEndEvent:
            self.open.pop()
            return True
        if cls is yaml.DocumentStartEvent:
            self.documents += 1
            return self.documents == 1  # several: "expected a single document" is PyYAML's to say
        return cls is not yaml.AliasEvent

    def key(self, into: _Open, value: Any, event: Any) -> None:
        """Hold a mapping's key until its value comes; a key written twice is a problem."""
        line = event.start_mark.line + 1
        written = event.value
        if written in into.keys:
            self.problems.append(Problem(self.source.file, line, format_path((*into.path, written)),
                                         _DUPLICATE_KEY))
        into.keys.add(written)
        into.key, into.written, into.key_line = value, written, line

    def place(self, value: Any, event: Any) -> YamlPath:
        """Put a value where the events say and record its line; its YAML path."""
        if not self.open:
            self.source.data = value
            self.source.lines[()] = event.start_mark.line + 1
            return ()
        into = self.open[-1]
        container = into.container
        if container.__class__ is list:
            path: YamlPath = (*into.path, len(container))
            container.append(value)
            self.source.lines.setdefault(path, event.start_mark.line + 1)
            return path
        path = (*into.path, into.written)  # a mapping value stands at its key's line
        container[into.key] = value
        into.key = _NO_KEY
        self.source.lines.setdefault(path, into.key_line)
        return path


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
                                        _DUPLICATE_KEY))
            keys.add(key)
            _record_lines(value_node, path + (key,), source, problems, seen, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, path + (index,), source, problems, seen)
