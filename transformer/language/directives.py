"""Value directives: each rule has exactly one, and it says where the rule's value comes from.

Each ``@directive`` function compiles its YAML once, at load, into a Node whose emitter writes the
generated code (see codegen.py). Every problem found (unknown alias, bad JMESPath, unknown template
placeholder...) is reported with its YAML path; nothing is reported at event time that could have
been found now.
"""
from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import jmespath  # type: ignore[import-untyped]
import jmespath.exceptions  # type: ignore[import-untyped]
import jmespath.visitor  # type: ignore[import-untyped]

from ..errors import TransformError
from ..runtime.lookups import NEXT, asking, look_up_rule
from ..runtime.values import MISSING, fresh, is_present, type_name
from .codegen import MAX_TEMPLATE_CHARS, SCALARS, Gen, Node, Put, held, is_index, memoized, read_key, sources_of, stored
from .jmes import compile_search
from .registry import EVENT_TYPE_VAR, Directive, Scope, registering
from .suggest import did_you_mean
from .yamlsource import YamlPath

DIRECTIVES: dict[str, Directive] = {}  # in the order a "needs exactly one of" message lists them
COMPANIONS: dict[str, tuple[str, ...]] = {}  # keys beside a directive that only it reads (template: vars)


def directive(name: str, companions: tuple[str, ...] = ()) -> Callable[[Directive], Directive]:
    COMPANIONS[name] = companions
    return registering(DIRECTIVES, name)


def emit_missing(gen: Gen, target: str) -> None:
    gen.line(f"{target} = MISSING")


NOTHING = Node(emit_missing, True)
NESTED_FIRST_DEPTH = 40  # a first's rules are nested in a path's reads only this far in: Python allows 100 levels
STORE_PATHS = 8  # a path list of more paths is read by a chain (see Gen.chain), which bounds its nesting


@directive("path", ("from",))
def _path(scope: Scope, value: str | list[str], spec: dict[str, Any], path: YamlPath) -> Node:
    paths = scope.expand_paths(value, path)
    root = scope.expr(spec["from"], path[:-1] + ("from",)) if "from" in spec else None
    return path_node(tuple(tuple(p.split(".")) for p in paths), root)


@directive("jmespath", ("from",))
def _jmespath(scope: Scope, expression: str, spec: dict[str, Any], path: YamlPath) -> Node:
    try:
        compiled = jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        reason = str(exc).splitlines()[0].rstrip(":")
        column = getattr(exc, "lex_position", None)
        return scope.problem(path, f"JMESPath does not parse ({reason}{f' at column {column}' if column is not None else ''})")
    label = scope.label(path)
    # One interpreter per rule, for the nodes jmes does not compile: compiled.search would build
    # one per call, a reference cycle that leaves work for the cyclic garbage collector every event.
    searching = compile_search(compiled.parsed, jmespath.visitor.TreeInterpreter())

    def failed(error: Exception) -> TransformError:
        if isinstance(error, TypeError):  # the jmespath library orders a string against a number by raising
            return TransformError(f"{label}: JMESPath failed on this event (it compared a string with a number)")
        return TransformError(f"{label}: JMESPath failed on this event ({error.__class__.__name__})")

    def search(gen: Gen, target: str, source: str) -> None:
        """The search written into the rule: its failure in the rule's words, then the present
        rule and the copy of a container (jmespath gives None where there is nothing)."""
        with gen.block("try:"):
            gen.line(f"{target} = {gen.const(searching)}({source})")
        with gen.block(f"except {gen.const(_SEARCH_ERRORS)} as _error:"):
            gen.line(f"raise {gen.const(failed)}(_error) from None")
        emit_present_copy(gen, target, label)

    if "from" not in spec:
        return Node(lambda gen, target: search(gen, target, "ev"), False, (expression,))
    root = scope.expr(spec["from"], path[:-1] + ("from",))

    def emit(gen: Gen, target: str) -> None:
        if root.local is not None:  # the search copies what it gives: no need to copy the element first
            gen.line(f"{target} = {root.local}")
        else:
            root.emit(gen, target)
        with gen.block(f"if {target} is not MISSING:"):
            search(gen, target, target)

    return Node(emit, root.settings_only, (expression,))


_SEARCH_ERRORS = (jmespath.exceptions.JMESPathError, RecursionError, TypeError)


