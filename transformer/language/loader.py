"""Load a mapping folder: parse YAML with lines, validate against the schema, compile the rules."""
from __future__ import annotations

import copy
import datetime
import json
import math
from collections.abc import Mapping as AnyMapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MappingError, Problem
from ._record import FrozenRecord, Record
from ._schema import LazyValidator, has_references, known_valid_schema, no_retrieval
from .checks import (
    Check,
    Test,
    document_tests,
    fast_test,
    schema_problems,
    validator_for,
)
from .codegen import Fn, Gen, Generated, Plan
from .compiler import EVENT_TYPE_VAR, Compiler, Node, merged_object
from .delivery_rules import DeliveryRules, delivery_rules
from .functions import COERCIONS
from .patterns import schema_pattern_problems
from .registry import rule_label
from .suggest import closest, did_you_mean
from .yamlsource import Limits, Source, YamlPath, parse_yaml, read_text

if TYPE_CHECKING:
    import jsonschema

DESTINATION_FILE = "destination.yaml"
# What one mapping file may hold: the largest bundled file has about 400 values, none longer than
# 200 characters. The bounds keep load, schema check and compile of any file well under seconds.
LIMITS = Limits(nodes=10_000, chars=10_000)
REQUEST_PARTS = ("method", "endpoint", "headers", "params")


@cache
def _schema() -> dict[str, Any]:
    # Beside this module in a checkout and in the wheel (importlib.resources would import zipfile,
    # tempfile and more for a file that is always on disk, as the built-in mappings are: folders.py).
    schema: dict[str, Any] = json.loads((Path(__file__).parent / "mapping.schema.json").read_text("utf-8"))
    # The coercions are listed where they are defined; the schema gets their names and descriptions.
    names = sorted(COERCIONS)
    schema["$defs"]["coercion"]["enum"] = names
    schema["$defs"]["coercion"]["enumDescriptions"] = [_summary(COERCIONS[name]) for name in names]
    return schema


def _summary(function: Any) -> str:
    """The first paragraph of a function's docstring, on one line."""
    return " ".join((function.__doc__ or "").strip().split("\n\n")[0].split())


def mapping_schema() -> dict[str, Any]:
    """The JSON Schema that mapping files follow, complete (the coercions listed with their descriptions).

    ``scripts/generate_schemas.py`` writes it out as the editor schemas in ``schema/``."""
    return copy.deepcopy(_schema())


@cache
def _validators() -> tuple[Any, Any]:
    """Validators for destination.yaml and event files.

    The schema's own "#/$defs/..." references are replaced by the definitions themselves (a
    cyclic structure, which validation follows as deep as the document goes): the same checks,
    twice as fast as resolving each reference at every node. Built only for a file that fails its
    fast test (see _known_valid): importing jsonschema is a good part of a process's start.
    """
    import jsonschema

    defs = copy.deepcopy(_schema()["$defs"])

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and set(node) <= {"$ref", "description", "examples"}:  # annotations change no check
                return defs[node["$ref"].removeprefix("#/$defs/")]
            for key, value in node.items():
                node[key] = inline(value)
        elif isinstance(node, list):
            node[:] = [inline(item) for item in node]
        return node

    for definition in defs.values():
        inline(definition)
    cls = jsonschema.Draft202012Validator
    return cls(defs["destination"]), cls(defs["eventFile"])


@cache
def _fast_tests() -> tuple[Test, ...] | None:
    """The fast tests of destination.yaml and event files (see checks.document_tests)."""
    return document_tests(_schema(), "#/$defs/destination", "#/$defs/eventFile")


def _known_valid(data: Any, which: int) -> bool:
    """Whether the fast test says ``data`` has no schema error; jsonschema finds and words any
    there are, and decides whatever the fast test cannot."""
    tests = _fast_tests()
    try:
        return tests is not None and tests[which](data)
    except Exception:  # noqa: BLE001 - a value that is not JSON (a date YAML read): jsonschema decides
        return False


BATCH_LIMITS = ("max_request_bytes", "max_events", "max_event_bytes")


# The loader's records are FrozenRecords and Records (see _record.py): what @dataclass gave them,
# without its code generation at every import.

