"""JMESPath expressions compiled once into plain closures.

The jmespath library interprets its parsed tree on every search, dispatching on each node's type:
about 5 µs for ``context.ids[?type == 'crm'].id | [0]`` even when the event has no ``ids``. The node types that make up most expressions (fields, indexes, pipes, filters and
projections, ``==``, ``||``, ``&&``) compile here into closures that do what the library's
``TreeInterpreter`` does, node for node; any other node (functions, ordering comparisons, slices,
multi-selects, ``!``) is handed to that interpreter as it is.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jmespath.visitor  # type: ignore[import-untyped]

Search = Callable[[Any], Any]
_Node = dict[str, Any]


def compile_search(node: _Node, interpreter: Any) -> Search:
    """A function giving what ``interpreter.visit(node, value)`` gives, for every value."""
    make = _COMPILERS.get(node["type"])
    compiled = make(node, [compile_search(child, interpreter) for child in node["children"]]) if make else None
    return compiled if compiled is not None else partial(interpreter.visit, node)


def _is_false(value: Any) -> bool:
    # JMESPath's falsehood, not Python's: 0 is true.
    return value == "" or value == [] or value == {} or value is None or value is False


def _field(node: _Node, children: list[Search]) -> Search:
    name = node["value"]

    def field(value: Any) -> Any:
        if value.__class__ is dict:
            return value.get(name)
        try:
            return value.get(name)
        except AttributeError:
            return None

    return field


def _chain(node: _Node, children: list[Search]) -> Search:
    first, *rest = children

    def chain(value: Any) -> Any:
        value = first(value)
        for child in rest:
            value = child(value)
        return value

    return chain


def _itself(node: _Node, children: list[Search]) -> Search:
    return lambda value: value


def _literal(node: _Node, children: list[Search]) -> Search:
    constant = node["value"]
    return lambda value: constant


def _index(node: _Node, children: list[Search]) -> Search:
    position = node["value"]

    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None

    return index


def _comparator(node: _Node, children: list[Search]) -> Search | None:
    if node["value"] not in ("eq", "ne"):  # ordering: numbers only, the interpreter's own rules
        return None
    equals = jmespath.visitor.TreeInterpreter.COMPARATOR_FUNC[node["value"]]
    left, right = children
    return lambda value: equals(left(value), right(value))


def _projected(base: Search, each: Search, condition: Search | None) -> Search:
    def projection(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        collected = []
        for item in items:
            if condition is None or not _is_false(condition(item)):
                current = each(item)
                if current is not None:
                    collected.append(current)
        return collected

    return projection


def _filter_projection(node: _Node, children: list[Search]) -> Search:
    base, each, condition = children
    return _projected(base, each, condition)


def _projection(node: _Node, children: list[Search]) -> Search:
    base, each = children
    return _projected(base, each, None)


def _flatten(node: _Node, children: list[Search]) -> Search:
    (base,) = children

    def flatten(value: Any) -> Any:
        items = base(value)
        if not isinstance(items, list):
            return None
        merged: list[Any] = []
        for item in items:
            if isinstance(item, list):
                merged.extend(item)
            else:
                merged.append(item)
        return merged

    return flatten


def _or(node: _Node, children: list[Search]) -> Search:
    left, right = children

    def either(value: Any) -> Any:
        matched = left(value)
        return right(value) if _is_false(matched) else matched

    return either


def _and(node: _Node, children: list[Search]) -> Search:
    left, right = children

    def both(value: Any) -> Any:
        matched = left(value)
        return matched if _is_false(matched) else right(value)

    return both


_COMPILERS: dict[str, Callable[[_Node, list[Search]], Search | None]] = {
    "field": _field, "subexpression": _chain, "index_expression": _chain, "pipe": _chain,
    "identity": _itself, "current": _itself, "literal": _literal, "index": _index, "comparator": _comparator,
    "filter_projection": _filter_projection, "projection": _projection, "flatten": _flatten,
    "or_expression": _or, "and_expression": _and,
}