@directive("const")
def _const(scope: Scope, value: Any, spec: dict[str, Any], path: YamlPath) -> Node:
    if not is_present(value):
        return NOTHING
    if isinstance(value, (dict, list)):
        label = scope.label(path)
        return Node(lambda gen, target: gen.line(f"{target} = fresh({gen.const(value)}, {label!r})"), True)
    def store(gen: Gen, put: Put) -> None:  # a constant is always there
        put(gen.const(value))

    return Node(lambda gen, target: gen.line(f"{target} = {gen.const(value)}"), True, safe=True, store=store)


@directive("setting")
def _setting(scope: Scope, name: str, spec: dict[str, Any], path: YamlPath) -> Node:
    if name not in scope.settings:
        return scope.problem(path, f"unknown setting {name!r} (the settings schema declares: "
                                   f"{', '.join(sorted(scope.settings))}){did_you_mean(name, scope.settings)}")

    def emit(gen: Gen, target: str) -> None:
        gen.line(f"{target} = st.get({name!r}, MISSING)")
        emit_present_copy(gen, target, f"setting {name}")

    return Node(emit, True, safe=True)  # validated settings: the read and its copy cannot fail


@directive("var")
def _var(scope: Scope, name: str, spec: dict[str, Any], path: YamlPath) -> Node:
    return scope.var_node(name, path)


@directive("template", ("vars",))
def _template(scope: Scope, text: str, spec: dict[str, Any], path: YamlPath) -> Node:
    pieces = template_pieces(scope, text, spec.get("vars", {}), path, path[:-1] + ("vars",), "template")
    if pieces is None:
        return NOTHING
    label = scope.label(path[:-1])
    parts = [p for p in pieces if isinstance(p, Node)]

    def emit(gen: Gen, target: str) -> None:
        gen.line(f"{target} = MISSING")
        _emit_template(gen, target, pieces, [], label)  # a template needs every placeholder

    return Node(emit, all(n.settings_only for n in parts), sources_of(*parts))