class Batching(FrozenRecord):
    __slots__ = ("endpoint", "when", "key", "concat", "max_request_bytes", "max_events",  # noqa: RUF023 - in order
                 "max_event_bytes", "settings", "array", "headers")
    endpoint: Fn  # evaluated with each request description as the event
    when: Fn | None  # gives a bool: whether that request is batched at all
    key: str | None  # the body key wrapping the list of bodies; None when concat or array is given
    concat: tuple[tuple[str, int], ...]  # (list key, most items per batch body), or () with key
    max_request_bytes: int
    max_events: int
    max_event_bytes: int
    settings: tuple[tuple[str, str], ...]  # (limit, setting) for limits a setting may change
    array: bool  # the batch body is a bare array of the bodies
    headers: tuple[tuple[str, Fn], ...]  # headers only the packed batch request carries

    def __init__(self, endpoint: Fn, when: Fn | None, key: str | None, concat: tuple[tuple[str, int], ...],
                 max_request_bytes: int, max_events: int, max_event_bytes: int, settings: tuple[tuple[str, str], ...] = (),
                 array: bool = False, headers: tuple[tuple[str, Fn], ...] = ()) -> None:
        self._set(endpoint=endpoint, when=when, key=key, concat=concat, max_request_bytes=max_request_bytes,
                  max_events=max_events, max_event_bytes=max_event_bytes, settings=settings, array=array, headers=headers)

    @property
    def listed(self) -> bool:
        """Whether a batch body is the list of the bodies (under ``key`` or bare), not concatenated lists."""
        return self.key is not None or self.array

    def for_settings(self, settings: AnyMapping[str, Any]) -> Batching:
        """These limits with the values ``settings`` give (validated, defaults applied)."""
        if not self.settings:
            return self
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update({limit: settings.get(name, getattr(self, limit)) for limit, name in self.settings})
        return Batching(**values)


# A validate entry compiled but not yet generated: (label, condition as a rule giving a bool, validator).
_CheckSpec = tuple[str, Node | None, Any]


class Part(FrozenRecord):
    """One generated rule of a request, and whether it reads only settings."""

    __slots__ = ("fn", "settings_only")
    fn: Fn
    settings_only: bool

    def __init__(self, fn: Fn, settings_only: bool) -> None:
        self._set(fn=fn, settings_only=settings_only)


class EventPlan(FrozenRecord):
    """Everything needed to turn one event type into a request, compiled and generated."""

    __slots__ = ("file", "method", "endpoint", "headers", "params", "body", "checks",  # noqa: RUF023 - in order
                 "for_each", "item_name", "request")
    file: str
    method: Part
    endpoint: Part
    headers: dict[str, Part]
    params: dict[str, Part]
    body: Fn | None
    checks: tuple[Check, ...]  # destination.yaml's validate entries, then the file's
    for_each: Fn | None  # fan-out: gives the list whose elements each make one request
    item_name: str  # the variable each element is bound to
    # Where the method and the endpoint both read the event: the body, the checks and those two in
    # one function giving (body, method, endpoint) (see _request_node); ``body`` is then None, and
    # the method and endpoint parts say only that they read the event.
    request: Fn | None

    def __init__(self, file: str, method: Part, endpoint: Part, headers: dict[str, Part], params: dict[str, Part],
                 body: Fn | None, checks: tuple[Check, ...], for_each: Fn | None = None, item_name: str = "item",
                 request: Fn | None = None) -> None:
        self._set(file=file, method=method, endpoint=endpoint, headers=headers, params=params, body=body, checks=checks,
                  for_each=for_each, item_name=item_name, request=request)


# A file's fan-out: the for_each rule and the variable its elements are bound to.
FanOut = tuple[Node, str]


# An event type's compiled rules: its file, let bindings, request parts, body, checks and fan-out.
Rules = tuple[str, dict[str, Node], dict[str, Any], Node | None, list[_CheckSpec], FanOut | None]


