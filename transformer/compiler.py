"""Compile validated YAML rules once, at load time.

A compiled rule is a ``Node``: ``emit`` writes the Python statements that compute its value (a
fresh JSON value, or MISSING) into a local of a function being generated (see codegen.py);
``settings_only`` says whether it reads nothing but settings, so the destination may compute it
once per settings instead of once per event. Every problem found here (unknown setting, unknown
alias, bad JMESPath, unknown template placeholder...) is collected with its YAML path; nothing is
reported at event time that could have been found now.
"""
from __future__ import annotations

import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import jmespath  # type: ignore[import-untyped]
import jmespath.exceptions  # type: ignore[import-untyped]

from .codegen import Context, Gen, Plan
from .errors import Problem, TransformError
from .functions import COERCIONS, StepError, to_text, type_class
from .values import MISSING, fresh, is_present, type_name
from .lookups import look_up_rule
from .yamlsource import Source, YamlPath, format_path

# Event-type name the engine binds for every event, usable as {var: event_type} or {event_type}.
EVENT_TYPE_VAR = "event_type"

DIRECTIVES = ("path", "jmespath", "const", "setting", "var", "template", "first", "object", "list", "case", "lookup")

Emit = Callable[[Gen, str], None]
Step = Callable[[Any], Any]


@dataclass(frozen=True, eq=False)
class Node:
    emit: Emit  # writes statements that set the named local to the rule's value or MISSING
    settings_only: bool
    sources: tuple[str, ...] = ()  # the event paths a rule reads, for "tried ..." in messages
    is_event_type: bool = False  # {var: event_type}: a constant within one event type's plan


def _emit_missing(gen: Gen, target: str) -> None:
    gen.line(f"{target} = MISSING")


_NOTHING = Node(_emit_missing, True)


def rule_label(source: Source, path: YamlPath) -> str:
    """``tracking.yaml body.event.meta``: the YAML path without the ``object`` wrappers."""
    return f"{os.path.basename(source.file)} {format_path(tuple(p for p in path if p != 'object'))}"


