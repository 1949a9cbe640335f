"""Turn compiled rules into Python functions: one generated function per rule root, per event type.

Rules compile to Nodes (see compiler.py and the directive, condition and step modules) whose
emitters write straight-line Python: dict access inlined, every path prefix an event function reads
fetched once at its top, the event type folded in as a constant. The generated source keeps the
semantics in one place, the emitters; the runtime helpers here are what generated code calls for
the rarer, larger operations. This module knows nothing of the mapping language itself.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import TransformError
from ..runtime.values import MISSING, fresh, fresh_from, type_name
from .functions import StepError, to_text

Fn = Callable[["Context"], Any]
Emit = Callable[["Gen", str], None]
Put = Callable[[str], None]  # writes what is done with a present value, given as an expression
Store = Callable[["Gen", Put], None]  # writes the rule so that each place it gives a value puts it (see Node.store)


@dataclass(frozen=True, eq=False)
class Node:
    """A compiled rule (or condition). ``emit`` writes the Python statements that set the named
    local to the rule's value, a fresh JSON value or MISSING (a condition's: a bool).
    ``settings_only`` says whether it reads nothing but settings, so the destination may compute
    it once per settings instead of once per event."""

    emit: Emit
    settings_only: bool
    sources: tuple[str, ...] = ()  # the event paths a rule reads, for "tried ..." in messages
    is_event_type: bool = False  # {var: event_type}: a constant within one event type's plan
    local: str | None = None  # an each element's local: `from` reads it in place, without a copy
    owned: bool = False  # its value is a copy made for this evaluation alone: a step may change it in place
    reads_settings: bool = False  # a let binding whose value may hold a setting's (kept out of messages)
    asks: bool = False  # a let binding that may ask a look-up (so it is computed once per event, never again)
    # How many rules use this let binding (counted as they compile; 2 for a use within an each,
    # which may run it many times): one that a single rule uses is written into that rule's code.
    uses: list[int] = field(default_factory=lambda: [0])
    # Where those rules are: the root of each one's YAML path (("body",), ("request", "method"), ...).
    use_roots: list[tuple[Any, ...]] = field(default_factory=list)
    text: bool = False  # its value, where it gives one, is a str (its last step gives text)
    safe: bool = False  # a rule on settings alone that cannot fail: memoized, it may run at the function's top
    # Where a rule can hand its value straight to what takes it (an object's key, a list), skipping
    # MISSING on the way: what ``emit`` and a test would do, in fewer steps (see stored).
    store: Store | None = None
    # Where a rule can write what follows it in a first where it finds nothing (a path's reads):
    # emits the rule so, giving True; False where it cannot (then nothing is emitted).
    emit_or: Callable[[Gen, str, Callable[[], None]], bool] | None = None
    # ``store`` with what follows it in a first written where it finds nothing (a path's reads).
    store_or: Callable[[Gen, Put, Callable[[], None]], None] | None = None
    # Where a rule reads a value from the event that it would copy (a path): the same read without
    # the copy, setting the local ``where`` to the path's name, for a step that copies as it
    # rewrites (see steps.then). The value is the event's own: only such a step may see it.
    uncopied: Callable[[Gen, str, str], None] | None = None
    # A condition's value as a local that holds it where the next line runs (a memoized one's,
    # computed there if it has not run yet): what an ``if`` tests, without a copy into another.
    holding: Callable[["Gen"], str] | None = None
    # The same read without the copy of a container a settings-only let hands out, for a reader
    # that only looks at the value: a template takes its text (refusing a container, copied or
    # not), present tests it.
    peek: Emit | None = None
    # A settings-only let's local in the rule's settings flags, for a template: its value, or a
    # LetFailed, which as_text raises (None where there is none: see Compiler.var_node).
    settled: Callable[[Gen], str | None] | None = None
    # A path read from the event (no root): its paths, so that a rule written where the same read
    # has already given a present value may take that value's local (see Gen.held_reads).
    path_read: tuple[tuple[str, ...], ...] | None = None


def stored(node: Node, gen: Gen, put: Put) -> None:
    """Write ``node`` so that ``put`` takes its value where it gives one: its own ``store`` where
    it has one, else its value into a local and a test."""
    if node.store is not None and not gen.tracing:
        node.store(gen, put)
        return
    value = gen.temp()
    node.emit(gen, value)
    with gen.block(f"if {value} is not MISSING:"):
        put(value)


def memoized(node: Node, key: str) -> Node:
    """A settings-only condition, computed once in a generated function and read from a local
    where that computation has certainly run (a `when` on the same settings guards thirty fields;
    ``key`` says which conditions are the same). Not in a tracing plan: each use is traced there."""

    def holding(gen: Gen) -> str:
        if gen.tracing:
            traced = gen.temp()
            node.emit(gen, traced)
            return traced
        local = gen.memos.get(key)
        if local is None and node.safe and gen.lines is not gen.settings_top:  # once, at the top, before any other rule runs
            local = gen.memos[key] = f"_c{len(gen.memos)}"
            with gen.at_top():
                node.emit(gen, local)
            gen.top_locals.add(local)
        elif local is None or local not in gen.assigned and local not in gen.top_locals:
            local = gen.memos.setdefault(key, f"_c{len(gen.memos)}")
            node.emit(gen, local)
            gen.assigned.add(local)
        return local

    def emit(gen: Gen, target: str) -> None:
        if gen.tracing:
            node.emit(gen, target)
            return
        gen.line(f"{target} = {holding(gen)}")

    return replace(node, emit=emit, holding=holding)


def held(gen: Gen, node: Node, into: str) -> str:
    """The local that holds ``node``'s value where the next line runs: a memoized condition's own
    (see memoized), else ``into``, where its value is written first."""
    if node.holding is not None:
        return node.holding(gen)
    node.emit(gen, into)
    return into


def sources_of(*nodes: Node) -> tuple[str, ...]:
    """The event paths ``nodes`` read, each once: a let used twice by each of a chain of lets would
    otherwise double the list at every link (32 links: 2^32 entries from a 2 KB file)."""
    return tuple(dict.fromkeys(s for node in nodes for s in node.sources))


UNSET: Any = object()


class LetFailed:
    """What a settings-only let raised, kept in a rule's settings flags (see settled_let) and
    raised again at each place the let is read, as its memo read would have: never earlier."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def raise_again(self) -> Any:
        if isinstance(self.error, TransformError):  # a new one each time: a raised one keeps its traceback
            raise TransformError(self.error.message, self.error.status_code)
        raise self.error.with_traceback(None)


