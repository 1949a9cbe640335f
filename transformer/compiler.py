"""Compile validated YAML rules into plain callables, once, at load time.

A compiled rule is a ``Node``: ``fn(ctx)`` returns a fresh JSON value or MISSING, and
``settings_only`` says whether it reads nothing but settings (so the destination may compute
it once per settings instead of once per event). Every problem found here (unknown setting,
unknown alias, bad JMESPath, unknown template placeholder...) is collected with its YAML path;
nothing is reported at event time that could have been found now.
"""
from __future__ import annotations

import os
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
import jmespath.exceptions

from .errors import Problem, TransformError
from .functions import COERCIONS, StepError, to_text, type_class
from .values import MISSING, fresh, is_present, type_name
from .wire import request_description
from .yamlsource import Source, YamlPath, format_path

# Event-type name the engine binds for every event, usable as {var: event_type} or {event_type}.
EVENT_TYPE_VAR = "event_type"

DIRECTIVES = ("path", "jmespath", "const", "setting", "var", "template", "first", "object", "list", "case", "lookup")

Lookup = Callable[[dict[str, Any]], Any]


class Context:
    """What one event's rules can see. Built per event; rules never modify it except the memos."""

    __slots__ = ("event", "settings", "vars", "static_vars", "lets", "lookup", "lookup_headers")

    def __init__(self, event: Any, settings: Mapping[str, Any], static_vars: dict[str, Any],
                 lets: Mapping[str, Node], lookup: Lookup | None,
                 lookup_headers: Callable[[Context], dict[str, Any]]) -> None:
        self.event = event
        self.settings = settings
        self.vars: dict[str, Any] = {}
        self.static_vars = static_vars
        self.lets = lets
        self.lookup = lookup
        self.lookup_headers = lookup_headers


Fn = Callable[[Context], Any]
Step = Callable[[Any, Context], Any]


@dataclass(frozen=True)
class Node:
    fn: Fn
    settings_only: bool
    sources: tuple[str, ...] = ()  # the event paths a rule reads, for "tried ..." in messages


def _missing(ctx: Context) -> Any:
    return MISSING