class Compiler:
    """Compiles the rules of one mapping file; problems accumulate in ``problems``."""

    def __init__(self, source: Source, aliases: Mapping[str, tuple[str, ...]], settings: frozenset[str],
                 lets: dict[str, Node], problems: list[Problem]) -> None:
        self.source = source
        self.aliases = aliases
        self.settings = settings
        self.lets = lets  # the let bindings visible so far (earlier ones only: no cycles)
        self.problems = problems

    def problem(self, path: YamlPath, message: str) -> Node:
        self.problems.append(self.source.problem(path, message))
        return _NOTHING

    # -- value rules -----------------------------------------------------------------------

    def expr(self, spec: dict[str, Any], path: YamlPath) -> Node:
        present = [key for key in DIRECTIVES if key in spec]
        if len(present) != 1:
            found = ", ".join(present) if present else "none"
            return self.problem(path, f"a rule needs exactly one of {', '.join(DIRECTIVES)} (found {found})")
        directive = present[0]
        node: Node = getattr(self, f"_{directive}")(spec[directive], spec, path + (directive,))
        label = rule_label(self.source, path)
        if "then" in spec:
            node = self._with_steps(node, spec["then"], path + ("then",), label)
        if "default" in spec:
            node = _with_default(node, spec["default"])
        if "required" in spec:
            node = _with_required(node, spec["required"], label)
        if "when" in spec:
            node = _with_condition(node, self.condition(spec["when"], path + ("when",)))
        return node

    def _path(self, value: str | list[str], spec: dict[str, Any], path: YamlPath) -> Node:
        paths = self.expand_paths(value, path)
        return path_node(tuple(tuple(p.split(".")) for p in paths))

    def expand_paths(self, value: str | list[str], path: YamlPath) -> list[str]:
        expanded: list[str] = []
        for index, item in enumerate([value] if isinstance(value, str) else value):
            if item.startswith("$"):
                if item[1:] not in self.aliases:
                    known = ", ".join(sorted(self.aliases)) or "none"
                    self.problem(path if isinstance(value, str) else path + (index,),
                                 f"unknown path alias {item} (declared: {known})")
                    continue
                expanded.extend(self.aliases[item[1:]])
            else:
                expanded.append(item)
        return expanded

    def _jmespath(self, expression: str, spec: dict[str, Any], path: YamlPath) -> Node:
        try:
            compiled = jmespath.compile(expression)
        except jmespath.exceptions.JMESPathError as exc:
            reason = str(exc).splitlines()[0].rstrip(":")
            column = getattr(exc, "lex_position", None)
            return self.problem(path, f"JMESPath does not parse ({reason}{f' at column {column}' if column is not None else ''})")
        label = rule_label(self.source, path)

        def search(event: Any) -> Any:
            try:
                value = compiled.search(event)
            except (jmespath.exceptions.JMESPathError, RecursionError) as exc:
                raise TransformError(f"{label}: JMESPath failed on this event ({exc.__class__.__name__})") from None
            return fresh(value, label) if is_present(value) else MISSING

        return Node(lambda gen, target: gen.line(f"{target} = {gen.const(search)}(ev)"), False, (expression,))

    def _const(self, value: Any, spec: dict[str, Any], path: YamlPath) -> Node:
        if not is_present(value):
            return _NOTHING
        if isinstance(value, (dict, list)):
            label = rule_label(self.source, path)
            return Node(lambda gen, target: gen.line(f"{target} = fresh({gen.const(value)}, {label!r})"), True)
        return Node(lambda gen, target: gen.line(f"{target} = {gen.const(value)}"), True)

    def _setting(self, name: str, spec: dict[str, Any], path: YamlPath) -> Node:
        if name not in self.settings:
            return self.problem(path, f"unknown setting {name!r} (the settings schema declares: {', '.join(sorted(self.settings))})")

        def emit(gen: Gen, target: str) -> None:
            gen.line(f"{target} = st.get({name!r}, MISSING)")
            _emit_present_copy(gen, target, f"setting {name}")

        return Node(emit, True)

    def _var(self, name: str, spec: dict[str, Any], path: YamlPath) -> Node:
        return self.var_node(name, path)

    def var_node(self, name: str, path: YamlPath) -> Node:
        if name == EVENT_TYPE_VAR:
            def emit_type(gen: Gen, target: str) -> None:
                gen.line(f"{target} = {gen.event_type!r}" if gen.event_type is not None
                         else f"{target} = ctx.static_vars[{EVENT_TYPE_VAR!r}]")

            return Node(emit_type, True, is_event_type=True)
        let = self.lets.get(name)
        if let is None:
            known = ", ".join(sorted([*self.lets, EVENT_TYPE_VAR]))
            return self.problem(path, f"unknown variable {name!r}: a rule may use only the let bindings declared before it ({known})")
        memo = "ctx.static_vars" if let.settings_only else "ctx.vars"

        def emit(gen: Gen, target: str) -> None:
            gen.line(f"{target} = {memo}.get({name!r}, UNSET)")
            with gen.block(f"if {target} is UNSET:"):
                gen.line(f"{target} = {memo}[{name!r}] = {gen.let(name)}(ctx)")
            if let.settings_only:  # shared by every event with these settings: hand out copies
                with gen.block(f"if {target}.__class__ is dict or {target}.__class__ is list:"):
                    gen.line(f"{target} = fresh({target}, {name!r})")

        return Node(emit, let.settings_only, let.sources)

    def _template(self, text: str, spec: dict[str, Any], path: YamlPath) -> Node:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            return self.problem(path, f"template does not parse: {exc}")
        given = spec.get("vars", {})
        nodes = {name: self.expr(sub, path[:-1] + ("vars", name)) for name, sub in given.items()}
        pieces: list[str | Node] = []
        for literal, field, format_spec, conversion in parsed:
            if literal:
                pieces.append(literal)
            if field is None:
                continue
            if format_spec or conversion or not field.isidentifier():
                return self.problem(path, f"template placeholder {{{field}}} must be a plain name (no format, index or attribute)")
            node = nodes.get(field)
            if node is None:
                if field not in self.lets and field != EVENT_TYPE_VAR:
                    return self.problem(path, f"template names {{{field}}}, which is neither under vars nor a let binding declared before it")
                node = self.var_node(field, path)
            pieces.append(node)
        unused = sorted(set(nodes) - {f for _, f, _, _ in parsed if f})
        if unused:
            self.problem(path[:-1] + ("vars",), f"vars not used by the template: {', '.join(unused)}")
        label = rule_label(self.source, path[:-1])
        parts = [p for p in pieces if isinstance(p, Node)]

        def emit(gen: Gen, target: str) -> None:
            gen.line(f"{target} = MISSING")
            _emit_template(gen, target, pieces, [], label)  # a template needs every placeholder

        return Node(emit, all(n.settings_only for n in parts), tuple(s for n in parts for s in n.sources))

    def _first(self, items: list[dict[str, Any]], spec: dict[str, Any], path: YamlPath) -> Node:
        nodes = [self.expr(item, path + (i,)) for i, item in enumerate(items)]
        return Node(lambda gen, target: _emit_first(gen, target, nodes), all(n.settings_only for n in nodes),
                    tuple(s for n in nodes for s in n.sources))

    def _object(self, fields: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
        nodes = {key: self.expr(sub, path + (key,)) for key, sub in fields.items()}
        needs = tuple(spec.get("needs", ()))
        for name in needs:
            if name not in nodes:
                self.problem(path[:-1] + ("needs",), f"needs names {name!r}, which is not a key of this object")
        return object_node(nodes, needs)

    def _list(self, items: list[dict[str, Any]], spec: dict[str, Any], path: YamlPath) -> Node:
        nodes = [self.expr(item, path + (i,)) for i, item in enumerate(items)]

        def emit(gen: Gen, target: str) -> None:
            gen.line(f"{target} = []")
            item = gen.temp()
            for node in nodes:
                node.emit(gen, item)
                with gen.block(f"if {item} is not MISSING:"):
                    gen.line(f"{target}.append({item})")
            gen.line(f"{target} = {target} or MISSING")

        return Node(emit, all(n.settings_only for n in nodes), tuple(s for n in nodes for s in n.sources))

    def _case(self, subject_spec: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
        subject = self.expr(subject_spec, path)
        branches = {key: self.expr(sub, path[:-1] + ("values", key)) for key, sub in spec.get("values", {}).items()}

        def emit(gen: Gen, target: str) -> None:
            if subject.is_event_type and gen.event_type is not None:  # known for this plan: no test at all
                branches.get(gen.event_type, _NOTHING).emit(gen, target)
                return
            key = gen.temp()
            subject.emit(gen, key)
            gen.line(f"{target} = MISSING")
            keyword = "if"
            for value, branch in branches.items():
                with gen.block(f"{keyword} {key} == {value!r}:"):
                    branch.emit(gen, target)
                keyword = "elif"

        settings_only = subject.settings_only and all(n.settings_only for n in branches.values())
        return Node(emit, settings_only, tuple(s for n in branches.values() for s in n.sources))

    def _lookup(self, spec_value: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
        requests = [(sub["kind"], self.expr(sub["value"], path + ("requests", i, "value")),
                     self.expr(sub["endpoint"], path + ("requests", i, "endpoint")))
                    for i, sub in enumerate(spec_value["requests"])]
        found_path = spec_value["found"]
        found = path_node((tuple(found_path.split(".")),))
        absent = frozenset(spec_value.get("not_found", (404,)))
        label = rule_label(self.source, path[:-1])

        def emit(gen: Gen, target: str) -> None:
            asks = [(kind, gen.function(value), gen.function(endpoint)) for kind, value, endpoint in requests]
            look_up = look_up_rule(asks, gen.function(found), found_path, absent, label)
            gen.line(f"{target} = {gen.const(look_up)}(ctx)")

        return Node(emit, False)

    # -- conditions and steps --------------------------------------------------------------

    def condition(self, spec: dict[str, Any], path: YamlPath) -> tuple[Emit, bool]:
        """Compile a condition into (emit a bool into a local, settings_only)."""
        ((kind, value),) = spec.items()
        if kind == "setting":
            if value not in self.settings:
                self.problem(path + (kind,), f"unknown setting {value!r}")
            return (lambda gen, target: gen.line(f"{target} = bool(st.get({value!r}))")), True
        if kind == "present":
            node = self.expr(value, path + (kind,))

            def emit_present(gen: Gen, target: str) -> None:
                node.emit(gen, target)
                gen.line(f"{target} = {target} is not MISSING")

            return emit_present, node.settings_only
        if kind == "not":
            inner, settings_only = self.condition(value, path + (kind,))

            def emit_not(gen: Gen, target: str) -> None:
                inner(gen, target)
                gen.line(f"{target} = not {target}")

            return emit_not, settings_only
        parts = [self.condition(sub, path + (kind, i)) for i, sub in enumerate(value)]
        # all: go on while true; any: go on while false. Later parts run only when needed.
        go_on = "if {}:" if kind == "all" else "if not {}:"

        def emit_many(gen: Gen, target: str) -> None:
            gen.chain([partial(part, gen, target) for part, _ in parts], go_on.format(target))

        return emit_many, all(s for _, s in parts)

    def _with_steps(self, node: Node, specs: list[dict[str, Any]], path: YamlPath, label: str) -> Node:
        steps: list[tuple[Step, Emit | None]] = []
        settings_only = node.settings_only
        for index, spec in enumerate(specs):
            here = path + (index,)
            actions = [key for key in spec if key != "when"]
            if len(actions) != 1:
                self.problem(here, "a step needs exactly one of omit, coerce, entries, join, max_length")
                continue
            test = None
            if "when" in spec:
                test, only = self.condition(spec["when"], here + ("when",))
                settings_only = settings_only and only
            steps.append((_STEP_BUILDERS[actions[0]](spec[actions[0]]), test))
        tried = f" (from {', '.join(node.sources)})" if node.sources else ""

        def emit(gen: Gen, target: str) -> None:
            node.emit(gen, target)
            with gen.block(f"if {target} is not MISSING:"):
                with gen.block("try:"):
                    for step, test in steps:
                        call = f"{target} = {gen.const(step)}({target})"
                        if test is None:
                            gen.line(call)
                            continue
                        flag = gen.temp()
                        test(gen, flag)
                        with gen.block(f"if {flag}:"):
                            gen.line(call)
                with gen.block("except StepError as _error:"):
                    gen.line(f"raise TransformError({label!r} + ': ' + str(_error) + {tried!r}) from None")
                with gen.block(f"if {target} is None or {target} == '':"):
                    gen.line(f"{target} = MISSING")

        return Node(emit, settings_only, node.sources)


def path_node(paths: tuple[tuple[str, ...], ...]) -> Node:
    """The first present value among dotted paths, read with plain dict access."""

    def emit(gen: Gen, target: str) -> None:
        def read(keys: tuple[str, ...]) -> None:
            parent = gen.prefix(keys[:-1])
            gen.line(f"{target} = {parent}.get({keys[-1]!r}, MISSING) if isinstance({parent}, dict) else MISSING")
            _emit_present_copy(gen, target, ".".join(keys))

        gen.chain([partial(read, keys) for keys in paths], f"if {target} is MISSING:")

    return Node(emit, False, tuple(".".join(keys) for keys in paths))


def object_node(nodes: Mapping[str, Node], needs: tuple[str, ...] = ()) -> Node:
    """An object of the keys whose rules give a value; with ``needs``, missing unless one of them does."""

    def emit(gen: Gen, target: str) -> None:
        built = gen.temp()
        gen.line(f"{built} = {{}}")
        item = gen.temp()
        for key, node in nodes.items():
            node.emit(gen, item)
            with gen.block(f"if {item} is not MISSING:"):
                gen.line(f"{built}[{key!r}] = {item}")
        if needs:
            test = " or ".join(f"{key!r} in {built}" for key in needs)
            gen.line(f"{target} = {built} if {test} else MISSING")
        else:
            gen.line(f"{target} = {built}")

    # A rule that requires this object is about the keys it needs: name their sources.
    named = [nodes[k] for k in needs if k in nodes] or list(nodes.values())
    return Node(emit, all(n.settings_only for n in nodes.values()), tuple(s for n in named for s in n.sources))


def merged_object(shared: Node, own: Node) -> Node:
    """The destination's shared body keys first, then the event file's (which win on a clash)."""

    def emit(gen: Gen, target: str) -> None:
        extra = gen.temp()
        shared.emit(gen, target)
        own.emit(gen, extra)
        with gen.block(f"if {extra}.__class__ is dict:"):
            gen.line(f"{target} = {{**{target}, **{extra}}} if {target}.__class__ is dict else {extra}")

    return Node(emit, shared.settings_only and own.settings_only, shared.sources + own.sources)


def _emit_present_copy(gen: Gen, target: str, where: str) -> None:
    """Apply the present rule to a value read from the input, and copy it if it is a container."""
    with gen.block(f"if {target} is None or {target} == '':"):
        gen.line(f"{target} = MISSING")
    with gen.block(f"elif {target} is not MISSING and {target}.__class__ not in SCALARS:"):
        gen.line(f"{target} = fresh({target}, {where!r})")


def _emit_template(gen: Gen, target: str, pieces: list[str | Node], rendered: list[str], label: str) -> None:
    """Nest one test per placeholder, so a missing one stops the rest (a look-up among them too)."""
    for index, piece in enumerate(pieces):
        if isinstance(piece, str):
            rendered.append(repr(piece))
            continue
        value = gen.temp()
        piece.emit(gen, value)
        text = gen.temp()
        with gen.block(f"if {value} is not MISSING:"):
            gen.line(f"{text} = {value} if {value}.__class__ is str else as_text({value}, {label!r})")
            _emit_template(gen, target, pieces[index + 1:], [*rendered, text], label)
        return
    gen.line(f"{target} = {' + '.join(rendered) or repr('')} or MISSING")


def _emit_first(gen: Gen, target: str, nodes: list[Node]) -> None:
    gen.chain([partial(node.emit, gen, target) for node in nodes], f"if {target} is MISSING:")


def _with_default(node: Node, default: Any) -> Node:
    def emit(gen: Gen, target: str) -> None:
        node.emit(gen, target)
        with gen.block(f"if {target} is MISSING:"):
            gen.line(f"{target} = fresh({gen.const(default)}, 'default')")

    return Node(emit, node.settings_only, node.sources)


def _with_required(node: Node, message: str, label: str) -> Node:
    tried = f" (tried {', '.join(node.sources)})" if node.sources else ""
    text = f"{label}: {message}{tried}"

    def emit(gen: Gen, target: str) -> None:
        node.emit(gen, target)
        with gen.block(f"if {target} is MISSING:"):
            gen.line(f"raise TransformError({text!r})")

    return Node(emit, node.settings_only, node.sources)


def _with_condition(node: Node, condition: tuple[Emit, bool]) -> Node:
    test, settings_only = condition

    def emit(gen: Gen, target: str) -> None:
        test(gen, target)
        with gen.block(f"if {target}:"):
            node.emit(gen, target)
        with gen.block("else:"):
            gen.line(f"{target} = MISSING")

    return Node(emit, node.settings_only and settings_only, node.sources)


def _needs_object(value: Any, step: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StepError(f"{step} needs an object, got {type_name(value)}")
    return value


def _omit_step(keys: list[str]) -> Step:
    dropped = frozenset(keys)
    return lambda value: {k: v for k, v in _needs_object(value, "omit").items() if k not in dropped}


def _coerce_step(name: str) -> Step:
    return COERCIONS[name]


def _join_step(spec: dict[str, Any]) -> Step:
    keys = tuple(spec["keys"])
    sep = spec.get("sep", " ")

    def join(value: Any) -> Any:
        if isinstance(value, str):
            return value
        parts = [to_text(part) for key in keys if is_present(part := _needs_object(value, "join").get(key, MISSING))]
        return sep.join(parts) if parts else MISSING

    return join


def _max_length_step(limit: int) -> Step:
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            raise StepError(f"is {len(value)} characters, over the limit of {limit}")
        return value

    return check


def _entries_step(spec: dict[str, Any]) -> Step:
    key_coercions = tuple(COERCIONS[name] for name in spec.get("key", ()))
    by_type = {
        cls: (rule.get("key_suffix", ""), COERCIONS[rule["value"]] if "value" in rule else None)
        for cls, rule in spec.get("by_type", {}).items()
    }

    def rewrite(value: Any) -> Any:
        out: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for key, item in _needs_object(value, "entries").items():
            new_key = key
            for coerce in key_coercions:
                new_key = coerce(new_key)
            rule = by_type.get(type_class(item))
            if rule is not None:
                suffix, coerce_value = rule
                if suffix and not new_key.endswith(suffix):
                    new_key += suffix
                if coerce_value is not None:
                    item = coerce_value(item)
            if new_key in out:
                raise StepError(f"keys {origin[new_key]!r} and {key!r} both become {new_key!r}")
            out[new_key] = item
            origin[new_key] = key
        return out

    return rewrite


_STEP_BUILDERS: dict[str, Callable[[Any], Step]] = {
    "omit": _omit_step,
    "coerce": _coerce_step,
    "join": _join_step,
    "max_length": _max_length_step,
    "entries": _entries_step,
}


__all__ = ["Compiler", "Context", "EVENT_TYPE_VAR", "Node", "Plan", "merged_object", "object_node", "path_node"]
