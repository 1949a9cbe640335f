"""Compile validated YAML rules once, at load time, into Nodes (see codegen.py).

The Compiler is the scope of one mapping file: the names a rule may use (settings, path aliases,
let bindings), the problems found so far, and the dispatch of each rule to its directive,
condition or step (directives.py, conditions.py, steps.py), followed by the modifiers every rule
may carry. Every problem is collected with its YAML path; nothing is reported at event time that
could have been found now.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

from ..errors import Problem
from ..runtime.explain import RuleInfo, traced_condition, traced_rule
from .codegen import Context, Gen, Node, Plan, memoized
from .conditions import CONDITIONS, guarded
from .directives import (
    COMPANIONS,
    DIRECTIVES,
    NOTHING,
    merged_object,
    object_node,
    path_node,
)
from .messages import required_node
from .registry import EVENT_TYPE_VAR, rule_label
from .steps import then
from .suggest import did_you_mean
from .yamlsource import Source, YamlPath


class Compiler:
    """Compiles the rules of one mapping file; problems accumulate in ``problems``."""

    def __init__(self, source: Source, aliases: Mapping[str, tuple[str, ...]], settings: Mapping[str, Any],
                 lets: dict[str, Node], problems: list[Problem], event_types: tuple[str, ...] | None,
                 warnings: list[Problem] | None = None) -> None:
        self.source = source
        self.aliases = aliases
        self.settings = settings  # name -> its JSON Schema
        self.event_types = event_types  # the event types this file's rules run for; None: any (other_events)
        self.lets = lets  # the let bindings visible so far (earlier ones only: no cycles)
        self.problems = problems
        self.warnings = [] if warnings is None else warnings  # what `transformer check` shows, not errors
        self.locals: dict[str, tuple[str, bool]] = {}  # each's `as` names: (generated local, settings_only)
        self.settings_reads = 0  # setting rules compiled so far (see messages.py: no setting in a message)
        self.lookups = 0  # lookup rules compiled so far (a let binding that asks one counts as one)

    def problem(self, path: YamlPath, message: str) -> Node:
        self.problems.append(self.source.problem(path, message))
        return NOTHING

    def warn(self, path: YamlPath, message: str) -> None:
        self.warnings.append(self.source.problem(path, message))

    def label(self, path: YamlPath) -> str:
        return rule_label(self.source, path)

    def expr(self, spec: dict[str, Any], path: YamlPath) -> Node:
        """A value rule: its one directive, then its modifiers in the documented order."""
        present = [key for key in DIRECTIVES if key in spec]
        if len(present) != 1:
            found = ", ".join(present) if present else "none"
            return self.problem(path, f"a rule needs exactly one of {', '.join(DIRECTIVES)} (found {found})")
        name = present[0]
        self.settings_reads += name == "setting"
        self.lookups += name == "lookup"
        for key in spec:
            owners = [owner for owner, keys in COMPANIONS.items() if key in keys]
            if owners and name not in owners:
                return self.problem(path + (key,), f"{key} goes with {' or '.join(owners)}, not with {name}")
        node = self._modifiers(DIRECTIVES[name](self, spec[name], spec, path + (name,)), spec, path)
        return traced_rule(node, RuleInfo.of(self.source, path, name, spec))

    def _modifiers(self, node: Node, spec: dict[str, Any], path: YamlPath) -> Node:
        label = self.label(path)
        if "then" in spec:
            node = then(self, node, spec["then"], path + ("then",), label)
        if "default" in spec:
            self._check_default(spec["default"], path + ("default",))
            node = _with_default(node, spec["default"])
        if "required" in spec:
            node = required_node(self, node, spec["required"], path + ("required",), label)
        if "when" in spec:
            test = self.condition(spec["when"], path + ("when",))
            shared = [source for source in dict.fromkeys(test.sources) if source in node.sources]
            if "required" in spec and shared:
                self.warn(path + ("when",), f"this when reads {', '.join(shared)}, which the rule reads too: where that is "
                                            "missing the condition is likely false, and a false when skips the rule's "
                                            "required as well. To require a value that passes the condition, move the "
                                            "when into the value: {first: [{path: ..., when: ...}], required: ...}")
            node = guarded(node, test)
        return node

    def _check_default(self, default: Any, path: YamlPath) -> None:
        """A default is a literal: one shaped like a rule ({var: x}) would be sent as it is."""
        shaped = [key for key in DIRECTIVES if isinstance(default, dict) and key in default]
        if shaped:
            self.problem(path, f"default is a literal, and this one is shaped like a rule ({shaped[0]}: ...): it would be "
                               "sent as written. To fall back to a rule, use first: [RULE, FALLBACK] (or else: FALLBACK "
                               "under case); to send such an object, use first: [RULE, {const: {...}}]")

    def let(self, name: str, spec: dict[str, Any], path: YamlPath) -> None:
        """Compile a let binding; it is visible to the rules compiled after it (no cycles)."""
        before, asked = self.settings_reads, self.lookups
        node = self.expr(spec, path)
        self.lets[name] = replace(node, reads_settings=self.settings_reads > before or node.reads_settings,
                                  asks=self.lookups > asked or node.asks)

    def condition(self, spec: dict[str, Any], path: YamlPath) -> Node:
        """A condition: a Node that emits a bool (the schema allows exactly one key)."""
        ((name, value),) = spec.items()
        node = traced_condition(CONDITIONS[name](self, value, path + (name,)), RuleInfo.of(self.source, path, name, spec))
        if node.settings_only:  # the same test on the same settings, written again for another field
            node = memoized(node, json.dumps(spec, sort_keys=True, default=str))
        return node

    # -- names -----------------------------------------------------------------------------

    def expand_paths(self, value: str | list[str], path: YamlPath) -> list[str]:
        expanded: list[str] = []
        for index, item in enumerate([value] if isinstance(value, str) else value):
            if item.startswith("$"):
                if item[1:] not in self.aliases:
                    known = ", ".join(sorted(self.aliases)) or "none"
                    self.problem(path if isinstance(value, str) else path + (index,),
                                 f"unknown path alias {item} (declared: {known}){did_you_mean(item[1:], self.aliases)}")
                    continue
                expanded.extend(self.aliases[item[1:]])
            else:
                expanded.append(item)
        return expanded

    def known_values(self, spec: dict[str, Any]) -> tuple[list[Any], str] | None:
        if spec == {"var": EVENT_TYPE_VAR}:
            return (list(self.event_types), "an event type this file is for") if self.event_types is not None else None
        schema = self.settings.get(spec["setting"]) if set(spec) == {"setting"} else None
        if isinstance(schema, dict) and isinstance(schema.get("enum"), list):
            return list(schema["enum"]), f"a value setting {spec['setting']} may have"
        return None

    def has_var(self, name: str) -> bool:
        return name in self.locals or name in self.lets or name == EVENT_TYPE_VAR

    @contextmanager
    def binding(self, name: str, value: Node, path: YamlPath) -> Iterator[str]:
        if self.has_var(name):
            self.problem(path, f"{name!r} is already a variable here (a let, event_type or an enclosing each's as): "
                               "choose another name")
        outer = self.locals.get(name)
        local = f"_v{len(self.locals)}"
        self.locals[name] = (local, value.settings_only)
        try:
            yield local
        finally:
            del self.locals[name]
            if outer is not None:
                self.locals[name] = outer

    @contextmanager
    def isolated(self) -> Iterator[None]:
        outer, self.locals = self.locals, {}
        try:
            yield
        finally:
            self.locals = outer

    def var_node(self, name: str, path: YamlPath) -> Node:
        if name in self.locals:
            local, settings_only = self.locals[name]

            def emit_local(gen: Gen, target: str) -> None:  # an element may be used twice: copy containers
                gen.line(f"{target} = {local} if {local}.__class__ in SCALARS or {local} is None else fresh({local}, {name!r})")

            return Node(emit_local, settings_only, (name,), local=local)
        if name == EVENT_TYPE_VAR:
            def emit_type(gen: Gen, target: str) -> None:
                gen.line(f"{target} = {gen.event_type!r}" if gen.event_type is not None
                         else f"{target} = ctx.static_vars[{EVENT_TYPE_VAR!r}]")

            return Node(emit_type, True, is_event_type=True)
        let = self.lets.get(name)
        if let is None:
            names = [*self.lets, *self.locals, EVENT_TYPE_VAR]
            return self.problem(path, f"unknown variable {name!r}: a rule may use only the let bindings declared before it "
                                      f"({', '.join(sorted(names))}){did_you_mean(name, names)}")
        self.settings_reads += let.reads_settings
        self.lookups += let.asks
        memo = "ctx.static_vars" if let.settings_only else "ctx.vars"
        let.uses[0] += 2 if self.locals else 1
        let.use_roots.append(tuple(path[:2]) if path[:1] == ("request",) else tuple(path[:1]))
        uses, roots = let.uses, let.use_roots  # read when the code is generated, after every file has compiled

        def settled(gen: Gen) -> str | None:
            """A settings-only let's local in the rule's settings flags (see settled_let): its value,
            or the LetFailed to raise where it is read; None where the memo is read instead."""
            if not let.settings_only or let.asks or gen.tracing or gen.lines is gen.settings_top:
                return None
            local = gen.memos.get("let " + name)
            if local is None:
                local = gen.memos["let " + name] = f"_c{len(gen.memos)}"
                with gen.at_top():
                    gen.line(f"{local} = settled_let(ctx, {name!r}, {gen.let(name)})")
                gen.top_locals.add(local)
            return local

        def read(gen: Gen, target: str, copy: bool = True) -> None:
            # Used by one or two rules: its code is written here, in the rule's function, with no
            # call (see _emit_let_here). A look-up's only where every rule using it is in this
            # function (it is asked once, whoever reads it). Never in a tracing plan (explain shows
            # the binding's own trace).
            if (uses[0] <= 2 and not let.settings_only and not gen.tracing
                    and (not let.asks or gen.whole_request and WHOLE_REQUEST_ROOTS.issuperset(roots))):
                _emit_let_here(gen, target, let, uses[0], name)
                return
            local = settled(gen)
            if local is not None:
                gen.line(f"{target} = {local} if {local}.__class__ in LET_PLAIN else read_settled({local}, {name!r}, {copy})")
                return
            gen.trace(repr("let"), repr(name))  # explain: the value came from this binding
            gen.line(f"{target} = {memo}.get({name!r}, UNSET)")
            with gen.block(f"if {target} is UNSET:"):
                gen.line(f"{target} = {memo}[{name!r}] = {gen.let(name)}(ctx)")
            if let.settings_only and copy:  # shared by every event with these settings: hand out copies
                with gen.block(f"if {target}.__class__ is dict or {target}.__class__ is list:"):
                    gen.line(f"{target} = fresh({target}, {name!r})")

        return Node(read, let.settings_only, let.sources, peek=partial(read, copy=False) if let.settings_only else None,
                    safe=let.settings_only and let.safe and not let.asks, settled=settled if let.settings_only else None)


# The rules loader._request_node writes into one function, by the roots of their YAML paths.
WHOLE_REQUEST_ROOTS = frozenset({("body",), ("request", "method"), ("request", "endpoint")})


def _emit_let_here(gen: Gen, target: str, let: Node, uses: int, name: str) -> None:
    """A let binding's code written where a rule uses it. Used once: just that. Used twice: into
    a local of the function, computed at the first use that runs and read at the other (where
    the first has certainly run, no test). Two rules in two functions each compute it: pure
    code, cheaper than a call and a memo. A look-up's answer is kept in the event's memo too,
    where a required rule's run again (messages.py) reads it instead of asking again."""

    def computed(into: str) -> None:
        let.emit(gen, into)
        if let.asks:
            gen.line(f"ctx.vars[{name!r}] = {into}")

    if uses == 1:
        computed(target)
        return
    local = gen.let_locals.get(id(let))
    if local is None:
        local = gen.let_locals[id(let)] = f"_l{len(gen.let_locals)}"
        gen.top.append(f"    {local} = UNSET")
        computed(local)  # the first use written: no other can have run before it
        gen.assigned.add(local)
    elif local not in gen.assigned:  # the first may not have run: its function, not its code again
        with gen.block(f"if {local} is UNSET:"):
            gen.line(f"{local} = {gen.let(name)}(ctx)")
            if let.asks:
                gen.line(f"ctx.vars[{name!r}] = {local}")
        gen.assigned.add(local)
    gen.line(f"{target} = {local}")


def _with_default(node: Node, default: Any) -> Node:
    def emit(gen: Gen, target: str) -> None:
        node.emit(gen, target)
        with gen.block(f"if {target} is MISSING:"):  # a container is copied: each output has its own
            copy = isinstance(default, (dict, list))
            gen.line(f"{target} = fresh({gen.const(default)}, 'default')" if copy else f"{target} = {gen.const(default)}")

    return Node(emit, node.settings_only, node.sources)


__all__ = ["Compiler", "Context", "EVENT_TYPE_VAR", "Node", "Plan", "merged_object", "object_node", "path_node"]