def template_pieces(scope: Scope, text: str, given: dict[str, Any], path: YamlPath, vars_path: YamlPath,
                    what: str) -> list[str | Node] | None:
    """A template's literal text and placeholder rules, in order: each ``{name}`` from ``given``
    (the rules under ``vars``, at ``vars_path``), a let binding, or an ``each``'s element;
    None (with the problem reported) when the text does not parse."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        scope.problem(path, f"{what} does not parse: {exc}")
        return None
    nodes = {name: scope.expr(sub, vars_path + (name,)) for name, sub in given.items()}
    pieces: list[str | Node] = []
    for literal, field, format_spec, conversion in parsed:
        if literal:
            pieces.append(literal)
        if field is None:
            continue
        if format_spec or conversion or not field.isidentifier():
            scope.problem(path, f"{what} placeholder {{{field}}} must be a plain name (no format, index or attribute)")
            return None
        node = nodes.get(field)
        if node is None:
            if not scope.has_var(field):
                known = [*given, *scope.lets, EVENT_TYPE_VAR]
                scope.problem(path, f"{what} names {{{field}}}, which is neither under vars nor a let binding "
                                    f"declared before it{did_you_mean(field, known)}")
                return None
            node = scope.var_node(field, path)
        pieces.append(node)
    unused = sorted(set(nodes) - {f for _, f, _, _ in parsed if f})
    if unused:
        scope.problem(vars_path, f"vars not used by the {what}: {', '.join(unused)}")
    return pieces


def _emit_template(gen: Gen, target: str, pieces: list[str | Node], rendered: list[str], label: str) -> None:
    """Nest one test per placeholder, so a missing one stops the rest (a look-up among them too)."""
    for index, piece in enumerate(pieces):
        if isinstance(piece, str):
            rendered.append(repr(piece))
            continue
        value = piece.settled(gen) if piece.settled is not None else None
        if value is None:
            value = gen.temp()
            (piece.peek or piece.emit)(gen, value)
        with gen.block(f"if {value} is not MISSING:"):
            text = value
            if not piece.text:  # a value that is certainly text is used as it is
                text = gen.temp()
                gen.line(f"{text} = {value} if {value}.__class__ is str else as_text({value}, {label!r})")
            _emit_template(gen, target, pieces[index + 1:], [*rendered, text], label)
        return
    text = " + ".join(rendered) or repr("")
    if sum(not piece.startswith("'") and not piece.startswith('"') for piece in rendered) > 1:
        # Two placeholders can double a text (see bounded_text): its length tested here, and the call
        # made only for a text over the limit, which it refuses.
        gen.line(f"{target} = {text}")
        with gen.block(f"if len({target}) > {MAX_TEMPLATE_CHARS}:"):
            gen.line(f"bounded_text({target}, {label!r})")
        text = target
    if any(len(piece) > 2 for piece in rendered if piece[:1] in "'\""):  # a literal of its own: never empty
        if text != target:
            gen.line(f"{target} = {text}")
        return
    gen.line(f"{target} = {text} or MISSING")


@directive("first")
def _first(scope: Scope, items: list[dict[str, Any]], spec: dict[str, Any], path: YamlPath) -> Node:
    nodes = [scope.expr(item, path + (i,)) for i, item in enumerate(items)]

    def emit(gen: Gen, target: str, nodes: list[Node] = nodes) -> None:
        # A rule that can write what follows it where it finds nothing (a path's reads) saves a test.
        if len(nodes) > 1 and nodes[0].emit_or is not None and gen.depth < NESTED_FIRST_DEPTH \
                and nodes[0].emit_or(gen, target, partial(emit, gen, target, nodes[1:])):
            return
        gen.chain([partial(node.emit, gen, target) for node in nodes], f"if {target} is MISSING:")

    def store(gen: Gen, put: Put, nodes: list[Node] = nodes) -> None:
        # Each rule's reads nested under the one before it finding nothing, each value put where it
        # is found; else the value into a local and a test.
        if len(nodes) == 1:
            stored(nodes[0], gen, put)
        elif nodes[0].store_or is not None and gen.depth < NESTED_FIRST_DEPTH:
            nodes[0].store_or(gen, put, partial(store, gen, put, nodes[1:]))
        else:
            stored(Node(partial(emit, nodes=nodes), False), gen, put)

    return Node(emit, all(n.settings_only for n in nodes), sources_of(*nodes), store=store)


@directive("object", ("needs", "omit_empty"))
def _object(scope: Scope, fields: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
    nodes = {key: scope.expr(sub, path + (key,)) for key, sub in fields.items()}
    needs = tuple(spec.get("needs", ()))
    for name in needs:
        if name not in nodes:
            scope.problem(path[:-1] + ("needs",), f"needs names {name!r}, which is not a key of this object")
    if spec.get("omit_empty") and needs:
        scope.problem(path[:-1] + ("omit_empty",), "give needs or omit_empty, not both (omit_empty is needs with every key)")
    if spec.get("omit_empty") and nodes:  # an object with no key at all is {} by its own words
        needs = tuple(nodes)
    return object_node(nodes, needs)


@directive("list")
def _list(scope: Scope, items: list[dict[str, Any]], spec: dict[str, Any], path: YamlPath) -> Node:
    nodes = [scope.expr(item, path + (i,)) for i, item in enumerate(items)]

    def emit(gen: Gen, target: str) -> None:
        if len(nodes) == 1:  # one item: one test
            nodes[0].emit(gen, target)
            gen.line(f"{target} = [{target}] if {target} is not MISSING else MISSING")
            return
        gen.line(f"{target} = []")
        item = gen.temp()
        for node in nodes:
            node.emit(gen, item)
            with gen.block(f"if {item} is not MISSING:"):
                gen.line(f"{target}.append({item})")
        gen.line(f"{target} = {target} or MISSING")

    def store(gen: Gen, put: Put) -> None:
        if len(nodes) == 1:
            stored(nodes[0], gen, lambda value: put(f"[{value}]"))
            return
        items = gen.temp()
        gen.line(f"{items} = []")
        for node in nodes:
            stored(node, gen, lambda value: gen.line(f"{items}.append({value})"))
        with gen.block(f"if {items}:"):
            put(items)

    return Node(emit, all(n.settings_only for n in nodes), sources_of(*nodes), store=store)


@directive("case", ("values", "else"))
def _case(scope: Scope, subject_spec: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
    subject = scope.expr(subject_spec, path)
    branches = {key: scope.expr(sub, path[:-1] + ("values", key)) for key, sub in spec.get("values", {}).items()}
    otherwise = scope.expr(spec["else"], path[:-1] + ("else",)) if "else" in spec else NOTHING
    known = scope.known_values(subject_spec)
    if known is not None:
        values, what = known
        for key in branches:
            if key not in values:  # a typo (pgae:) or a type the file is not for: the branch never runs
                scope.problem(path[:-1] + ("values", key), f"this branch never runs: {key!r} is not {what} "
                                                           f"({', '.join(map(str, values))}){did_you_mean(key, map(str, values))}")

    if subject.settings_only and subject.safe:  # a setting: read once per settings value (see memoized)
        subject = memoized(subject, "case " + json.dumps(subject_spec, sort_keys=True, default=str))

    def emit(gen: Gen, target: str) -> None:
        if subject.is_event_type and gen.event_type is not None:  # known for this plan: no test at all
            branches.get(gen.event_type, otherwise).emit(gen, target)
            return
        key = held(gen, subject, gen.temp())
        gen.line(f"{target} = MISSING")
        keyword = "if"
        for value, branch in branches.items():
            with gen.block(f"{keyword} {key} == {value!r}:"):
                branch.emit(gen, target)
            keyword = "elif"
        if otherwise is not NOTHING and branches:  # no branch for the value, or no value
            with gen.block("else:"):
                otherwise.emit(gen, target)
        elif otherwise is not NOTHING:
            otherwise.emit(gen, target)

    every = [*branches.values(), otherwise]
    settings_only = subject.settings_only and all(n.settings_only for n in every)
    return Node(emit, settings_only, sources_of(*every))


@directive("lookup")
def _lookup(scope: Scope, spec_value: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
    with scope.isolated():  # its rules become functions of their own, outside any each
        requests = [(sub["kind"], scope.expr(sub["value"], path + ("requests", i, "value")),
                     scope.expr(sub["endpoint"], path + ("requests", i, "endpoint")))
                    for i, sub in enumerate(spec_value["requests"])]
    found_path = spec_value["found"]
    found = path_node((tuple(found_path.split(".")),))
    absent = frozenset(spec_value.get("not_found", (404,)))
    label = scope.label(path[:-1])

    def emit(gen: Gen, target: str) -> None:
        if gen.recording:  # a rule run again for its message (messages.py) never asks the caller twice
            emit_missing(gen, target)
            return
        if gen.tracing:  # each request's rules traced apart, as functions of their own
            asks = [(kind, gen.function(value), gen.function(endpoint)) for kind, value, endpoint in requests]
            look_up = look_up_rule(asks, gen.function(found), found_path, absent, label)
            gen.line(f"{target} = {gen.const(look_up)}(ctx)")
            return
        # Each request's value and endpoint written here, reading what this function has read; the
        # next request only while the ones before gave NEXT (a value or URL missing, or not found).
        found_fn, following = gen.function(found), gen.const(NEXT)
        gen.line(f"{target} = {following}")

        def request(kind: str, value: Node, endpoint: Node) -> None:
            given, url = gen.temp(), gen.temp()
            value.emit(gen, given)
            with gen.block(f"if {given} is not MISSING:"):
                # The endpoint most often quotes the value: the same path is not read twice.
                read = value.path_read if value.path_read not in gen.held_reads else None
                if read is not None:
                    gen.held_reads[read] = given
                endpoint.emit(gen, url)
                if read is not None:
                    del gen.held_reads[read]
                with gen.block(f"if {url} is not MISSING:"):
                    ask = asking(kind, found_fn, found_path, absent, label)
                    gen.line(f"{target} = {gen.const(ask)}(ctx, {given}, {url})")

        gen.chain([partial(request, *parts) for parts in requests], f"if {target} is {following}:")
        with gen.block(f"if {target} is {following}:"):
            gen.line(f"{target} = MISSING")

    return Node(emit, False)


@directive("each", ("map", "as"))
def _each(scope: Scope, spec_value: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
    items = scope.expr(spec_value, path)
    label = scope.label(path[:-1])
    tried = f" (from {', '.join(items.sources)})" if items.sources else ""
    with scope.binding(spec.get("as", "item"), items, path[:-1] + ("as",)) as local:
        mapped = scope.expr(spec["map"], path[:-1] + ("map",))

    def not_a_list(value: Any) -> None:
        raise TransformError(f"{label}: each needs a list, got {type_name(value)}{tried}")

    def emit(gen: Gen, target: str) -> None:
        given, item = gen.temp(), gen.temp()
        items.emit(gen, given)
        gen.line(f"{target} = MISSING")
        with gen.block(f"if {given} is not MISSING:"):
            with gen.block(f"if {given}.__class__ is not list:"):
                gen.line(f"{gen.const(not_a_list)}({given})")
            gen.line(f"{target} = []")
            with gen.block(f"for {local} in {given}:"):
                mapped.emit(gen, item)
                with gen.block(f"if {item} is not MISSING:"):
                    gen.line(f"{target}.append({item})")
            gen.line(f"{target} = {target} or MISSING")

    return Node(emit, items.settings_only and mapped.settings_only, items.sources)


@directive("merge")
def _merge(scope: Scope, specs: list[dict[str, Any]], spec: dict[str, Any], path: YamlPath) -> Node:
    nodes = [scope.expr(sub, path + (i,)) for i, sub in enumerate(specs)]
    label = scope.label(path[:-1])

    def not_an_object(index: int, value: Any) -> None:
        raise TransformError(f"{label}: merge item {index} must give an object, got {type_name(value)}")

    def emit(gen: Gen, target: str) -> None:
        gen.line(f"{target} = MISSING")
        part = gen.temp()
        for index, node in enumerate(nodes):
            node.emit(gen, part)
            with gen.block(f"if {part} is not MISSING:"):
                with gen.block(f"if {part}.__class__ is not dict:"):
                    gen.line(f"{gen.const(not_an_object)}({index}, {part})")
                gen.line(f"{target} = {part} if {target} is MISSING else {{**{target}, **{part}}}")  # later keys win

    return Node(emit, all(n.settings_only for n in nodes), sources_of(*nodes))


@directive("entry")
def _entry(scope: Scope, spec_value: dict[str, Any], spec: dict[str, Any], path: YamlPath) -> Node:
    key = scope.expr(spec_value["key"], path + ("key",))
    value = scope.expr(spec_value["value"], path + ("value",))
    label = scope.label(path[:-1])
    tried = f" (from {', '.join(key.sources)})" if key.sources else ""

    def not_text(name: Any) -> None:
        raise TransformError(f"{label}: entry key must be a string, got {type_name(name)}{tried}")

    def emit(gen: Gen, target: str) -> None:
        name = gen.temp()
        key.emit(gen, name)
        gen.line(f"{target} = MISSING")
        with gen.block(f"if {name} is not MISSING:"):
            with gen.block(f"if {name}.__class__ is not str:"):
                gen.line(f"{gen.const(not_text)}({name})")
            value.emit(gen, target)
            with gen.block(f"if {target} is not MISSING:"):
                gen.line(f"{target} = {{{name}: {target}}}")

    return Node(emit, key.settings_only and value.settings_only, sources_of(key, value))


# -- nodes the loader builds too ---------------------------------------------------------------

def path_node(paths: tuple[tuple[str, ...], ...], root: Node | None = None) -> Node:
    """The first present value among dotted paths into the event (each prefix read once, at the
    generated function's top) or into the value of ``root``."""

    def emit(gen: Gen, target: str) -> None:
        held = gen.held_reads.get(paths) if root is None else None
        if held is not None:  # read already, and present: its copy copied (a step may change it in place)
            gen.line(f"{target} = {held} if {held}.__class__ in SCALARS else fresh({held}, {'.'.join(paths[0])!r})")
            return
        base = ""
        if root is not None:  # the read copies what it gives: an element is read in place
            base = root.local or gen.temp()
            if root.local is None:
                root.emit(gen, base)

        if root is None and not gen.tracing and len(paths) <= STORE_PATHS:
            nested(gen, target, partial(gen.line, f"{target} = MISSING"))
            return

        def read(*pair: tuple[str, ...]) -> None:
            if root is None and not gen.tracing:  # a missing key reads as None: one test fewer
                gen.line(f"{target} = {_pair_read(gen, pair)}")
                _emit_present_read(gen, target, _fresh_copy(gen, pair, target))
                return
            # Explain shows each candidate path's raw value, missing told from null.
            (keys,) = pair
            missing = "MISSING" if gen.tracing else "None"
            if root is None:
                gen.line(f"{target} = {gen.read(keys, missing)}")
            else:
                parent = base
                for key in keys[:-1]:
                    step = gen.temp()
                    gen.line(f"{step} = {read_key(parent, key)}")
                    parent = step
                gen.line(f"{target} = {read_key(parent, keys[-1], missing)}")
            if gen.tracing:
                gen.trace(repr("read"), repr(".".join(keys)), target)
                emit_present_copy(gen, target, ".".join(keys))
            else:
                _emit_present_read(gen, target, f"fresh({target}, {'.'.join(keys)!r})")

        pairs = _paired(paths) if root is None and not gen.tracing else [(keys,) for keys in paths]
        reads: list[Callable[[], None]] = [partial(read, *pair) for pair in pairs]
        gen.chain(reads, f"if {target} is MISSING:")

    def nested(gen: Gen, target: str, otherwise: Callable[[], None]) -> None:
        """Each read nested under the one before it finding nothing (as store does): a missing key
        reads as None, and ``otherwise`` is written where the last finds nothing."""
        pairs = _paired(paths)
        for depth, pair in enumerate(pairs):
            gen.line(f"{target} = {_pair_read(gen, pair)}")
            if depth == 0:
                assigned = set(gen.assigned)  # the first read always runs: what it read stays assigned
            gen.line(f"if {target} is None or {target} == '':")
            gen.depth += 1
        otherwise()
        for pair in reversed(pairs):
            gen.depth -= 1
            with gen.block(f"elif {target}.__class__ not in SCALARS:"):
                gen.line(f"{target} = {_fresh_copy(gen, pair, target)}")
        gen.assigned = assigned

    def emit_or(gen: Gen, target: str, otherwise: Callable[[], None]) -> bool:
        if gen.held_reads.get(paths) is not None:  # present: what comes after it never runs
            emit(gen, target)
            return True
        if gen.tracing:
            return False
        nested(gen, target, otherwise)
        return True

    def store(gen: Gen, put: Put, otherwise: Callable[[], None] | None = None) -> None:
        """Each read in turn, nested under the one before it finding nothing, and the first
        present value put: no MISSING in between (a path list of a few paths, the usual); with
        ``otherwise``, that is written where the last read finds nothing."""
        value = gen.temp()
        pairs = _paired(paths)
        assigned = set(gen.assigned)  # what the nested reads read may not have run after them
        for depth, pair in enumerate(pairs):
            gen.line(f"{value} = {_pair_read(gen, pair)}")
            gen.line(f"if {value} is not None and {value} != '':")
            gen.depth += 1
            put(f"{value} if {value}.__class__ in SCALARS else {_fresh_copy(gen, pair, value)}")
            gen.depth -= 1
            if depth < len(pairs) - 1 or otherwise is not None:
                gen.line("else:")
                gen.depth += 1
        if otherwise is not None:
            otherwise()
        gen.depth -= len(pairs) - (otherwise is None)
        gen.assigned = assigned

    def uncopied(gen: Gen, target: str, where: str) -> None:
        held = gen.held_reads.get(paths)
        if held is not None:  # read and copied already: what a step that copies sees
            gen.line(f"{target}, {where} = {held}, {'.'.join(paths[0])!r}")
            return

        def read(pair: tuple[tuple[str, ...], ...]) -> None:
            gen.line(f"{target} = {_pair_read(gen, pair)}")
            with gen.block(f"if {target} is None or {target} == '':"):
                gen.line(f"{target} = MISSING")
            gen.line(f"{where} = {_pair_source(gen, pair, target)}")

        gen.chain([partial(read, pair) for pair in _paired(paths)], f"if {target} is MISSING:")

    return Node(emit, root is not None and root.settings_only, tuple(".".join(keys) for keys in paths), owned=True,
                store=store if root is None and len(paths) <= STORE_PATHS else None,
                store_or=store if root is None and len(paths) <= STORE_PATHS else None,
                emit_or=emit_or if root is None and len(paths) <= STORE_PATHS else None,
                uncopied=uncopied if root is None else None, path_read=paths if root is None else None)


def object_node(nodes: Mapping[str, Node], needs: tuple[str, ...] = ()) -> Node:
    """An object of the keys whose rules give a value; with ``needs``, missing unless one of them does."""

    def build(gen: Gen) -> str:
        """The object's keys into a new local, which this returns."""
        built = gen.temp()
        gen.line(f"{built} = {{}}")
        for key, node in nodes.items():
            stored(node, gen, partial(_put_key, gen, built, key))
        return built

    def needed(built: str) -> str:
        return " or ".join(f"{key!r} in {built}" for key in needs)

    def emit(gen: Gen, target: str) -> None:
        built = build(gen)
        gen.line(f"{target} = {built} if {needed(built)} else MISSING" if needs else f"{target} = {built}")

    def store(gen: Gen, put: Put) -> None:
        built = build(gen)
        if needs:
            with gen.block(f"if {needed(built)}:"):
                put(built)
        else:  # always there
            put(built)

    # A rule that requires this object is about the keys it needs: name their sources.
    named = [nodes[k] for k in needs if k in nodes] or list(nodes.values())
    return Node(emit, all(n.settings_only for n in nodes.values()), sources_of(*named), store=store)


def _put_key(gen: Gen, built: str, key: str, value: str) -> None:
    gen.line(f"{built}[{key!r}] = {value}")


def merged_object(shared: Node, own: Node) -> Node:
    """The destination's shared body keys first, then the event file's (which win on a clash)."""

    def emit(gen: Gen, target: str) -> None:
        extra = gen.temp()
        shared.emit(gen, target)
        own.emit(gen, extra)
        with gen.block(f"if {extra}.__class__ is dict:"):
            gen.line(f"{target} = {{**{target}, **{extra}}} if {target}.__class__ is dict else {extra}")

    return Node(emit, shared.settings_only and own.settings_only, sources_of(shared, own))


def _paired(paths: tuple[tuple[str, ...], ...]) -> list[tuple[tuple[str, ...], ...]]:
    """The paths in order, each run of two that read the same key under two different objects
    (``traits.email``, ``context.traits.email``) as one pair, to be read from their merge."""
    out: list[tuple[tuple[str, ...], ...]] = []
    index = 0
    while index < len(paths):
        keys = paths[index]
        other = paths[index + 1] if index + 1 < len(paths) else None
        if other is not None and len(keys) > 1 and len(other) > 1 and keys[-1] == other[-1] \
                and keys[:-1] != other[:-1] and not any(map(is_index, keys + other)):
            out.append((keys, other))
            index += 2
        else:
            out.append((keys,))
            index += 1
    return out


def _pair_read(gen: Gen, pair: tuple[tuple[str, ...], ...]) -> str:
    """An expression for the value at one path, or at a pair's key under the merge of its two
    objects (see Gen.merged); None when missing."""
    keys = pair[0]
    if len(pair) == 1:
        return gen.read(keys, "None")
    return f"{gen.merged(keys[:-1], pair[1][:-1])}.get({keys[-1]!r})"


def _fresh_copy(gen: Gen, pair: tuple[tuple[str, ...], ...], value: str) -> str:
    """The expression copying the container in local ``value``, read at ``pair`` (after
    ``_pair_read``): for a pair whose first path ends in a key, which of the two it came from is
    worked out only for an error message (``fresh_from``), not before every copy."""
    keys = pair[0]
    if len(pair) == 1 or is_index(keys[-1]):
        return f"fresh({value}, {_pair_source(gen, pair, value)})"
    return f"fresh_from({value}, {gen.holder(keys)}, {keys[-1]!r}, {'.'.join(keys)!r}, {'.'.join(pair[1])!r})"


def _pair_source(gen: Gen, pair: tuple[tuple[str, ...], ...], value: str) -> str:
    """An expression naming the path the value in local ``value`` was read at (for a message);
    after ``_pair_read``, whose reads it reuses."""
    keys = pair[0]
    if len(pair) == 1:
        return repr(".".join(keys))
    return f"{'.'.join(keys)!r} if {gen.read(keys, 'None')} is {value} else {'.'.join(pair[1])!r}"


def _emit_present_read(gen: Gen, target: str, copy: str) -> None:
    """``emit_present_copy`` for a value read with None for a missing key: one test fewer.
    ``copy`` is the expression that copies it (``_fresh_copy``)."""
    with gen.block(f"if {target} is None or {target} == '':"):
        gen.line(f"{target} = MISSING")
    with gen.block(f"elif {target}.__class__ not in SCALARS:"):
        gen.line(f"{target} = {copy}")


def emit_present_copy(gen: Gen, target: str, where: str) -> None:
    """Apply the present rule to a value read from the input, and copy it if it is a container."""
    with gen.block(f"if {target} is not MISSING:"):  # the usual miss in a list of paths: one test
        with gen.block(f"if {target} is None or {target} == '':"):
            gen.line(f"{target} = MISSING")
        with gen.block(f"elif {target}.__class__ not in SCALARS:"):
            gen.line(f"{target} = fresh({target}, {where!r})")
