"""What every family of the mapping language shares: a registry per family, and the Scope.

The language has three families, each in its own module: value directives (directives.py),
conditions (conditions.py) and steps (steps.py). Each registers a compile function per name with
its family's decorator; the function checks its YAML, reports misuse with the YAML path, and
returns what the generated code runs. The Compiler (compiler.py) dispatches by name. Adding a
directive, condition or step is one function in its family's module, plus its entry in
mapping.schema.json and the README (a test checks that the schema and the registries agree).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from .codegen import Node
from .yamlsource import Source, YamlPath, format_path

# Event-type name the engine binds for every event, usable as {var: event_type} or {event_type}.
EVENT_TYPE_VAR = "event_type"

Step = Callable[[Any], Any]  # what a step compiles to: one value in, one out, or StepError


class Scope(Protocol):
    """What a compile function may ask of the compiler: sub-rules, names, and problem reports."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """The declared settings: name -> its JSON Schema."""
        ...

    @property
    def lets(self) -> Mapping[str, Node]: ...

    @property
    def locals(self) -> Mapping[str, tuple[str, bool]]:
        """The enclosing eaches' ``as`` names: name -> (its generated local, settings_only)."""
        ...

    @property
    def settings_reads(self) -> int:
        """How many rules compiled so far read a setting (a let binding that does counts as one)."""
        ...

    def problem(self, path: YamlPath, message: str) -> Node: ...

    def warn(self, path: YamlPath, message: str) -> None:
        """Note something that loads but is likely not what the author meant (``transformer check`` shows it)."""
        ...

    def label(self, path: YamlPath) -> str: ...

    def expr(self, spec: dict[str, Any], path: YamlPath) -> Node: ...

    def condition(self, spec: dict[str, Any], path: YamlPath) -> Node: ...

    def expand_paths(self, value: str | list[str], path: YamlPath) -> list[str]: ...

    def var_node(self, name: str, path: YamlPath) -> Node: ...

    def has_var(self, name: str) -> bool: ...

    def binding(self, name: str, value: Node, path: YamlPath) -> AbstractContextManager[str]:
        """Within it, ``{var: name}`` reads the generated local it gives (bound to ``value``'s kind)."""
        ...

    def known_values(self, spec: dict[str, Any]) -> tuple[list[Any], str] | None:
        """When every value the rule ``spec`` can give is known at load (the event types a file is
        routed to, a setting's enum): those values and what they are, for dead-branch errors."""
        ...

    def isolated(self) -> AbstractContextManager[None]:
        """Within it, rules compiled into functions of their own: no ``binding`` is visible."""
        ...


# directive(scope, value under the directive's key, the whole rule, YAML path of the key) -> Node
Directive = Callable[[Scope, Any, dict[str, Any], YamlPath], Node]
# condition(scope, value under its key, YAML path of the key) -> Node that emits a bool
Condition = Callable[[Scope, Any, YamlPath], Node]
# step(scope, value under its key, YAML path of the key) -> the function the generated code calls
StepCompiler = Callable[[Scope, Any, YamlPath], Step]

F = TypeVar("F")


def registering(table: dict[str, F], name: str) -> Callable[[F], F]:
    """A decorator that files a compile function in ``table`` under ``name``."""

    def register(function: F) -> F:
        table[name] = function
        return function

    return register


def rule_label(source: Source, path: YamlPath) -> str:
    """``tracking.yaml body.event.meta``: the YAML path without the ``object`` wrappers."""
    return f"{os.path.basename(source.file)} {format_path(tuple(p for p in path if p != 'object'))}"
