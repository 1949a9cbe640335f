"""JMESPath expressions compiled once into one plain Python function each.

The jmespath library interprets its parsed tree on every search, dispatching on each node's type:
about 5 µs for ``context.ids[?type == 'crm'].id | [0]`` even when the event has no ``ids``. The node
types that make up most expressions (fields, indexes, pipes, filters and projections, ``==``,
``!=``, ``||``, ``&&``) are written here as the statements that do what the library's
``TreeInterpreter`` does, node for node, into the source of one function, compiled once: a search is
then one call. Any other node (functions, ordering comparisons, slices, multi-selects, ``!``) is
handed to that interpreter as it is, from within the function.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jmespath.visitor  # type: ignore[import-untyped]

Search = Callable[[Any], Any]
_Node = dict[str, Any]

# A generated function nests a block for each projection, ``||`` and ``&&``: Python refuses more
# than 100 nested blocks (and deep expressions cost more to compile than to interpret).
MAX_BLOCKS = 20


def compile_search(node: _Node, interpreter: Any) -> Search:
    """A function giving what ``interpreter.visit(node, value)`` gives, for every value."""
    writer = _Writer(interpreter)
    try:
        writer.emit(node, "value", "result", 1)
        source = "def search(value):\n" + "\n".join(writer.lines) + "\n    return result\n"
        namespace = dict(writer.constants)
        exec(compile(source, "<jmespath search>", "exec"), namespace)  # noqa: S102 - source written above, from the parsed tree
    except (_TooDeep, RecursionError, SyntaxError, MemoryError):
        return partial(interpreter.visit, node)
    search: Search = namespace["search"]
    search.__doc__ = source  # what the expression compiled to, for whoever debugs it
    return search


def _field(value: Any, name: str) -> Any:
    """A field of what is not a plain dict: the interpreter's ``value.get(name)``, None without get."""
    try:
        return value.get(name)
    except AttributeError:
        return None


def _index(value: Any, position: int) -> Any:
    if not isinstance(value, list):
        return None
    try:
        return value[position]
    except IndexError:
        return None


def _is_projection(node: _Node) -> bool:
    return node["type"] in ("projection", "filter_projection")


def _is_first(node: _Node) -> bool:
    """``[0]`` on the value as it is."""
    children = node["children"]
    return (node["type"] == "index_expression" and len(children) == 2 and children[0]["type"] in ("identity", "current")
            and children[1]["type"] == "index" and children[1]["value"] == 0)


def _is_text(node: _Node) -> bool:
    return node["type"] == "literal" and node["value"].__class__ is str


class _TooDeep(Exception):
    pass