def settled_let(ctx: Context, name: str, function: Callable[[Context], Any]) -> Any:
    """A settings-only let's value, for a rule's settings flags (once per settings value and event
    type): from the memo the type's other rules share, else computed and kept there; LetFailed
    where it raises."""
    value = ctx.static_vars.get(name, UNSET)
    if value is UNSET:
        try:
            value = ctx.static_vars[name] = function(ctx)
        except Exception as exc:  # noqa: BLE001 - raised where the let is read (see LetFailed)
            return LetFailed(exc)
    return value


def read_settled(value: Any, name: str, copy: bool) -> Any:
    """A settings-only let's value where a rule reads it, for what the generated test does not
    pass as it is (LET_PLAIN): a container, copied when ``copy`` (every event with these settings
    shares it), or a LetFailed, raised."""
    if value.__class__ is LetFailed:
        value.raise_again()
    if copy and (value.__class__ is dict or value.__class__ is list):
        return fresh(value, name)
    return value


# The classes of a let's value that a rule reads as they are (see read_settled).
LET_PLAIN = frozenset({str, int, bool, float, type(None), MISSING.__class__})
CHAIN_DEPTH = 16  # nested tests a Gen.chain writes before it steps back out (see Gen.chain)
SCALARS = frozenset({str, int, bool})


