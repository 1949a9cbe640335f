"""Conditions (``when``): each compiles once into a Node that emits a bool into a local.

A condition is exactly one key (the schema checks that); its ``@condition`` function reports
misuse with the YAML path and returns the Node. ``guarded`` is the ``when`` modifier of a rule.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ..runtime.values import is_present, type_name
from .codegen import Gen, Node, Put, held, sources_of, stored
from .patterns import pattern_problem, searcher
from .registry import Condition, Scope, registering
from .suggest import did_you_mean
from .yamlsource import YamlPath

CONDITIONS: dict[str, Condition] = {}


def condition(name: str) -> Callable[[Condition], Condition]:
    return registering(CONDITIONS, name)


@condition("setting")
def _setting(scope: Scope, name: str, path: YamlPath) -> Node:
    if name not in scope.settings:
        scope.problem(path, f"unknown setting {name!r}{did_you_mean(name, scope.settings)}")
    return Node(lambda gen, target: gen.line(f"{target} = bool(st.get({name!r}))"), True, safe=True)


@condition("present")
def _present(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Node:
    node = scope.expr(spec, path)

    def emit(gen: Gen, target: str) -> None:
        (node.peek or node.emit)(gen, target)
        gen.line(f"{target} = {target} is not MISSING")

    return Node(emit, node.settings_only, node.sources, safe=node.safe)


@condition("not")
def _not(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Node:
    inner = scope.condition(spec, path)

    def emit(gen: Gen, target: str) -> None:
        gen.line(f"{target} = not {held(gen, inner, target)}")

    return Node(emit, inner.settings_only, inner.sources, safe=inner.safe)


@condition("all")
def _all(scope: Scope, specs: list[dict[str, Any]], path: YamlPath) -> Node:
    return _chain(scope, specs, path, "if {}:")  # go on while true


@condition("any")
def _any(scope: Scope, specs: list[dict[str, Any]], path: YamlPath) -> Node:
    return _chain(scope, specs, path, "if not {}:")  # go on while false


def _chain(scope: Scope, specs: list[dict[str, Any]], path: YamlPath, go_on: str) -> Node:
    parts = [scope.condition(sub, path + (i,)) for i, sub in enumerate(specs)]

    def emit(gen: Gen, target: str) -> None:  # later parts run only when needed
        gen.chain([partial(part.emit, gen, target) for part in parts], go_on.format(target))

    return Node(emit, all(part.settings_only for part in parts), sources_of(*parts), safe=all(part.safe for part in parts))


@condition("equals")
def _equals(scope: Scope, specs: list[dict[str, Any]], path: YamlPath) -> Node:
    for side in (0, 1):  # {var: event_type} or an enum setting against a constant it can never be
        if set(specs[1 - side]) == {"const"}:
            _check_possible(scope, specs[side], [specs[1 - side]["const"]], path + (1 - side, "const"), False)
    return _compare(scope, specs, path, same)


@condition("in")
def _in(scope: Scope, specs: list[dict[str, Any]], path: YamlPath) -> Node:
    if "const" in specs[1]:
        if not isinstance(specs[1]["const"], list):
            scope.problem(path + (1, "const"), "in needs a list to look in")
        elif set(specs[1]) == {"const"}:
            _check_possible(scope, specs[0], specs[1]["const"], path + (1, "const"), True)
    return _compare(scope, specs, path, element_of)


def _check_possible(scope: Scope, spec: dict[str, Any], constants: list[Any], path: YamlPath, listed: bool) -> None:
    """A constant the rule ``spec`` can never give makes a comparison dead: a load error at
    ``path`` (at its ``[index]`` for one of a ``listed`` constant's elements)."""
    known = scope.known_values(spec)
    if known is None:
        return
    values, what = known
    for index, constant in enumerate(constants):
        if not any(same(constant, value) for value in values):
            scope.problem(path + (index,) if listed else path,
                          f"never true: {constant!r} is not {what} ({', '.join(map(str, values))})"
                          f"{did_you_mean(str(constant), map(str, values))}")


@condition("matches")
def _matches(scope: Scope, spec: list[Any], path: YamlPath) -> Node:
    problem = pattern_problem(spec[1])
    if problem is not None:
        return scope.problem(path + (1,), problem)
    search = searcher(spec[1])  # RE2: linear in the text (see patterns.py)
    value = scope.expr(spec[0], path + (0,))

    def emit(gen: Gen, target: str) -> None:
        value.emit(gen, target)
        gen.line(f"{target} = {target}.__class__ is str and {gen.const(search)}({target})")

    return Node(emit, value.settings_only, value.sources)


def _compare(scope: Scope, specs: list[dict[str, Any]], path: YamlPath, test: Callable[[Any, Any], bool]) -> Node:
    left, right = (_compared(scope, sub, path + (i,)) for i, sub in enumerate(specs))

    def emit(gen: Gen, target: str) -> None:
        other = gen.temp()
        left.emit(gen, target)
        with gen.block(f"if {target} is not MISSING:"):  # a missing value makes a comparison false
            right.emit(gen, other)
            gen.line(f"{target} = {other} is not MISSING and {gen.const(test)}({target}, {other})")
        with gen.block("else:"):
            gen.line(f"{target} = False")

    # same and element_of compare any two JSON values without failing (settings are validated JSON)
    return Node(emit, left.settings_only and right.settings_only, sources_of(left, right), safe=left.safe and right.safe)


def _compared(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Node:
    if set(spec) == {"const"} and is_present(spec["const"]):  # only compared, never output: no copy per event
        value = spec["const"]
        return Node(lambda gen, target: gen.line(f"{target} = {gen.const(value)}"), True, safe=True)
    return scope.expr(spec, path)


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included: ``true`` is not ``1``, ``"1"`` is not ``1``; ``1`` is ``1.0``."""
    kind_a, kind_b = type_name(a), type_name(b)
    if kind_a != kind_b:
        return False
    if kind_a == "object":
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if kind_a == "array":
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def element_of(item: Any, items: Any) -> bool:
    """``item`` is an element of the list ``items`` (by ``same``); not a list: false."""
    return isinstance(items, list) and any(same(item, element) for element in items)


def guarded(node: Node, test: Node) -> Node:
    """The ``when`` modifier: ``node``'s value when ``test`` holds, else nothing (and ``node`` is not run)."""

    def emit(gen: Gen, target: str) -> None:
        with gen.block(f"if {held(gen, test, target)}:"):
            node.emit(gen, target)
        with gen.block("else:"):
            gen.line(f"{target} = MISSING")

    def store(gen: Gen, put: Put) -> None:
        with gen.block(f"if {held(gen, test, gen.temp())}:"):
            stored(node, gen, put)

    return Node(emit, node.settings_only and test.settings_only, node.sources, store=store, safe=node.safe and test.safe)