class Mapping(FrozenRecord):
    __slots__ = ("name", "folder", "settings_schema", "settings_validator", "secrets", "settings_errors",  # noqa: RUF023
                 "plans", "max_body_bytes", "max_body_setting", "batching", "delivery", "texts", "rules", "other",
                 "other_rules", "other_error", "type_first", "warnings")  # in order
    name: str
    folder: Path
    settings_schema: dict[str, Any]
    settings_validator: Any
    secrets: tuple[str, ...]
    settings_errors: dict[str, str]  # setting name -> the message when it fails validation
    plans: dict[str, EventPlan]
    max_body_bytes: int | None
    max_body_setting: str | None  # the setting that may change max_body_bytes
    batching: Batching | None
    delivery: DeliveryRules
    texts: dict[str, str]  # file name -> the text it was compiled from: enough to build it again
    rules: dict[str, Rules]  # event type -> its compiled rules, to generate the tracing variant from
    other: EventPlan | None  # other_events.file: the plan of every type events does not name
    other_rules: Rules | None
    other_error: str | None  # other_events.error: the message for a type events does not name
    type_first: bool  # settings_checked: after_event_type
    warnings: tuple[Problem, ...]  # what loads but is likely a mistake (transformer check shows them)

    def __init__(self, name: str, folder: Path, settings_schema: dict[str, Any], settings_validator: Any,
                 secrets: tuple[str, ...], settings_errors: dict[str, str], plans: dict[str, EventPlan],
                 max_body_bytes: int | None, max_body_setting: str | None, batching: Batching | None,
                 delivery: DeliveryRules, texts: dict[str, str], rules: dict[str, Rules], other: EventPlan | None = None,
                 other_rules: Rules | None = None, other_error: str | None = None, type_first: bool = False,
                 warnings: tuple[Problem, ...] = ()) -> None:
        self._set(name=name, folder=folder, settings_schema=settings_schema, settings_validator=settings_validator,
                  secrets=secrets, settings_errors=settings_errors, plans=plans, max_body_bytes=max_body_bytes,
                  max_body_setting=max_body_setting, batching=batching, delivery=delivery, texts=texts, rules=rules,
                  other=other, other_rules=other_rules, other_error=other_error, type_first=type_first, warnings=warnings)


