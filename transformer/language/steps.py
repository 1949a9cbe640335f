"""Steps (``then``): each changes a value that is there, in order, and may have its own ``when``.

A ``@step`` function checks its YAML once, at load, and returns the function the generated code
calls with the value; that function returns the new value or raises StepError, which the
generated code turns into a 400 naming the rule and the paths it read. ``then`` is the modifier
that runs a rule's steps.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import TransformError
from ..runtime.values import MISSING, fresh, type_name
from . import dates
from .codegen import Gen, Node, held
from .entries import compile_entries
from .functions import COERCIONS, GIVES_TEXT, StepError, needs_text, to_text
from .hashing import Hasher
from .patterns import PatternError, compile_pattern
from .registry import Scope, Step, StepCompiler, registering
from .yamlsource import YamlPath

STEPS: dict[str, StepCompiler] = {}  # in the order a "needs exactly one of" message lists them


def step(name: str) -> Callable[[StepCompiler], StepCompiler]:
    return registering(STEPS, name)


def then(scope: Scope, node: Node, specs: list[dict[str, Any]], path: YamlPath, label: str) -> Node:
    """The ``then`` modifier: ``node``'s value through each step; a step's error names the rule."""
    steps: list[tuple[Step, Node | None]] = []
    settings_only = node.settings_only
    for index, spec in enumerate(specs):
        here = path + (index,)
        actions = [key for key in spec if key != "when"]
        if len(actions) != 1:
            scope.problem(here, f"a step needs exactly one of {', '.join(STEPS)}")
            continue
        test = None
        if "when" in spec:
            test = scope.condition(spec["when"], here + ("when",))
            settings_only = settings_only and test.settings_only
        steps.append((STEPS[actions[0]](scope, spec[actions[0]], here + (actions[0],)), test))
    tried = f" (from {', '.join(node.sources)})" if node.sources else ""
    fused = _copying_steps(node, steps)
    if node.owned and steps and isinstance(steps[0][0], _Omit):  # no one else holds the value: no second copy
        steps[0] = (steps[0][0].in_place, steps[0][1])
    steps = [(function.rewrite if isinstance(function, _Entries) else function, test) for function, test in steps]
    # The last step always runs and gives text: the value is a str where there is one.
    gives_text = bool(steps) and steps[-1][1] is None and steps[-1][0] in GIVES_TEXT

    def run(gen: Gen, target: str, runs: list[tuple[Step, Node | None]]) -> None:
        for function, test in runs:
            call = f"{target} = {gen.const(function)}({target})"
            if test is None:
                gen.line(call)
                continue
            with gen.block(f"if {held(gen, test, gen.temp())}:"):
                gen.line(call)

    def run_copying(gen: Gen, target: str, where: str) -> None:
        """The copying read's call in place of the copy and the first steps, then the other steps."""
        assert fused is not None
        copying, count, test = fused
        call = f"{target} = {gen.const(copying)}({target}, {where})"
        if test is None:
            gen.line(call)
        else:  # the copying step may not run: copy as the read would have, then the steps before it
            with gen.block(f"if {held(gen, test, gen.temp())}:"):
                gen.line(call)
            with gen.block("else:"):
                with gen.block(f"if {target}.__class__ not in SCALARS:"):
                    gen.line(f"{target} = fresh({target}, {where})")
                run(gen, target, steps[:count - 1])
        run(gen, target, steps[count:])

    def emit(gen: Gen, target: str) -> None:
        copies = fused is not None and not gen.tracing  # explain's tracing copy keeps the plain read: it is traced
        where = gen.temp() if copies else ""
        if copies:
            assert node.uncopied is not None
            node.uncopied(gen, target, where)
        else:
            node.emit(gen, target)
        with gen.block(f"if {target} is not MISSING:"):
            with gen.block("try:"):
                if copies:
                    run_copying(gen, target, where)
                else:
                    run(gen, target, steps)
            with gen.block("except StepError as _error:"):  # the message made by a constant: less code beside the steps
                gen.line(f"raise {gen.const(step_failed(label, tried))}(_error) from None")
            with gen.block(f"if not {target}:" if gives_text else f"if {target} is None or {target} == '':"):
                gen.line(f"{target} = MISSING")

    return Node(emit, settings_only, node.sources, text=gives_text)


def step_failed(label: str, tried: str) -> Callable[[StepError], TransformError]:
    """The error of a rule whose steps raised: the rule's label, the step's words, what was read."""

    def error(failure: StepError) -> TransformError:
        return TransformError(f"{label}: {failure}{tried}")

    return error


CopyingRead = Callable[[Any, str], Any]  # (the value as read, its path's name) -> the value after the steps it runs