class _NoKeys(dict[str, Any]):
    """An empty object that refuses to change. A dict, so that generated code reads it with
    dict.get at C speed: a MappingProxyType's get is a method call on the mapping it wraps."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("NO_KEYS is read-only")

    __setitem__ = __delitem__ = setdefault = pop = popitem = update = clear = __ior__ = _refuse


NO_KEYS: Mapping[str, Any] = _NoKeys()  # what a path reads keys of when the value there is no object
_function_ids = itertools.count()
# Where tracing functions (a Plan with tracing=True, built only for explain) append their records.
TRACE: ContextVar[list[tuple[Any, ...]]] = ContextVar("transformer_trace")


class Context:
    """What one event's rules can see. Built per event; rules never modify it except the memos."""

    __slots__ = ("event", "settings", "vars", "static_vars", "lookup")

    def __init__(self, event: Any, settings: Mapping[str, Any], static_vars: dict[str, Any], lookup: Any) -> None:
        self.event = event
        self.settings = settings
        self.vars: dict[str, Any] = {}
        self.static_vars = static_vars  # memo of settings-only lets, shared by events with the same settings
        self.lookup = lookup  # a lookups.Asker: how this event's look-ups are asked


def as_text(value: Any, label: str) -> str:
    if value.__class__ is LetFailed:  # a template reads a failed let's flag as it is: its error is raised here
        value.raise_again()
    try:
        return to_text(value)
    except StepError as exc:
        raise TransformError(f"{label}: {exc}") from None


_EV, _ST = re.compile(r"ev\b"), re.compile(r"st\b")  # a name's ending: what precedes it is tested apart (faster)


def _reads(code: str, name: re.Pattern[str]) -> bool:
    """Whether generated ``code`` may read the local ``name`` (a word in a string may say yes too)."""
    for match in name.finditer(code):
        start = match.start()
        if start == 0 or not (code[start - 1].isalnum() or code[start - 1] == "_"):
            return True
    return False

MAX_TEMPLATE_CHARS = 1_000_000  # a template's text at most (see bounded_text)


def request_string(value: Any, file: str, name: str) -> str:
    """A request method or endpoint as a rule gave it: a string, else its error."""
    if value is MISSING:
        raise TransformError(f"{file} request.{name}: the rule gave no value for this event")
    if value.__class__ is not str:
        raise TransformError(f"{file} request.{name}: must be a string, got {type_name(value)}")
    return str(value)


