"""Conditions (``when``): each compiles once into a Node that emits a bool into a local.

A condition is exactly one key (the schema checks that); its ``@condition`` function reports
misuse with the YAML path and returns the Node. ``guarded`` is the ``when`` modifier of a rule.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .codegen import Gen, Node
from .registry import Condition, Scope, registering
from .yamlsource import YamlPath

CONDITIONS: dict[str, Condition] = {}


def condition(name: str) -> Callable[[Condition], Condition]:
    return registering(CONDITIONS, name)


@condition("setting")
def _setting(scope: Scope, name: str, path: YamlPath) -> Node:
    if name not in scope.settings:
        scope.problem(path, f"unknown setting {name!r}")
    return Node(lambda gen, target: gen.line(f"{target} = bool(st.get({name!r}))"), True)


@condition("present")
def _present(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Node:
    node = scope.expr(spec, path)

    def emit(gen: Gen, target: str) -> None:
        node.emit(gen, target)
        gen.line(f"{target} = {target} is not MISSING")

    return Node(emit, node.settings_only)


@condition("not")
def _not(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Node:
    inner = scope.condition(spec, path)

    def emit(gen: Gen, target: str) -> None:
        inner.emit(gen, target)
        gen.line(f"{target} = not {target}")

    return Node(emit, inner.settings_only)


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

    return Node(emit, all(part.settings_only for part in parts))


def guarded(node: Node, test: Node) -> Node:
    """The ``when`` modifier: ``node``'s value when ``test`` holds, else nothing (and ``node`` is not run)."""

    def emit(gen: Gen, target: str) -> None:
        test.emit(gen, target)
        with gen.block(f"if {target}:"):
            node.emit(gen, target)
        with gen.block("else:"):
            gen.line(f"{target} = MISSING")

    return Node(emit, node.settings_only and test.settings_only, node.sources)