def _copying_steps(node: Node, steps: list[tuple[Step, Node | None]]) -> tuple[CopyingRead, int, Node | None] | None:
    """For a path whose steps start with ``entries``, or with an ``omit`` (with no ``when``) and
    ``entries``: a path read's copy and those steps in one pass that copies only what the result
    keeps (see entries.compile_entries), falling back to the copy and the steps as the rule has
    always run them where that pass gives None; how many of the rule's steps it runs; and the
    entries step's condition. None for any other rule."""
    if node.uncopied is None or not node.owned:
        return None
    omit = None
    if len(steps) >= 2 and isinstance(steps[0][0], _Omit) and steps[0][1] is None:
        omit = steps[0][0]
        steps = steps[1:]
    if not steps or not isinstance(steps[0][0], _Entries):
        return None
    skip = omit.dropped if omit is not None else frozenset()
    in_place = omit.in_place if omit is not None else None
    rewrite, copying = steps[0][0].rewrite, steps[0][0].copying

    def copying_read(value: Any, where: str) -> Any:
        if value.__class__ is dict:
            out = copying(value, skip)
            if out is not None:
                return out
        value = fresh(value, where)
        if in_place is not None:
            value = in_place(value)
        return rewrite(value)

    return copying_read, 2 if omit is not None else 1, steps[0][1]


def _needs_object(value: Any, step: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StepError(f"{step} needs an object, got {type_name(value)}")
    return value


class _Omit:
    """The omit step: the object without the keys. A value a rule shares (a let's, used twice) is
    copied when a key goes; a value ``then`` knows to be its own (see Node.owned) loses them in place."""

    def __init__(self, keys: list[str]) -> None:
        self.dropped = frozenset(keys)

    def __call__(self, value: Any) -> Any:
        kept = _needs_object(value, "omit")
        for key in self.dropped:
            if key in kept:
                return {k: v for k, v in kept.items() if k not in self.dropped}
        return kept  # nothing to drop: the value is the rule's own already, no copy needed

    def in_place(self, value: Any) -> Any:
        kept = value if isinstance(value, dict) else _needs_object(value, "omit")
        for key in self.dropped:
            kept.pop(key, None)
        return kept


@step("omit")
def _omit(scope: Scope, keys: list[str], path: YamlPath) -> Step:
    return _Omit(keys)


@step("coerce")
def _coerce(scope: Scope, name: str, path: YamlPath) -> Step:
    return COERCIONS[name]


class _Entries:
    """The entries step (its own module: made as cheap as a dict comprehension, see there):
    ``rewrite`` for a value the rule owns, ``copying`` for one read straight from the event."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.rewrite, self.copying = compile_entries(spec)

    def __call__(self, value: Any) -> Any:
        return self.rewrite(value)


@step("entries")
def _entries(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Step:
    return _Entries(spec)


@step("join")
def _join(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Step:
    keys = tuple(spec["keys"])
    sep = spec.get("sep", " ")

    def join(value: Any) -> Any:
        if isinstance(value, str):
            return value
        parts = _needs_object(value, "join")
        texts = [part if part.__class__ is str else to_text(part) for key in keys
                 if (part := parts.get(key)) is not None and part != ""]  # present: not missing, null or ""
        return sep.join(texts) if texts else MISSING

    return join


@step("max_length")
def _max_length(scope: Scope, limit: int, path: YamlPath) -> Step:
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            raise StepError(f"is {len(value)} characters, over the limit of {limit}")
        return value

    return check


@step("date")
def _date(scope: Scope, spec: dict[str, Any], path: YamlPath) -> Step:
    to, epoch = spec["to"], spec.get("epoch", "seconds")
    if "precision" in spec and to != "iso":
        scope.problem(path + ("precision",), "precision goes with to: iso only (unix times are whole numbers)")
    precision = spec.get("precision", "millis")

    def convert(value: Any) -> Any:
        micros = dates.read_instant(value, epoch)
        return dates.iso(micros, precision) if to == "iso" else dates.unix(micros, to.removeprefix("unix_"))

    return convert


@step("truncate")
def _truncate(scope: Scope, spec: dict[str, int], path: YamlPath) -> Step:
    if "chars" in spec:
        chars = spec["chars"]
        return lambda value: needs_text(value, "truncate")[:chars]
    limit = spec["bytes"]

    def cut(value: Any) -> str:
        encoded = needs_text(value, "truncate").encode("utf-8", "surrogatepass")
        # A cut inside a character leaves only its first bytes, which decoding drops.
        return encoded[:limit].decode("utf-8", "ignore") if len(encoded) > limit else value

    return cut


@step("replace")
def _replace(scope: Scope, spec: dict[str, str], path: YamlPath) -> Step:
    try:
        pattern = compile_pattern(spec["regex"])  # RE2: linear in the text (see patterns.py)
    except PatternError as exc:
        scope.problem(path + ("regex",), str(exc))
        return lambda value: value
    replacement = spec["with"]
    return lambda value: pattern.sub(lambda _: replacement, needs_text(value, "replace"))  # literal text


@step("hash")
def _hash(scope: Scope, spec: str | dict[str, Any], path: YamlPath) -> Step:
    if isinstance(spec, str):
        return Hasher(spec, ())
    return Hasher(spec["digest"], [COERCIONS[name] for name in spec.get("normalize", ())])


@step("split")
def _split(scope: Scope, separator: str, path: YamlPath) -> Step:
    return lambda value: needs_text(value, "split").split(separator)