_NOTHING = Node(_missing, True)


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
        return Node(_path_getter(tuple(tuple(p.split(".")) for p in paths)), False, tuple(paths))

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

        def search(ctx: Context) -> Any:
            try:
                value = compiled.search(ctx.event)
            except (jmespath.exceptions.JMESPathError, RecursionError) as exc:
                raise TransformError(f"{label}: JMESPath failed on this event ({exc.__class__.__name__})") from None
            return fresh(value, label) if is_present(value) else MISSING

        return Node(search, False, (expression,))

    def _const(self, value: Any, spec: dict[str, Any], path: YamlPath) -> Node:
        if not is_present(value):
            return _NOTHING
        if isinstance(value, (dict, list)):
            label = rule_label(self.source, path)
            return Node(lambda ctx: fresh(value, label), True)  # a new copy for every output
        return Node(lambda ctx: value, True)

    def _setting(self, name: str, spec: dict[str, Any], path: YamlPath) -> Node:
        if name not in self.settings:
            return self.problem(path, f"unknown setting {name!r} (the settings schema declares: {', '.join(sorted(self.settings))})")
        where = f"setting {name}"

        def get_setting(ctx: Context) -> Any:
            value = ctx.settings.get(name, MISSING)
            return fresh(value, where) if is_present(value) else MISSING

        return Node(get_setting, True)

    def _var(self, name: str, spec: dict[str, Any], path: YamlPath) -> Node:
        return self.var_node(name, path)

    def var_node(self, name: str, path: YamlPath) -> Node:
        if name == EVENT_TYPE_VAR:
            return Node(lambda ctx: ctx.static_vars[EVENT_TYPE_VAR], True)
        let = self.lets.get(name)
        if let is None:
            known = ", ".join(sorted([*self.lets, EVENT_TYPE_VAR]))
            return self.problem(path, f"unknown variable {name!r}: a rule may use only the let bindings declared before it ({known})")
        memo = "static_vars" if let.settings_only else "vars"

        def get_var(ctx: Context) -> Any:
            values = getattr(ctx, memo)
            value = values.get(name, _UNSET)
            if value is _UNSET:
                value = values[name] = ctx.lets[name].fn(ctx)
            return value

        return Node(get_var, let.settings_only, let.sources)

    def _template(self, text: str, spec: dict[str, Any], path: YamlPath) -> Node:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            return self.problem(path, f"template does not parse: {exc}")
        given = spec.get("vars", {})
        nodes = {name: self.expr(sub, path[:-1] + ("vars", name)) for name, sub in given.items()}
        pieces: list[str | Fn] = []
        settings_only = True
        sources: list[str] = []
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
            settings_only = settings_only and node.settings_only
            sources.extend(node.sources)
            pieces.append(node.fn)
        unused = sorted(set(nodes) - {f for _, f, _, _ in parsed if f})
        if unused:
            self.problem(path[:-1] + ("vars",), f"vars not used by the template: {', '.join(unused)}")
        label = rule_label(self.source, path[:-1])
        frozen = tuple(pieces)

        def render(ctx: Context) -> Any:
            out = []
            for piece in frozen:
                if piece.__class__ is str:
                    out.append(piece)
                    continue
                value = piece(ctx)  # type: ignore[operator]
                if value is MISSING:
                    return MISSING  # a template needs every placeholder
                if value.__class__ is str:
                    out.append(value)
                    continue
                try:
                    out.append(to_text(value))
                except StepError as exc:
                    raise TransformError(f"{label}: {exc}") from None
            text = "".join(out)
            return text if text else MISSING

        return Node(render, settings_only, tuple(sources))

    def _first(self, items: list[dict[str, Any]], spec: dict[str, Any], path: YamlPath) -> Node:
        nodes = [self.expr(item, path + (i,)) for i, item in enumerate(items)]
        fns = tuple(n.fn for n in nodes)

        def first(ctx: Context) -> Any:
            for fn in fns:
                value = fn(ctx)
                if value is not MISSING:
                    return value
            return MISSING

        return Node(first, all(n.settings_only for n in nodes), tuple(s for n in nodes for s in n.sources))

    def _object(self, fields: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
        nodes = {key: self.expr(sub, path + (key,)) for key, sub in fields.items()}
        items = tuple((key, node.fn) for key, node in nodes.items())
        needs = tuple(spec.get("needs", ()))
        for name in needs:
            if name not in nodes:
                self.problem(path[:-1] + ("needs",), f"needs names {name!r}, which is not a key of this object")

        def build(ctx: Context) -> Any:
            out = {}
            for key, fn in items:
                value = fn(ctx)
                if value is not MISSING:
                    out[key] = value
            if needs and not any(key in out for key in needs):
                return MISSING
            return out

        # A rule that requires this object is about the keys it needs: name their sources.
        named = [nodes[k] for k in needs if k in nodes] or list(nodes.values())
        return Node(build, all(n.settings_only for n in nodes.values()), tuple(s for n in named for s in n.sources))

    def _list(self, items: list[dict[str, Any]], spec: dict[str, Any], path: YamlPath) -> Node:
        nodes = [self.expr(item, path + (i,)) for i, item in enumerate(items)]
        fns = tuple(n.fn for n in nodes)

        def build(ctx: Context) -> Any:
            out = [value for fn in fns if (value := fn(ctx)) is not MISSING]
            return out if out else MISSING

        return Node(build, all(n.settings_only for n in nodes), tuple(s for n in nodes for s in n.sources))

    def _case(self, subject_spec: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
        subject = self.expr(subject_spec, path)
        branches = {key: self.expr(sub, path[:-1] + ("values", key)) for key, sub in spec.get("values", {}).items()}
        table = {key: node.fn for key, node in branches.items()}
        subject_fn = subject.fn

        def choose(ctx: Context) -> Any:
            key = subject_fn(ctx)
            branch = table.get(key) if key.__class__ is str else None
            return MISSING if branch is None else branch(ctx)

        settings_only = subject.settings_only and all(n.settings_only for n in branches.values())
        return Node(choose, settings_only, tuple(s for n in branches.values() for s in n.sources))

    def _lookup(self, spec_value: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
        requests = tuple(self.expr(sub, path + ("requests", i)).fn for i, sub in enumerate(spec_value["requests"]))
        found_path = spec_value["found"]
        found = tuple(found_path.split("."))
        absent = frozenset(spec_value.get("not_found", (404,)))
        label = rule_label(self.source, path[:-1])
        dig = _path_getter((found,))

        def look_up(ctx: Context) -> Any:
            for request_fn in requests:
                url = request_fn(ctx)
                if url is MISSING:
                    continue
                if not isinstance(url, str):
                    raise TransformError(f"{label}: a look-up endpoint must be a string, got {type_name(url)}")
                if ctx.lookup is None:
                    raise TransformError(f"{label}: this event needs a look-up (GET {url}) and no lookup function "
                                         "was given; pass lookup=... (or canned answers to the CLI with --lookups)")
                status, body = _ask(ctx.lookup, request_description("GET", url, ctx.lookup_headers(ctx), {}, {}), label, url)
                if status == 200:
                    value = dig(_BodyContext(body))
                    if value is MISSING:
                        raise TransformError(f"{label}: look-up GET {url} answered 200 without {found_path}", 502)
                    return value
                if status in absent:
                    continue
                raise TransformError(f"{label}: look-up GET {url} failed with status {status}",
                                     status if 400 <= status <= 599 else 502)
            return MISSING

        return Node(look_up, False)

    # -- conditions and steps --------------------------------------------------------------

    def condition(self, spec: dict[str, Any], path: YamlPath) -> tuple[Callable[[Context], bool], bool]:
        """Compile a condition into (test, settings_only)."""
        ((kind, value),) = spec.items()
        if kind == "setting":
            if value not in self.settings:
                self.problem(path + (kind,), f"unknown setting {value!r}")
            return (lambda ctx: bool(ctx.settings.get(value))), True
        if kind == "present":
            node = self.expr(value, path + (kind,))
            fn = node.fn
            return (lambda ctx: fn(ctx) is not MISSING), node.settings_only
        if kind == "not":
            test, settings_only = self.condition(value, path + (kind,))
            return (lambda ctx: not test(ctx)), settings_only
        parts = [self.condition(sub, path + (kind, i)) for i, sub in enumerate(value)]
        tests = tuple(test for test, _ in parts)
        only = all(s for _, s in parts)
        if kind == "all":
            return (lambda ctx: all(test(ctx) for test in tests)), only
        return (lambda ctx: any(test(ctx) for test in tests)), only

    def _with_steps(self, node: Node, specs: list[dict[str, Any]], path: YamlPath, label: str) -> Node:
        steps: list[Step] = []
        settings_only = node.settings_only
        for index, spec in enumerate(specs):
            here = path + (index,)
            actions = [key for key in spec if key != "when"]
            if len(actions) != 1:
                self.problem(here, "a step needs exactly one of omit, coerce, entries, join, max_length")
                continue
            step = _STEP_BUILDERS[actions[0]](spec[actions[0]])
            if "when" in spec:
                test, only = self.condition(spec["when"], here + ("when",))
                settings_only = settings_only and only
                step = _step_when(step, test)
            steps.append(step)
        base = node.fn
        sources = node.sources
        frozen = tuple(steps)

        def apply(ctx: Context) -> Any:
            value = base(ctx)
            if value is MISSING:
                return value
            try:
                for step in frozen:
                    value = step(value, ctx)
            except StepError as exc:
                tried = f" (from {', '.join(sources)})" if sources else ""
                raise TransformError(f"{label}: {exc}{tried}") from None
            return value if is_present(value) else MISSING

        return Node(apply, settings_only, sources)


_UNSET = object()


class _BodyContext:
    """Lets the ordinary path getter dig into a look-up answer's body."""

    __slots__ = ("event",)

    def __init__(self, body: Any) -> None:
        self.event = body


def _path_getter(paths: tuple[tuple[str, ...], ...]) -> Fn:
    """The first present value among dotted paths, read with plain dict access.

    The hot path of every mapping: names are joined once here, and scalars (most values) skip
    the copy.
    """
    if len(paths) == 1 and len(paths[0]) == 1:
        (key,), = paths

        def get_one(ctx: Any) -> Any:
            event = ctx.event
            value = event.get(key, MISSING) if event.__class__ is dict or isinstance(event, dict) else MISSING
            if value is MISSING or value is None or value == "":
                return MISSING
            cls = value.__class__
            return value if cls is str or cls is int or cls is bool else fresh(value, key)

        return get_one

    named = tuple((keys, ".".join(keys)) for keys in paths)

    def get_first(ctx: Any) -> Any:
        event = ctx.event
        for keys, dotted in named:
            value = event
            for key in keys:
                if value.__class__ is dict or isinstance(value, dict):
                    value = value.get(key, MISSING)
                else:
                    value = MISSING
                    break
            if value is MISSING or value is None or value == "":
                continue
            cls = value.__class__
            return value if cls is str or cls is int or cls is bool else fresh(value, dotted)
        return MISSING

    return get_first


def _with_default(node: Node, default: Any) -> Node:
    fn = node.fn

    def with_default(ctx: Context) -> Any:
        value = fn(ctx)
        return fresh(default, "default") if value is MISSING else value

    return Node(with_default, node.settings_only, node.sources)


def _with_required(node: Node, message: str, label: str) -> Node:
    fn = node.fn
    tried = f" (tried {', '.join(node.sources)})" if node.sources else ""
    text = f"{label}: {message}{tried}"

    def required(ctx: Context) -> Any:
        value = fn(ctx)
        if value is MISSING:
            raise TransformError(text)
        return value

    return Node(required, node.settings_only, node.sources)


def _with_condition(node: Node, condition: tuple[Callable[[Context], bool], bool]) -> Node:
    test, settings_only = condition
    fn = node.fn
    return Node(lambda ctx: fn(ctx) if test(ctx) else MISSING, node.settings_only and settings_only, node.sources)


def _step_when(step: Step, test: Callable[[Context], bool]) -> Step:
    return lambda value, ctx: step(value, ctx) if test(ctx) else value


def _needs_object(value: Any, step: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StepError(f"{step} needs an object, got {type_name(value)}")
    return value


def _omit_step(keys: list[str]) -> Step:
    dropped = frozenset(keys)
    return lambda value, ctx: {k: v for k, v in _needs_object(value, "omit").items() if k not in dropped}


def _coerce_step(name: str) -> Step:
    coerce = COERCIONS[name]
    return lambda value, ctx: coerce(value)


def _join_step(spec: dict[str, Any]) -> Step:
    keys = tuple(spec["keys"])
    sep = spec.get("sep", " ")

    def join(value: Any, ctx: Context) -> Any:
        if isinstance(value, str):
            return value
        parts = [to_text(part) for key in keys if is_present(part := _needs_object(value, "join").get(key, MISSING))]
        return sep.join(parts) if parts else MISSING

    return join


def _max_length_step(limit: int) -> Step:
    def check(value: Any, ctx: Context) -> Any:
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

    def rewrite(value: Any, ctx: Context) -> Any:
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


def _ask(lookup: Lookup, request: dict[str, Any], label: str, url: str) -> tuple[int, Any]:
    """Call the caller's look-up; whatever it does wrong becomes a TransformError, never a crash."""
    try:
        answer = lookup(request)
    except Exception as exc:  # the caller's code: any failure is this event's error, not the batch's
        raise TransformError(f"{label}: the lookup function raised {exc.__class__.__name__} for GET {url}", 502) from None
    if (not isinstance(answer, (tuple, list)) or len(answer) != 2 or isinstance(answer[0], bool)
            or not isinstance(answer[0], int)):
        raise TransformError(f"{label}: the lookup function must return (status_code, body) for GET {url}", 502)
    return answer[0], answer[1]