class MappingTexts:
    """The text of each file of a mapping folder, read once: from disk, or as given (a mapping
    that travelled, e.g. a pickled Destination, on a machine that may not have the folder)."""

    def __init__(self, folder: Path, given: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.given = given
        self.read: dict[str, str] = {}

    def names(self) -> list[str]:
        """The mapping files there are, for "did you mean"."""
        if self.given is not None:
            return sorted(self.given)
        return sorted(p.name for p in self.folder.glob("*.y*ml") if p.is_file())

    def exists(self, file_name: str) -> bool:
        return file_name in self.given if self.given is not None else (self.folder / file_name).is_file()

    def text(self, file_name: str, problems: list[Problem]) -> str | None:
        display = str(self.folder / file_name)
        if self.given is not None:
            text = self.given.get(file_name)
            if text is None:
                problems.append(Problem(display, None, "", "file not found"))
        else:
            path = self.folder / file_name
            if not path.is_file():
                problems.append(Problem(display, None, "", "file not found"))
                return None
            text, read_problems = read_text(path, display)
            problems.extend(read_problems)
        if text is not None:
            self.read[file_name] = text
        return text


def load_mapping(folder: Path, texts: dict[str, str] | None = None) -> Mapping:
    """Load and compile ``folder`` (or ``texts``, its files' contents); raise MappingError listing
    every problem found."""
    try:
        return _load_mapping(folder, texts)
    except (RecursionError, SyntaxError) as exc:  # generated code nested beyond what Python compiles
        raise MappingError([Problem(str(folder), None, "", "a rule is nested or chained too deeply to compile "
                                                           f"({exc.__class__.__name__}); split it up")]) from None


class _Shared(Record):
    """What destination.yaml gives every event file, compiled: the settings they may read, path
    aliases, shared lets, request parts, body and checks, and the batch rules."""

    __slots__ = ("source", "spec", "settings", "aliases", "lets", "request", "body", "checks",  # noqa: RUF023 - in order
                 "batch_nodes", "warnings")
    source: Source
    spec: dict[str, Any]
    settings: dict[str, Any]  # setting name -> its schema
    aliases: dict[str, Any]
    lets: dict[str, Node]
    request: dict[str, Any]
    body: Node | None
    checks: list[_CheckSpec]
    batch_nodes: tuple[Node, Node | None, dict[str, Node]] | None  # endpoint, when, headers
    warnings: list[Problem]

    def __init__(self, source: Source, spec: dict[str, Any], settings: dict[str, Any], aliases: dict[str, Any],
                 lets: dict[str, Node], request: dict[str, Any], body: Node | None, checks: list[_CheckSpec],
                 batch_nodes: tuple[Node, Node | None, dict[str, Node]] | None, warnings: list[Problem]) -> None:
        self.source, self.spec, self.settings, self.aliases, self.lets = source, spec, settings, aliases, lets
        self.request, self.body, self.checks, self.batch_nodes, self.warnings = request, body, checks, batch_nodes, warnings


def _load_mapping(folder: Path, texts: dict[str, str] | None) -> Mapping:
    problems: list[Problem] = []
    files = MappingTexts(folder, texts)
    dest_source = _read(files, DESTINATION_FILE, 0, problems)
    if dest_source is None:
        raise MappingError(problems)
    shared = _destination(dest_source, problems)
    spec, settings_schema = shared.spec, shared.spec["settings"]
    limits = {limit: _limit(dest_source, settings_schema, spec["batch"][limit], ("batch", limit), problems)
              for limit in BATCH_LIMITS} if "batch" in spec else {}
    max_body = (_limit(dest_source, settings_schema, spec["max_body_bytes"], ("max_body_bytes",), problems)
                if "max_body_bytes" in spec else (None, None))
    delivery = delivery_rules(dest_source, spec.get("delivery"), problems)
    rules = _event_files(shared, files, problems)
    if problems:
        raise MappingError(problems)
    generated = Generated()
    other_rules = rules.pop(None, None)
    return Mapping(
        name=spec["name"], folder=folder, settings_schema=settings_schema,
        settings_validator=LazyValidator(settings_schema, fast_test(settings_schema), no_retrieval=True),
        secrets=tuple(spec.get("secrets", ())), settings_errors=dict(spec.get("settings_errors", {})),
        plans={event_type: _generate(event_type, *parts, generated) for event_type, parts in rules.items()
               if event_type is not None},
        max_body_bytes=max_body[0], max_body_setting=max_body[1], batching=_batching(shared, limits),
        delivery=delivery, texts=dict(files.read),
        rules={event_type: parts for event_type, parts in rules.items() if event_type is not None},
        warnings=tuple(shared.warnings),
        other=_generate(None, *other_rules, generated) if other_rules else None, other_rules=other_rules,
        other_error=spec.get("other_events", {}).get("error"), type_first=spec.get("settings_checked") == "after_event_type",
    )


def _destination(source: Source, problems: list[Problem]) -> _Shared:
    """Compile what destination.yaml shares with every event file."""
    spec = source.data
    settings_schema = spec["settings"]
    _check_settings_schema(source, settings_schema, problems)
    properties = settings_schema.get("properties", {})
    settings: dict[str, Any] = dict(properties) if isinstance(properties, dict) else {}  # name -> its schema
    for index, name in enumerate(spec.get("secrets", ())):
        if name not in settings:
            problems.append(source.problem(("secrets", index), f"unknown setting {name!r}{did_you_mean(name, settings)}"))
    for name in spec.get("settings_errors", {}):
        if name not in settings:
            problems.append(source.problem(("settings_errors", name), f"unknown setting {name!r}{did_you_mean(name, settings)}"))
    aliases = _aliases(source, spec.get("paths", {}), problems)
    lets: dict[str, Node] = {}
    warnings: list[Problem] = []
    dest = Compiler(source, aliases, settings, lets, problems, tuple(spec["events"]), warnings)
    _compile_lets(dest, spec.get("let", {}), ("let",))
    request = _compile_request(dest, spec["request"], ("request",))
    body = dest.expr(spec["body"], ("body",)) if "body" in spec else None
    if body is not None and "object" not in spec["body"]:
        problems.append(source.problem(("body",), "a shared body must be an object rule (its keys are added to every event's body)"))
    batch_nodes = None
    if "batch" in spec:
        batch = spec["batch"]
        # A condition compiles to a Node that gives a bool: generated like any rule.
        batch_nodes = (dest.expr(batch["endpoint"], ("batch", "endpoint")),
                       dest.condition(batch["when"], ("batch", "when")) if "when" in batch else None,
                       {name: dest.expr(rule, ("batch", "headers", name)) for name, rule in batch.get("headers", {}).items()})
    checks = _compile_checks(dest, spec.get("validate", ()))
    return _Shared(source, spec, settings, aliases, lets, request, body, checks, batch_nodes, warnings)


def _event_files(shared: _Shared, files: MappingTexts, problems: list[Problem]) -> dict[str | None, Rules]:
    """Each event type's compiled rules (None: other_events' file), each file compiled once."""
    spec = shared.spec
    rules: dict[str | None, Rules] = {}
    other_file = spec.get("other_events", {}).get("file")
    compiled: dict[str, tuple[Source, Compiler, dict[str, Any], Node | None, list[_CheckSpec], FanOut | None] | None] = {}
    for event_type, file_name in [*spec["events"].items(), *([(None, other_file)] if other_file else [])]:
        if file_name not in compiled:
            compiled[file_name] = None  # a file several event types share is reported once
            if not files.exists(file_name):  # the mistake is the line that names it
                where = ("events", event_type) if event_type is not None else ("other_events", "file")
                problems.append(shared.source.problem(where, _no_such_file(file_name, files.names())))
                continue
            source = _read(files, file_name, 1, problems)
            if source is not None:
                # The types a file's rules run for; any, for other_events' file
                routed = None if file_name == other_file else tuple(name for name, file in spec["events"].items()
                                                                     if file == file_name)
                compiled[file_name] = _event_file(shared, source, routed, problems)
        done = compiled[file_name]
        if done is None:
            continue
        source, compiler, request, body, checks, fan_out = done
        merged = {**shared.request, **{k: v for k, v in request.items() if k in ("method", "endpoint")}}
        for part in ("headers", "params"):
            merged[part] = {**shared.request.get(part, {}), **request.get(part, {})}
        for part in ("method", "endpoint"):
            if part not in merged:
                problems.append(source.problem(("request",), f"no request {part} for event type {event_type or 'other'!r} "
                                                             f"(declare it here or in {DESTINATION_FILE})"))
        rules[event_type] = (file_name, compiler.lets, merged, body, checks, fan_out)
    return rules


def _event_file(shared: _Shared, source: Source, routed: tuple[str, ...] | None, problems: list[Problem]
                ) -> tuple[Source, Compiler, dict[str, Any], Node | None, list[_CheckSpec], FanOut | None]:
    """Compile one event file, with the lets and body destination.yaml shares."""
    compiler = Compiler(source, shared.aliases, shared.settings, dict(shared.lets), problems, routed, shared.warnings)
    fan_out = _compile_fan_out(compiler, source.data)
    for name in source.data.get("let", {}):
        if name in shared.lets:
            problems.append(source.problem(("let", name), f"let {name!r} is already declared in {DESTINATION_FILE}"))
    _compile_lets(compiler, source.data.get("let", {}), ("let",))
    request = _compile_request(compiler, source.data.get("request", {}), ("request",))
    body = compiler.expr(source.data["body"], ("body",)) if "body" in source.data else None
    if shared.body is not None:
        body = shared.body if body is None else merged_object(shared.body, body)
    checks = shared.checks + _compile_checks(compiler, source.data.get("validate", ()))
    return source, compiler, request, body, checks, fan_out


def _batching(shared: _Shared, limits: dict[str, tuple[int, str | None]]) -> Batching | None:
    if shared.batch_nodes is None:
        return None
    endpoint, when, headers = shared.batch_nodes
    batch = shared.spec["batch"]
    plan = Plan(None, shared.lets, Generated())
    return Batching(plan.function(endpoint), plan.function(when) if when is not None else None,
                    batch.get("key"), tuple(batch.get("concat", {}).items()),
                    limits["max_request_bytes"][0], limits["max_events"][0], limits["max_event_bytes"][0],
                    tuple((limit, name) for limit, (_, name) in limits.items() if name is not None),
                    batch.get("array", False), tuple((name, plan.function(node)) for name, node in headers.items()))


def tracing_plans(mapping: Mapping) -> dict[str | None, EventPlan]:
    """Every event type's functions generated again with trace records, for explain (see
    explain.py), other_events' file under None. Built on demand, apart from ``mapping.plans``:
    transform never runs them."""
    generated = Generated()
    rules: dict[str | None, Rules] = dict(mapping.rules.items())
    if mapping.other_rules is not None:
        rules[None] = mapping.other_rules
    return {event_type: _generate(event_type, *parts, generated, tracing=True) for event_type, parts in rules.items()}


def annotated_plan(mapping: Mapping, event_type: str) -> EventPlan:
    """One event type's functions generated again with a comment naming each rule's file:line,
    for reading them (``transformer compile``): the code transform runs, plus comments."""
    return _generate(event_type, *mapping.rules[event_type], Generated(), annotated=True)


def _limit(source: Source, settings_schema: dict[str, Any], spec: Any, path: YamlPath,
           problems: list[Problem]) -> tuple[int, str | None]:
    """A size limit: a number, or ``{setting: name}`` for an integer setting whose default is the
    limit when the caller gives none (so a limit always exists, e.g. for packing without settings)."""
    if isinstance(spec, int):
        return spec, None
    name = spec["setting"]
    prop = settings_schema.get("properties", {}).get(name)
    if not isinstance(prop, dict):
        known = settings_schema.get("properties", {})
        problems.append(source.problem((*path, "setting"), f"unknown setting {name!r}{did_you_mean(name, known)}"))
        return 1, None
    default = prop.get("default")
    if prop.get("type") != "integer" or not isinstance(default, int) or not isinstance(prop.get("minimum"), int) \
            or prop["minimum"] < 1 or default < prop["minimum"]:
        problems.append(source.problem((*path, "setting"), f"setting {name!r} must be declared with type integer, a minimum "
                                                           "of at least 1 and a default (the limit when none is given)"))
        return 1, None
    return default, name


def _generate(event_type: str | None, file_name: str, lets: dict[str, Node], request: dict[str, Any],
              body: Node | None, checks: list[_CheckSpec], fan_out: FanOut | None,
              generated: Generated, tracing: bool = False, annotated: bool = False) -> EventPlan:
    """Generate the functions of one event type; its type is a constant inside them."""
    plan = Plan(event_type, lets, generated, tracing, annotated)

    def part(node: Node) -> Part:
        return Part(plan.function(node), node.settings_only)

    method, endpoint = request["method"], request["endpoint"]
    together = fan_out is None and not tracing and not method.settings_only and not endpoint.settings_only
    return EventPlan(file_name, part(method), part(endpoint),
                     {name: part(node) for name, node in request["headers"].items()},
                     {name: part(node) for name, node in request["params"].items()},
                     plan.function(body) if body is not None and not together else None,  # else within request
                     tuple(Check(label, plan.function(when) if when is not None else None, validator,
                                 fast_test(validator.schema), when is None or when.settings_only)
                           for label, when, validator in checks),
                     plan.function(fan_out[0]) if fan_out is not None else None,
                     fan_out[1] if fan_out is not None else "item",
                     plan.function(_request_node(file_name, body, method, endpoint)) if together else None)


CHECKS_VAR = "#checks"  # in a type state's static_vars: the body checks that apply to its settings


def _request_node(file_name: str, body: Node | None, method: Node, endpoint: Node) -> Node:
    """The body, then the body checks that apply, then the method and the endpoint, in the order a
    request is built in, as one rule giving the three: one call per event instead of three, one
    unpacking of their settings-only conditions, and the rest written where the body's locals are."""

    def emit(gen: Gen, target: str) -> None:
        gen.whole_request = True  # a let read by these rules alone may be written here (see Compiler.var_node)
        if body is None:
            gen.line("_body = MISSING")
        else:
            body.emit(gen, "_body")
        with gen.block("if _body is MISSING:"):
            gen.line("_body = {}")
        with gen.block(f"for _check in ctx.static_vars[{CHECKS_VAR!r}]:"):
            gen.line("_check.apply(_body, ctx)")
        # Each checked as it comes: a bad method asks no look-up for the endpoint.
        for name, part in (("method", method), ("endpoint", endpoint)):
            part.emit(gen, f"_{name}")
            with gen.block(f"if _{name}.__class__ is not str:"):
                gen.line(f"_{name} = request_string(_{name}, {file_name!r}, {name!r})")
        gen.line(f"{target} = (_body, _method, _endpoint)")

    return Node(emit, False)


def _compile_checks(compiler: Compiler, specs: list[dict[str, Any]]) -> list[_CheckSpec]:
    """Compile ``validate`` entries: each schema is checked (and its references resolved) now, once."""
    checks: list[_CheckSpec] = []
    for index, spec in enumerate(specs):
        path = ("validate", index)
        broken = False
        for where, message in schema_problems(spec["schema"]):
            compiler.problem((*path, "schema", *where), message)
            broken = True
        when = compiler.condition(spec["when"], (*path, "when")) if "when" in spec else None
        if not broken:
            checks.append((rule_label(compiler.source, path), when, validator_for(spec["schema"])))
    return checks


def _no_such_file(file_name: str, names: list[str]) -> str:
    # Names compare without their suffix: every candidate ends in .yaml, which would make any look close.
    stems = {Path(name).stem: name for name in names if name != DESTINATION_FILE}
    close = closest(Path(file_name).stem, stems)
    hint = f" (did you mean `{stems[close]}`?)" if close else ""
    return f"no file {file_name!r} in the mapping folder{hint}"


def _read(files: MappingTexts, file_name: str, which: int, problems: list[Problem]) -> Source | None:
    """Parse and schema-check one file; None (with problems recorded) when it cannot be used."""
    text = files.text(file_name, problems)
    if text is None:
        return None
    display = str(files.folder / file_name)
    try:
        return _read_checked(text, display, which, problems)
    except RecursionError:
        problems.append(Problem(display, None, "", "nested too deeply to check"))
        return None


def _read_checked(text: str, display: str, which: int, problems: list[Problem]) -> Source | None:
    source, parse_problems = parse_yaml(text, display, LIMITS)
    problems.extend(parse_problems)  # duplicate keys are reported, and the file is checked on
    if source is None:
        return None
    value_problems = _not_json(source, source.data, ())
    if value_problems:
        problems.extend(value_problems)
        return None
    errors = () if _known_valid(source.data, which) else _validators()[which].iter_errors(source.data)
    schema_problems = [problem for error in errors for problem in _schema_problems(source, error)]
    problems.extend(sorted(schema_problems, key=lambda p: (p.line or 0, p.yaml_path)))
    # Rules are compiled only from files whose shape is right; their own checks come after a fix.
    return None if schema_problems or parse_problems else source


def _not_json(source: Source, data: Any, path: YamlPath, seen: set[int] | None = None) -> list[Problem]:
    """Keys that are not strings and values that are not JSON (a date, ``.nan``, ``.inf``,
    ``!!binary``, ``!!set``): whatever a mapping writes or configures must be JSON, so such a value
    is a load error at its line, never a date in a request or a NaN in a retry rule. A node an
    alias repeats is walked once (where its anchor stands)."""
    seen = set() if seen is None else seen
    cls = data.__class__
    if cls is str or cls is int or cls is bool or data is None:
        return []
    if cls is float:
        return [] if math.isfinite(data) else [source.problem(path, f"YAML's .{str(data).lstrip('-')} is not a JSON number: write a finite number")]
    if cls is not dict and cls is not list:
        return [source.problem(path, _not_json_scalar(data))]
    if id(data) in seen:
        return []
    seen.add(id(data))
    found: list[Problem] = []
    if cls is dict:
        for key, value in data.items():
            if not isinstance(key, str):
                found.append(source.problem(path, f"key {key!r} must be a string (quote it: YAML reads yes/no/on/off and numbers as other types)"))
            else:
                found.extend(_not_json(source, value, path + (key,), seen))
    else:
        for index, item in enumerate(data):
            found.extend(_not_json(source, item, path + (index,), seen))
    return found


def _not_json_scalar(value: Any) -> str:
    """What YAML made of a scalar that is not JSON, in YAML's words, and what to write instead."""
    if isinstance(value, datetime.date):  # datetime too: YAML reads an unquoted date or timestamp
        return f"YAML reads {value.isoformat()!r} as a date, not a JSON value: quote it to write a string"
    kind = {bytes: "!!binary", set: "!!set", tuple: "!!pairs or !!omap"}.get(value.__class__, value.__class__.__name__)
    return f"a YAML {kind} value is not a JSON value: write a string, a list or an object"


def _check_settings_schema(source: Source, schema: Any, problems: list[Problem]) -> None:
    """A settings schema must be valid, with patterns RE2 runs (checked first: jsonschema's check
    compiles them with ``re``) and references that resolve inside it. A schema of the keywords
    _schema.known_valid_schema checks exactly, with no reference, needs no jsonschema."""
    patterns = [source.problem(("settings", *where), f"not a valid JSON Schema: {message}") for where, message in schema_pattern_problems(schema)]
    if patterns:
        problems.extend(patterns)
        return
    if known_valid_schema(schema) and not has_references(schema):
        return
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        problems.append(source.problem(("settings", *exc.path), f"not a valid JSON Schema: {exc.message}"))
    else:
        _check_refs(source, schema, problems)


def _check_refs(source: Source, schema: Any, problems: list[Problem]) -> None:
    """Resolve each $ref of a settings schema now, so none fails at event time: it must point
    inside the schema (``#/$defs/NAME``); the engine does no I/O, so a remote one is refused."""
    import referencing.exceptions
    import referencing.jsonschema

    resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
    resolver = no_retrieval().with_resource("", resource).resolver("")
    stack: list[tuple[Any, YamlPath]] = [(schema, ("settings",))]
    while stack:
        node, path = stack.pop()
        if isinstance(node, list):
            stack.extend((item, path + (index,)) for index, item in enumerate(node))
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                if not value.startswith("#"):
                    problems.append(source.problem(path + (key,), f"{key} {value!r} is outside the settings schema: the engine "
                                                                  "fetches nothing, so refer to #/$defs/NAME within it"))
                    continue
                try:
                    resolver.lookup(value)
                except referencing.exceptions.Unresolvable:
                    problems.append(source.problem(path + (key,), f"{key} {value!r} points to nothing in the settings schema"))
            else:
                stack.append((value, path + (key,)))


def _schema_problems(source: Source, error: jsonschema.ValidationError) -> list[Problem]:
    alternatives = error.validator_value if error.validator == "oneOf" else None
    if isinstance(alternatives, list) and all(set(one) == {"required"} for one in alternatives):
        # Exactly one of some keys: say so, not "valid under each of" a dump of the schema.
        keys = ", ".join(key for one in alternatives for key in one["required"])
        return [source.problem(tuple(error.absolute_path), f"give exactly one of: {keys}")]
    if error.context:  # anyOf: report the alternative that got furthest into the value, and
        # of those one that took the value for its kind (not merely "wrong type" or "not one of")
        error = max(error.context, key=lambda e: (len(e.absolute_path), e.validator not in ("enum", "type")))
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # One problem per unknown key, at the key's own line, with the nearest known key.
        known = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
        return [source.problem(path + (key,), f"unknown key {key!r}{did_you_mean(key, known) or _one_of(known)}")
                for key in error.instance if key not in known]
    message = error.message
    if len(message) > 300:
        message = message[:297] + "..."
    if error.validator == "enum" and isinstance(error.instance, str) and isinstance(error.validator_value, list):
        message += did_you_mean(error.instance, [str(choice) for choice in error.validator_value])
    return [source.problem(path, message)]


def _one_of(known: list[str]) -> str:
    return f" (expected one of: {', '.join(known)})" if known else " (no keys are allowed here)"


def _aliases(source: Source, spec: dict[str, Any], problems: list[Problem]) -> dict[str, tuple[str, ...]]:
    """Expand ``paths`` aliases (which may name earlier-resolved aliases); cycles are problems."""
    resolved: dict[str, tuple[str, ...]] = {}

    def expand(name: str, trail: tuple[str, ...]) -> tuple[str, ...]:
        if name in resolved:
            return resolved[name]
        if name in trail:
            problems.append(source.problem(("paths", name), f"path alias cycle: {' -> '.join((*trail, name))}"))
            return ()
        value = spec[name]
        out: list[str] = []
        for index, item in enumerate([value] if isinstance(value, str) else value):
            if item.startswith("$"):
                if item[1:] not in spec:
                    problems.append(source.problem(("paths", name, index), f"unknown path alias {item}"))
                    continue
                out.extend(expand(item[1:], (*trail, name)))
            else:
                out.append(item)
        resolved[name] = tuple(out)
        return resolved[name]

    for alias in spec:
        expand(alias, ())
    return resolved


def _compile_fan_out(compiler: Compiler, spec: dict[str, Any]) -> FanOut | None:
    """An event file's ``for_each``: compiled before the file's lets (it sees destination.yaml's),
    its element bound like a let, so the file's lets and rules read it as ``{var: NAME}``."""
    if "for_each" not in spec:
        return None
    items = compiler.expr(spec["for_each"], ("for_each",))
    name = spec.get("as", "item")
    if compiler.has_var(name):
        compiler.problem(("as",) if "as" in spec else ("for_each",),
                         f"{name!r} is already a variable here (a let of {DESTINATION_FILE} or event_type): choose another name")
    elif name in spec.get("let", {}):
        compiler.problem(("let", name), f"let {name!r} is the for_each element's name (as): choose another name")
    compiler.lets[name] = Node(lambda gen, target: gen.line(f"{target} = ctx.vars.get({name!r}, MISSING)"), False, (name,))
    return items, name


def _compile_lets(compiler: Compiler, specs: dict[str, Any], path: YamlPath) -> None:
    for name, spec in specs.items():
        if name == EVENT_TYPE_VAR:
            compiler.problem(path + (name,), f"{EVENT_TYPE_VAR} is bound by the engine to the event's type; choose another name")
            continue
        # Compiled before it is added: a let sees only earlier lets, so it cannot refer to itself.
        compiler.let(name, spec, path + (name,))


def _compile_request(compiler: Compiler, spec: dict[str, Any], path: YamlPath) -> dict[str, Any]:
    request: dict[str, Any] = {}
    if "method" in spec:
        method = spec["method"]
        request["method"] = (compiler.expr({"const": method}, path + ("method",)) if isinstance(method, str)
                             else compiler.expr(method, path + ("method",)))
    if "endpoint" in spec:
        request["endpoint"] = compiler.expr(spec["endpoint"], path + ("endpoint",))
    for part in ("headers", "params"):
        if part in spec:
            request[part] = {key: compiler.expr(sub, path + (part, key)) for key, sub in spec[part].items()}
    return request
