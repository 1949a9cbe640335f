"""``required``: the error a rule declares when it gives nothing, possibly quoting the event.

The message is a template: ``{name}`` placeholders come from ``vars`` (``required: {message,
vars}``), let bindings or an ``each``'s element, never from a setting (a load error: its value may
be a secret). Each quoted value is cut to QUOTED_CHARS characters and escaped, so a message stays
one printable line whatever the event holds. The paths the rule tried are appended: only those
it read for this event, in order, each once. They are found on the error path alone, by running
the rule again with trace records (``Gen.recording_into``), so a rule that gives a value pays nothing.

That second run is generated lazily: the rule's function holds only a call to it, and its code is
generated and compiled when the rule first fails (most rules never do), as a function of its own
that gets the enclosing ``each`` elements from the call and gives the records. Load then compiles
the code of each rule once. The listing (``transformer compile``) shows that call, as transform
runs it; explain's tracing variant, built on demand, keeps the second run inline as it always did.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import TransformError
from ..runtime.values import MISSING
from ..runtime.wire import compact_json
from .codegen import Context, Fn, Gen, Node, Plan, Put
from .directives import template_pieces
from .functions import to_text
from .registry import Scope
from .yamlsource import YamlPath

QUOTED_CHARS = 100  # the most characters of one quoted value a message shows (then "...")
NO_VALUE = "(none)"  # what a placeholder with no value shows


def quoted(value: Any) -> str:
    """A value as a message quotes it: text as is, other scalars as JSON writes them, containers as
    compact JSON; cut to QUOTED_CHARS characters, then every character that is not printable
    written as its escape (``\\n``, ``\\x00``, ``\\u2028``)."""
    if value is MISSING:
        return NO_VALUE
    text = value if isinstance(value, str) else compact_json(value) if isinstance(value, (dict, list)) else to_text(value)
    cut = text[:QUOTED_CHARS]
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in cut)
    return shown + ("..." if len(text) > QUOTED_CHARS else "")


def required_node(scope: Scope, node: Node, spec: str | dict[str, Any], path: YamlPath, label: str) -> Node:
    """``node``, raising the declared error (a 400) when it gives nothing."""
    text, given = (spec, {}) if isinstance(spec, str) else (spec["message"], spec.get("vars", {}))
    reads_before = scope.settings_reads
    pieces = template_pieces(scope, text, given, path if isinstance(spec, str) else path + ("message",),
                             path + ("vars",), "message")
    if scope.settings_reads > reads_before:
        scope.problem(path, "an error message may not quote a setting (its value may be a secret); "
                            "quote event values, or write the setting's name in the text")
    pieces = pieces or [text]
    sources = tuple(dict.fromkeys(node.sources))
    # A let binding is computed once per event: run again, it records its name, not its reads.
    let_sources = {name: [s for s in let.sources if s in sources] for name, let in scope.lets.items()}
    # The locals of the enclosing eaches' elements, which the rule and its message may read.
    bound = tuple(local for local, _ in scope.locals.values())

    def fail(tried: list[tuple[Any, ...]], *values: Any) -> None:
        found = iter(values)
        message = "".join(piece if isinstance(piece, str) else quoted(next(found)) for piece in pieces)
        read = [[record[1]] if record[0] == "read" and record[1] in sources else let_sources.get(record[1], [])
                if record[0] == "let" else [] for record in tried]
        paths = list(dict.fromkeys(path for paths_read in read for path in paths_read))
        raise TransformError(f"{label}: {message}" + (f" (tried {', '.join(paths)})" if paths else ""))

    def run_again(gen: Gen, records: str) -> None:
        """The rule run again, its records appended to the new list in local ``records``."""
        with gen.recording_into(records):
            node.emit(gen, gen.temp())

    def emit(gen: Gen, target: str) -> None:
        node.emit(gen, target)
        if gen.recording:  # run again to record what it read: it gave nothing without an error before
            return
        with gen.block(f"if {target} is MISSING:"):
            records = gen.temp()
            if gen.tracing:  # explain's variant, built on demand: inline, as it always was
                run_again(gen, records)
            else:
                lazy = _RunAgain(gen.plan, bound, run_again)
                gen.line(f"{records} = {gen.const(lazy)}({', '.join(['ctx', *bound])})")
            values = []
            for piece in pieces:
                if isinstance(piece, Node):
                    values.append(gen.temp())
                    piece.emit(gen, values[-1])
            gen.line(f"{gen.const(fail)}({', '.join([records, *values])})")

    def store(gen: Gen, put: Put) -> None:  # past the test, a value is certainly there
        value = gen.temp()
        emit(gen, value)
        if gen.recording:  # run again only for what it reads (see emit): it may give nothing there
            with gen.block(f"if {value} is not MISSING:"):
                put(value)
            return
        put(value)

    return Node(emit, node.settings_only, node.sources, store=store)


class _BoundContext(Context):
    """The event's context plus the values of the enclosing eaches' elements, for a run again."""

    __slots__ = ("bound",)
    bound: tuple[Any, ...]


class _RunAgain:
    """A failed rule's second run, recording what it read (see the module's docstring): generated
    and compiled at its first call, in the plan the rule's function was generated in. It gives the
    records; the message's values are computed by the rule's own function, after it, as inline.

    The rule's function reads the event type wherever its second run would (it runs the same rule,
    minus look-ups), so a function shared by several event types has a second run that reads none."""

    __slots__ = ("bound", "function", "plan", "write")

    def __init__(self, plan: Plan, bound: tuple[str, ...], write: Callable[[Gen, str], None]) -> None:
        self.plan = plan
        self.bound = bound
        self.write = write
        self.function: Fn | None = None

    def __call__(self, ctx: Context, *values: Any) -> list[tuple[Any, ...]]:
        function = self.function
        if function is None:  # two threads may both build it: the same code, either will do
            function = self.function = Gen(self.plan).build(Node(self._emit, False))
        inner = _BoundContext(ctx.event, ctx.settings, ctx.static_vars, ctx.lookup)
        inner.vars = ctx.vars  # the let bindings computed so far, shared as inline
        inner.bound = values
        records: list[tuple[Any, ...]] = function(inner)
        return records

    def _emit(self, gen: Gen, target: str) -> None:
        if self.bound:
            gen.line(f"{', '.join(self.bound)}, = ctx.bound")
        self.write(gen, target)