class _Writer:
    """The statements of one search function: each node's, reading one local and setting another."""

    def __init__(self, interpreter: Any) -> None:
        self.interpreter = interpreter
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {"_field": _field, "_index": _index}
        self.count = 0

    def local(self) -> str:
        self.count += 1
        return f"_v{self.count}"

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        if depth > MAX_BLOCKS:
            raise _TooDeep
        self.lines.append("    " * depth + text)

    def emit(self, node: _Node, source: str, target: str, depth: int) -> None:
        """Lines setting local ``target`` to the node's value on the value in local ``source``."""
        kind, children = node["type"], node["children"]
        if kind == "field":
            name = repr(node["value"])
            self.line(depth, f"{target} = {source}.get({name}) if {source}.__class__ is dict else _field({source}, {name})")
        elif kind == "pipe" and _is_projection(children[0]) and _is_first(children[1]):
            # A projection's first element (`ids[?type == 'crm'].id | [0]`): the loop stops at it.
            self.projection(children[0]["children"], source, target, depth, first_only=True)
        elif kind in ("subexpression", "index_expression", "pipe"):
            current = source
            for index, child in enumerate(children):  # the last step writes the target itself
                last = index == len(children) - 1
                if child["type"] in ("identity", "current") and not last:
                    continue  # the value as it is: the next step reads it where it is
                step = target if last else self.local()
                self.emit(child, current, step, depth)
                current = step
        elif kind in ("identity", "current"):
            self.line(depth, f"{target} = {source}")
        elif kind == "literal":
            self.line(depth, f"{target} = {self.constant(node['value'])}")
        elif kind == "index":
            position = int(node["value"])
            inside = f"len({source}) > {position}" if position >= 0 else f"len({source}) >= {-position}"
            # A plain list with the position inside it, read in place; anything else as the interpreter does.
            # None, not a list: None without a call (the usual miss: nothing there).
            self.line(depth, f"{target} = {source}[{position}] if {source}.__class__ is list and {inside} else "
                             f"None if {source} is None else _index({source}, {position})")
        elif kind == "comparator" and node["value"] in ("eq", "ne") and any(_is_text(child) for child in children):
            # Against a string literal the interpreter's equality is plain ==: it differs only for 0
            # and 1 against a boolean.
            literal = next(child for child in children if _is_text(child))
            other = self.local()
            self.emit(children[1] if literal is children[0] else children[0], source, other, depth)
            test = f"{other} == {literal['value']!r}"
            self.line(depth, f"{target} = {test}" if node["value"] == "eq" else f"{target} = not ({test})")
        elif kind == "comparator" and node["value"] in ("eq", "ne"):  # ordering: the interpreter's own rules
            left, right = self.local(), self.local()
            self.emit(children[0], source, left, depth)
            self.emit(children[1], source, right, depth)
            equals = self.constant(jmespath.visitor.TreeInterpreter.COMPARATOR_FUNC[node["value"]])
            self.line(depth, f"{target} = {equals}({left}, {right})")
        elif kind in ("projection", "filter_projection"):
            self.projection(children, source, target, depth)
        elif kind == "flatten":
            base = self.local()
            self.emit(children[0], source, base, depth)
            self.line(depth, f"if isinstance({base}, list):")
            self.line(depth + 1, f"{target} = []")
            self.line(depth + 1, f"for _item in {base}:")
            self.line(depth + 2, f"{target}.extend(_item) if isinstance(_item, list) else {target}.append(_item)")
            self.line(depth, "else:")
            self.line(depth + 1, f"{target} = None")
        elif kind in ("or_expression", "and_expression"):
            self.emit(children[0], source, target, depth)
            false = self.falsehood(target)
            self.line(depth, f"if {false}:" if kind == "or_expression" else f"if not ({false}):")
            self.emit(children[1], source, target, depth + 1)
        else:
            self.line(depth, f"{target} = {self.constant(partial(self.interpreter.visit, node))}({source})")

    def projection(self, children: list[_Node], source: str, target: str, depth: int, first_only: bool = False) -> None:
        """A projection's list (None where its base is not a list); ``first_only``: its first
        element, None where there is none."""
        base, item, kept = self.local(), self.local(), self.local()
        self.emit(children[0], source, base, depth)
        self.line(depth, f"if isinstance({base}, list):")
        self.line(depth + 1, f"{target} = None" if first_only else f"{target} = []")
        self.line(depth + 1, f"for {item} in {base}:")
        inner = depth + 2
        if len(children) == 3:  # a filter: the element counts when its condition is true (JMESPath's truth)
            condition = self.local()
            self.emit(children[2], item, condition, inner)
            self.line(inner, f"if {self.falsehood(condition)}:")
            self.line(inner + 1, "continue")
        self.emit(children[1], item, kept, inner)
        self.line(inner, f"if {kept} is not None:")
        if first_only:
            self.line(inner + 1, f"{target} = {kept}")
            self.line(inner + 1, "break")
        else:
            self.line(inner + 1, f"{target}.append({kept})")
        self.line(depth, "else:")
        self.line(depth + 1, f"{target} = None")

    @staticmethod
    def falsehood(local: str) -> str:
        """JMESPath's falsehood, not Python's (0 is true), tested as the interpreter tests it."""
        # A comparison gives a boolean, tested first: the equality tests run only for other values.
        return (f"{local} is False or {local} is not True and ({local} == '' or {local} == [] or {local} == {{}} "
                f"or {local} is None)")