def bounded_text(text: str, label: str) -> str:
    """A template's text, refused past MAX_TEMPLATE_CHARS: lets that each quote the one before
    twice double the text at every step, and would take the process's memory within 30 steps."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TransformError(f"{label}: the template's text would be {len(text):,} characters, "
                             f"over the limit of {MAX_TEMPLATE_CHARS:,}")
    return text


def merge_present(first: Mapping[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """What ``Gen.merged`` reads when both objects have keys: ``second`` with each present value
    of ``first`` over it (the input is not changed: its values are read, and copied where sent)."""
    merged = dict(second)
    for key, value in first.items():
        if value is not None and value != "":
            merged[key] = value
    return merged


def is_index(key: str) -> bool:
    """A key that is a non-negative integer (``0``, ``12``): also an index into a list."""
    return key.isascii() and key.isdigit() and str(int(key)) == key


def read_key(parent: str, key: str, missing: str = "MISSING") -> str:
    """An expression for ``key`` of the value in local ``parent``, or ``missing``: a key of an
    object; and, for a key that is an index, also an element of a list."""
    of_object = f"{parent}.get({key!r}, {missing}) if isinstance({parent}, dict) else {missing}"
    if not is_index(key):
        return of_object
    return f"{parent}[{key}] if isinstance({parent}, list) and len({parent}) > {key} else {of_object}"


class Generated:
    """What the functions generated for one mapping (in one variant) share.

    ``functions`` memoises them: a rule that does not depend on the event type (most of them) is
    generated once for every event type that uses it. ``namespace`` holds the globals of them all
    (the engine's helpers, and each function's constants under a name of its own): an event runs
    several of these functions, and each global read finds its entry in the same few cache lines.
    """

    def __init__(self) -> None:
        self.functions: dict[tuple[int, str | None], Fn] = {}
        self.namespace: dict[str, Any] = {
            "MISSING": MISSING, "NO_KEYS": NO_KEYS, "UNSET": UNSET, "SCALARS": SCALARS, "fresh": fresh,
            "fresh_from": fresh_from, "as_text": as_text,
            "bounded_text": bounded_text, "merge_present": merge_present, "TransformError": TransformError,
            "StepError": StepError, "request_string": request_string, "settled_let": settled_let,
            "read_settled": read_settled, "LET_PLAIN": LET_PLAIN, "TRACE": TRACE}
        self.constant_ids = itertools.count()


LITERAL_CHARS = 200  # a string constant this long or shorter is written into the generated source (see Gen.const)


class Plan:
    """The rules one event type runs with: its let bindings, and generated functions (``shared``)."""

    def __init__(self, event_type: str | None, lets: Mapping[str, Node], shared: Generated,
                 tracing: bool = False, annotated: bool = False) -> None:
        self.event_type = event_type
        self.lets = lets
        self.shared = shared
        self.tracing = tracing  # the variant for explain: the same code plus trace records (see explain.py)
        self.annotated = annotated  # the variant for reading (listing.py): the same code plus file:line comments

    def function(self, node: Node) -> Fn:
        """The generated function computing ``node`` for this plan (built once)."""
        functions = self.shared.functions
        for key in ((id(node), None), (id(node), self.event_type)):
            if key in functions:
                return functions[key]
        gen = Gen(self)
        function = gen.build(node)
        functions[(id(node), self.event_type if gen.used_event_type else None)] = function
        return function


class Gen:
    """Source code of one function being generated."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.lines: list[str] = []
        self.depth = 1
        self.names = itertools.count()
        self.globals = plan.shared.namespace  # where this function's constants go (see Generated)
        self.prefixes: dict[tuple[Any, ...], str] = {}
        # Each prefix local's reads: (first line, end line) in self.lines, and its parent locals.
        self.prefix_reads: dict[str, list[tuple[int, int]]] = {}
        self.prefix_parent: dict[str, tuple[tuple[str, ...], str, bool]] = {}  # local -> (parents, expression, as_object)
        self.assigned: set[str] = set()  # prefix locals certainly set where the next line runs
        self.reads_event_object = False
        self.used_event_type = False
        self.tracing = plan.tracing
        self.annotated = plan.annotated
        self.trace_to = "tr"  # the local list trace records go to
        self.recording = False  # emitting a rule again, on its error path, to record what it tried
        self.memos: dict[str, str] = {}  # a settings-only condition's key -> the local holding its value (see memoized)
        self.top: list[str] = []  # lines that run at the function's top, after its prefix reads
        self.settings_top: list[str] = []  # the settings-only conditions, computed once per settings (see at_top)
        self.top_locals: set[str] = set()  # the locals those lines set: assigned everywhere below them
        self.whole_request = False  # the function giving the body, method and endpoint (see loader._request_node)
        self.let_locals: dict[int, str] = {}  # a let binding computed in this function -> its local (see Compiler.var_node)
        # A path read's paths -> the local holding its present value, where the code being written
        # runs only after that read gave one (a look-up request's endpoint, after its value).
        self.held_reads: dict[tuple[tuple[str, ...], ...], str] = {}

    @property
    def event_type(self) -> str | None:
        """The plan's event type, to fold in as a constant (noted: the function is then per type)."""
        self.used_event_type = True
        return self.plan.event_type

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.depth += 1
        assigned = set(self.assigned)
        try:
            yield
        finally:
            self.depth -= 1
            self.assigned = assigned  # what the block read may not have run

    def chain(self, steps: list[Callable[[], None]], go_on: str) -> None:
        """Emit each step under the test ``go_on`` (an ``if ...:`` line) of the one before it:
        later steps run only while the earlier ones leave ``go_on`` true. ``go_on`` only reads a
        local, so every CHAIN_DEPTH steps the chain steps back out and tests it again: a list of
        hundreds of paths stays within Python's limit of 100 indentation levels. A step runs only
        after every step before it, so what they read stays assigned for it, even stepped out.
        The first step always runs: what it read stays assigned after the chain too."""
        depth, assigned = self.depth, set(self.assigned)
        for index, step in enumerate(steps):
            step()
            if index == 0:
                assigned = set(self.assigned)
            if index < len(steps) - 1:
                if self.depth - depth >= CHAIN_DEPTH:
                    self.depth = depth
                self.line(go_on)
                self.depth += 1
        self.depth, self.assigned = depth, assigned

    @contextmanager
    def at_top(self) -> Iterator[None]:
        """Within it, emitted lines (settings-only conditions, see memoized) go to the function's
        top: they run first, once per settings value (see settings_flags)."""
        saved = self.lines, self.depth, set(self.assigned)
        self.lines, self.depth = self.settings_top, 1
        try:
            yield
        finally:
            self.top_locals |= self.assigned - saved[2]  # set there unconditionally: set for every line below
            self.lines, self.depth, self.assigned = saved

    def trace(self, *parts: str) -> None:
        """In a tracing plan only, a line appending the record ``(parts...)`` to the trace."""
        if self.tracing:
            self.line(f"{self.trace_to}.append(({', '.join(parts)},))")

    @contextmanager
    def recording_into(self, records: str) -> Iterator[None]:
        """Within it, emitted code appends trace records to the local list ``records`` (made
        here), in any plan: for code that runs only on an error path (see messages.py)."""
        self.line(f"{records} = []")
        saved = self.tracing, self.trace_to, self.recording
        self.tracing, self.trace_to, self.recording = True, records, True
        try:
            yield
        finally:
            self.tracing, self.trace_to, self.recording = saved

    def temp(self) -> str:
        return f"_t{next(self.names)}"

    def const(self, value: Any) -> str:
        """An expression for ``value``: a short string, an integer, a boolean or None written as
        itself (a constant of the code object), anything else a name in the generated function's
        globals holding it."""
        if value is None or value.__class__ is bool or value.__class__ is int and abs(value) < 1 << 63 \
                or value.__class__ is str and len(value) <= LITERAL_CHARS:
            return repr(value)
        name = f"_k{next(self.plan.shared.constant_ids)}"  # in the namespace every function shares
        self.globals[name] = value
        return name

    def read(self, keys: tuple[str, ...], missing: str = "MISSING") -> str:
        """An expression for the event's value at ``keys`` (not empty), or ``missing``. Each prefix
        of the path is read into a local where first needed, so a value found early in a list of
        paths reads nothing more, and later reads that this one dominates reuse it."""
        *parents, key = keys
        if is_index(key):
            return read_key(self._prefix(tuple(parents), as_object=False), key, missing)
        if missing == "None":  # dict.get's own default: one argument less to pass
            return f"{self._prefix(tuple(parents), as_object=True)}.get({key!r})"
        return f"{self._prefix(tuple(parents), as_object=True)}.get({key!r}, {missing})"

    def holder(self, keys: tuple[str, ...]) -> str:
        """The local holding the object that the last key of ``keys`` (not an index) is read from."""
        return self._prefix(keys[:-1], as_object=True)

    def _prefix(self, keys: tuple[str, ...], as_object: bool) -> str:
        """The local holding the event's value at ``keys``; ``as_object``: that value if it is an
        object, else an empty read-only one, so that reading a key of it needs no test."""
        if not keys:  # the event itself: read at the function's top (see build)
            self.reads_event_object |= as_object
            return "evo" if as_object else "ev"
        local = self.prefixes.setdefault((as_object, keys), f"_p{len(self.prefixes)}")
        if local not in self.assigned:
            expression = self.read(keys)  # writes the parent's read first, where needed
            start = len(self.lines)
            self.line(f"{local} = {expression}")
            if as_object:
                with self.block(f"if not isinstance({local}, dict):"):
                    self.line(f"{local} = NO_KEYS")
            self.prefix_reads.setdefault(local, []).append((start, len(self.lines)))
            parent = self._prefix(keys[:-1], not is_index(keys[-1])) if len(keys) > 1 else "ev"
            self.prefix_parent[local] = ((parent,), expression, as_object)
            self.assigned.add(local)
        return local

    def merged(self, first: tuple[str, ...], second: tuple[str, ...]) -> str:
        """A local holding one object to read a key of where a list of paths reads it under
        ``first``, else under ``second`` (``traits.email``, then ``context.traits.email``): the
        object at ``second`` with each present value of the one at ``first`` over it. Most events
        have one of the two (or neither), which is then the object itself: one read, not two."""
        local = self.prefixes.setdefault(("merged", first, second), f"_p{len(self.prefixes)}")
        if local not in self.assigned:
            a, b = self._prefix(first, as_object=True), self._prefix(second, as_object=True)
            expression = f"{a} if not {b} else {b} if not {a} else merge_present({a}, {b})"
            start = len(self.lines)
            self.line(f"{local} = {expression}")
            self.prefix_reads.setdefault(local, []).append((start, len(self.lines)))
            self.prefix_parent[local] = ((a, b), expression, False)
            self.assigned.add(local)
        return local

    def settings_flags(self, name: str) -> tuple[list[str], list[str]]:
        """The function's settings-only conditions: a function of their own, written before the
        rule in its source (one compile for both), run at the first event of a settings value and
        event type, its values kept in ctx.static_vars under a key no let binding can have; and the
        rule's head line unpacking them into their locals at every event."""
        if not self.settings_top:
            return [], []
        local_names = ", ".join(sorted(self.top_locals)) + ("," if len(self.top_locals) == 1 else "")
        key = f"#{name}"
        flags = [f"def flags_of_{name}(ctx):", "    st = ctx.settings", *self.settings_top,
                 f"    ctx.static_vars[{key!r}] = _flags = ({local_names})", "    return _flags", ""]
        return flags, [f"    {local_names} = ctx.static_vars.get({key!r}) or flags_of_{name}(ctx)"]

    def _hoisted(self) -> tuple[list[str], list[str]]:
        """The function's head lines reading each prefix read in more than one place (in blocks
        that do not see each other's reads: `traits` under each of thirty `first`s), and the body
        without those reads. A prefix read is a dict read and a type test, cheaper than a second one."""
        hoisted: set[str] = set()
        for local, spans in self.prefix_reads.items():
            if len(spans) < 2:
                continue
            pending = [local]
            while pending:  # with its parents, which its read needs
                local = pending.pop()
                if local.startswith("_p") and local not in hoisted:
                    hoisted.add(local)
                    pending.extend(self.prefix_parent[local][0])
        if not hoisted:
            return [], self.lines
        dropped = {n for local in hoisted for start, end in self.prefix_reads[local] for n in range(start, end)}
        head = []
        for local in sorted(hoisted, key=lambda name: self.prefix_reads[name][0][0]):
            _, expression, as_object = self.prefix_parent[local]
            head.append(f"    {local} = {expression}")
            if as_object:
                head += [f"    if not isinstance({local}, dict):", f"        {local} = NO_KEYS"]
        return head, [line for n, line in enumerate(self.lines) if n not in dropped]

    def function(self, node: Node) -> Fn:
        """Another rule's generated function, to call from this one; a per-type one makes this per type."""
        function = self.plan.function(node)
        if self.plan.shared.functions.get((id(node), None)) is not function:
            self.used_event_type = True
        return function

    def let(self, name: str) -> str:
        """A global name for the generated function of let binding ``name`` (``let_NAME`` in an
        annotated plan, so that a reader sees which let is called)."""
        function = self.function(self.plan.lets[name])
        constant = self.const(function)  # in both variants, so that their other names are the same
        if not self.annotated:
            return constant
        global_name = "let_" + "".join(c if c.isalnum() else "_" for c in name)
        self.globals[global_name] = function
        return global_name

    def note(self, text: str) -> None:
        """In an annotated plan only, a comment line (where a rule is written)."""
        if self.annotated:
            self.line("# " + text.replace("\n", " "))

    def build(self, node: Node) -> Fn:
        node.emit(self, "_r")
        name = f"rule_{next(_function_ids)}"
        prefixes, body = self._hoisted()
        flags, unpack = self.settings_flags(name)
        head = [*(["    tr = TRACE.get()"] if self.tracing else []), *unpack,
                *(["    evo = ev if isinstance(ev, dict) else NO_KEYS"] if self.reads_event_object else []), *prefixes,
                *self.top]
        # ev and st only where the code reads them (a word in a string constant may add one for nothing)
        text = "\n".join([*head, *body])
        head = [*(["    ev = ctx.event"] if _reads(text, _EV) else []), *(["    st = ctx.settings"] if _reads(text, _ST) else []),
                *head]
        source = "\n".join([*flags, f"def {name}(ctx):", *head, *body, "    return _r", ""])
        exec(compile(source, f"<mapping rule {name}>", "exec"), self.globals)  # noqa: S102 - our own generated code
        function: Fn = self.globals[name]
        function.__doc__ = source  # shows what a rule compiled to, for whoever debugs it
        return function
