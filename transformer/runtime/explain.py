"""Explain one event: which rule, at which line, gave each field of its request, and what was tried.

``transform`` runs generated functions that record nothing. For ``Destination.explain`` the loader
generates the same rules a second time, only when explain is first called, with trace records:
each rule notes when it starts and the value it gives, each condition its result, each path read
the raw value it found (``traced_rule``, ``traced_condition`` and ``Gen.trace`` add them only to
that variant). This module turns those records into data (``explanation``) and text (``render``).

Secrets are kept out by what a value is, never by searching text: a value that a rule derived
from a setting marked ``secrets`` (the records show every setting a rule read, a let's included)
is shown as ``[redacted]``, and so is a request endpoint, header or parameter that holds a
secret's value. Keys, and the words the engine writes around values, are never touched.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import yaml

from ..language.codegen import Emit, Gen, Node, Put
from ..language.suggest import did_you_mean
from ..language.yamlsource import Source, YamlPath, format_path
from .values import MISSING

_SPEC_CHARS = 100
_VALUE_CHARS = 80
TOO_DEEP = "(nested too deeply to show)"
REDACTED = "[redacted]"
HASHED = "[hashed]"  # what explain shows in place of a value the mapping hashes before sending it


@dataclass(frozen=True)
class Secrets:
    """What an explanation keeps out of sight: the names of the settings marked ``secrets``, and
    their values in the forms a URL may hold them (``settings.secret_forms``)."""

    names: frozenset[str] = frozenset()
    values: tuple[str, ...] = ()

    def held_in(self, value: Any) -> bool:
        """Whether a string in ``value`` (its keys aside) contains a secret's value."""
        if isinstance(value, str):
            return any(secret in value for secret in self.values)
        if isinstance(value, dict):
            return any(self.held_in(item) for item in value.values())
        if isinstance(value, list):
            return any(self.held_in(item) for item in value)
        return False


@dataclass(frozen=True)
class RuleInfo:
    """Where a rule or condition is written, and how it reads there (abbreviated)."""

    file: str
    line: int | None
    yaml_path: YamlPath
    directive: str
    written: dict[str, Any] = field(repr=False, compare=False)  # the rule as the YAML holds it
    arg: str | None  # the argument when it is one name or path: {setting: token} -> token

    @classmethod
    def of(cls, source: Source, path: YamlPath, directive: str, spec: dict[str, Any]) -> RuleInfo:
        argument = spec[directive]
        return cls(os.path.basename(source.file), source.line(path), path, directive, spec,
                   argument if isinstance(argument, str) else None)

    @cached_property
    def spec(self) -> str:
        """The rule in YAML flow style, abbreviated; written out only when an explanation shows it
        (every rule has a RuleInfo, and dumping them all would double the load time)."""
        return _flow(self.written)

    @property
    def rule(self) -> str:
        """The YAML path without the ``object`` wrappers: ``body.identity.email``."""
        return format_path(tuple(p for p in self.yaml_path if p != "object"))

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


def _flow(spec: dict[str, Any]) -> str:
    text = str(yaml.safe_dump(spec, default_flow_style=True, width=1 << 20, sort_keys=False)).strip()
    return text if len(text) <= _SPEC_CHARS else text[:_SPEC_CHARS - 3] + "..."


def traced_rule(node: Node, info: RuleInfo) -> Node:
    """``node``, noting in a tracing plan when it starts and the value it gives."""

    def traced(inner: Emit) -> Emit:
        def emit(gen: Gen, target: str) -> None:
            gen.note(f"{info.where}  {info.rule}: {info.directive}")
            if not gen.tracing:
                inner(gen, target)
                return
            where = gen.const(info)
            gen.trace(repr("enter"), where)
            inner(gen, target)
            gen.trace(repr("exit"), where, target)

        return emit

    peek = None if node.peek is None else traced(node.peek)
    inner, inner_or, inner_emit_or = node.store, node.store_or, node.emit_or

    # The forms below never run in a tracing plan (see stored, and a path's emit_or): they only note
    # the rule in an annotated one, as emit does.
    def store(gen: Gen, put: Put) -> None:
        gen.note(f"{info.where}  {info.rule}: {info.directive}")
        inner(gen, put)  # type: ignore[misc]  # only made when there is one

    def store_or(gen: Gen, put: Put, otherwise: Callable[[], None]) -> None:
        gen.note(f"{info.where}  {info.rule}: {info.directive}")
        inner_or(gen, put, otherwise)  # type: ignore[misc]  # only made when there is one

    def emit_or(gen: Gen, target: str, otherwise: Callable[[], None]) -> bool:
        gen.note(f"{info.where}  {info.rule}: {info.directive}")
        return inner_emit_or(gen, target, otherwise)  # type: ignore[misc]  # only made when there is one

    return replace(node, emit=traced(node.emit), peek=peek, store=store if inner is not None else None,
                   store_or=store_or if inner_or is not None else None,
                   emit_or=emit_or if inner_emit_or is not None else None)


def traced_condition(node: Node, info: RuleInfo) -> Node:
    """A condition that, in a tracing plan, notes its result."""

    def emit(gen: Gen, target: str) -> None:
        gen.note(f"{info.where}  {info.rule}: when {info.directive}")
        node.emit(gen, target)
        if gen.tracing:
            gen.trace(repr("condition"), gen.const(info), target)

    return replace(node, emit=emit)


# -- from records to data ----------------------------------------------------------------------

_OPEN: Any = object()  # a rule that started and never gave a value: the error stopped it


@dataclass
class _Rule:
    info: RuleInfo
    value: Any = _OPEN
    # _Rule, ("condition", info, bool), ("read", path, raw value), ("let", name): a binding was used
    items: list[Any] = field(default_factory=list)
    secret: bool | None = None  # whether the value derives from a secret setting (see _mark_secret)
    hashed: bool = False  # its value is an input of a hash step: never shown (see _hide_hashed)

    @property
    def shown(self) -> Any:
        return REDACTED if self.secret else HASHED if self.hashed else self.value


def _tree(records: list[tuple[Any, ...]]) -> list[Any]:
    roots: list[Any] = []
    stack: list[_Rule] = []
    for record in records:
        here = stack[-1].items if stack else roots
        if record[0] == "enter":
            rule = _Rule(record[1])
            here.append(rule)
            stack.append(rule)
        elif record[0] == "exit":
            stack.pop().value = record[2]
        else:
            here.append(record)
    return roots


# One output field: its entry, the keys where it stands in the request (("headers", "Authorization"),
# ("body", "user", "id")), and whether its value derives from a secret setting.
_Field = tuple[dict[str, Any], tuple[str, ...], bool]
# The request parts that may hold a secret as outside text (a URL, a credential): a value holding
# one is redacted whole, however it got there.
_OUTSIDE_TEXT = ("endpoint", "headers", "params")


def explanation(records: list[tuple[Any, ...]], *, lookups: list[dict[str, Any]], request: dict[str, Any] | None,
                secrets: Secrets) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Each output field (and each that was left out), in the order the rules ran, with the rule
    that decided it, where its value came from, and what was tried on the way; and ``request`` (the
    one these records made) as shown, its secret values redacted as the fields show them."""
    roots = _tree(records)
    _mark_secret(roots, secrets.names)
    _hide_hashed(roots)
    lets: dict[str, list[str]] = {}
    for rule in _rules(roots):
        if rule.info.yaml_path[:1] == ("let",) and len(rule.info.yaml_path) == 2:
            lets[str(rule.info.yaml_path[1])] = _sources(rule, lets, lookups)
    fields: list[_Field] = []
    for root in roots:
        if isinstance(root, _Rule):
            path = root.info.yaml_path
            if path[:1] == ("request",):
                _fields(root, tuple(str(p) for p in path[1:]), fields, lets, lookups)
            elif path[:1] == ("body",):
                _fields(root, ("body",), fields, lets, lookups)
    shown = None if request is None else _shown_request(request, fields, secrets)
    return [entry for entry, _, _ in fields], shown


def _mark_secret(roots: list[Any], names: frozenset[str]) -> None:
    """Mark each rule whose value derives from a secret setting: a ``setting`` rule reading one,
    and a rule that ran a marked rule or used a marked let binding, except through its own
    ``when`` (a condition gives no value) or a look-up's requests (a look-up gives the answer's)."""
    rules = _rules(roots)
    lets = {rule.info.yaml_path[1]: rule for rule in rules
            if rule.info.yaml_path[:1] == ("let",) and len(rule.info.yaml_path) == 2}

    def derived(rule: _Rule) -> bool:
        if rule.secret is None:
            rule.secret = False  # (a binding never uses itself; this only keeps the walk finite)
            own = rule.info.yaml_path
            rule.secret = rule.info.directive == "setting" and rule.info.arg in names or \
                rule.info.directive != "lookup" and any(
                    derived(item) if isinstance(item, _Rule) and item.info.yaml_path[len(own):len(own) + 1] != ("when",)
                    else isinstance(item, tuple) and item[0] == "let" and item[1] in lets and derived(lets[item[1]])
                    for item in rule.items)
        return rule.secret

    for rule in rules:
        derived(rule)


def _hashes(rule: _Rule) -> bool:
    """Whether the rule's own ``then`` has a ``hash`` step."""
    steps = rule.info.written.get("then")
    return isinstance(steps, list) and any(isinstance(step, dict) and "hash" in step for step in steps)


def _hide_hashed(roots: list[Any]) -> None:
    """Hide what a hash step hashes, as a secret is hidden: the values of the rules and let
    bindings under a hashing rule, and every read of a path they read, wherever it stands. The
    hashing rule's own value is shown only when it has a digest's form (its hash may have a
    false ``when``); its sources still name the paths."""
    rules = _rules(roots)
    lets = {rule.info.yaml_path[1]: rule for rule in rules
            if rule.info.yaml_path[:1] == ("let",) and len(rule.info.yaml_path) == 2}
    paths: set[str] = set()

    def hide(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, _Rule) and not item.hashed:
                item.hashed = True
                hide(item.items)
            elif isinstance(item, tuple) and item[0] == "read":
                paths.add(item[1])
            elif isinstance(item, tuple) and item[0] == "let" and item[1] in lets:
                hide([lets[item[1]]])

    for rule in rules:
        if _hashes(rule):
            hide(rule.items)
            rule.hashed = not _digest_form(rule.value)
    for rule in _rules(roots):
        rule.items = [("read", item[1], HASHED if _present(item[2]) else item[2])
                      if isinstance(item, tuple) and item[0] == "read" and item[1] in paths else item for item in rule.items]


def _digest_form(value: Any) -> bool:
    if isinstance(value, list):
        return all(_digest_form(item) for item in value)
    return value is MISSING or isinstance(value, str) and len(value) in (32, 40, 64) and \
        all(char in "0123456789abcdef" for char in value)


def _shown_request(request: dict[str, Any], fields: list[_Field], secrets: Secrets) -> dict[str, Any]:
    """A copy of ``request`` with each field's value that derives from a secret redacted, and each
    endpoint, header or parameter holding a secret's value redacted whole (in its field too)."""
    shown = {**request, "headers": dict(request["headers"]), "params": dict(request["params"]),
             "body": {**request["body"], "JSON": _copy(request["body"]["JSON"])}}
    for entry, keys, secret in fields:
        if entry["result"] != "sent":
            continue
        if keys[0] in _OUTSIDE_TEXT and secrets.held_in(entry["value"]):
            entry["value"] = REDACTED
            secret = True
        if secret:
            _put(shown, ("body", "JSON", *keys[1:]) if keys[0] == "body" else keys, REDACTED)
    if secrets.held_in(shown["endpoint"]):
        shown["endpoint"] = REDACTED
    for part in _OUTSIDE_TEXT[1:]:
        for name, value in shown[part].items():
            if secrets.held_in(value):
                shown[part][name] = REDACTED
    return shown


def _copy(value: Any) -> Any:
    """The containers of a request body copied (as far as a request nests), to redact in place."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _put(request: dict[str, Any], place: tuple[str, ...], value: Any) -> None:
    """Set the value at ``place`` (keys of objects), when it is still there (a check may have
    taken it out)."""
    parent: Any = request
    for key in place[:-1]:
        parent = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(parent, dict) and place[-1] in parent:
        parent[place[-1]] = value


def _rules(items: list[Any]) -> list[_Rule]:
    found: list[_Rule] = []
    for item in items:
        if isinstance(item, _Rule):
            found.append(item)
            found.extend(_rules(item.items))
    return found


def _fields(rule: _Rule, keys: tuple[str, ...], out: list[_Field], lets: dict[str, list[str]],
            lookups: list[dict[str, Any]]) -> None:
    """An object rule that gave an object (or was stopped by an error) stands for its keys;
    anything else is one field, noted with the keys where it stands in the request."""
    if rule.info.directive == "object" and (isinstance(rule.value, dict) or rule.value is _OPEN):
        own = rule.info.yaml_path + ("object",)
        for item in rule.items:
            if isinstance(item, _Rule) and item.info.yaml_path[:-1] == own:
                _fields(item, (*keys, str(item.info.yaml_path[-1])), out, lets, lookups)
        return
    entry: dict[str, Any] = {"field": ".".join(keys), "file": rule.info.file, "line": rule.info.line,
                             "rule": rule.info.rule, "spec": rule.info.spec}
    if rule.value is _OPEN:
        entry["result"] = "error"
    elif rule.value is MISSING:
        entry["result"] = "left out"
        entry["why"] = _rule_result(rule)
    else:
        entry["result"] = "sent"
        entry["value"] = rule.shown
        entry["source"] = _sources(rule, lets, lookups)
        if _hashes(rule):
            entry["hashed_from"] = entry["source"]
    entry["tried"] = _tried(rule, 0)
    out.append((entry, keys, bool(rule.secret or rule.hashed)))


def _sources(rule: _Rule, lets: dict[str, list[str]], lookups: list[dict[str, Any]]) -> list[str]:
    """Where a rule's value came from: event paths, settings, let bindings, look-ups, constants."""
    if rule.value is MISSING or rule.value is _OPEN:
        return []
    info = rule.info
    if info.directive == "setting":
        return [f"setting {info.arg}"]
    if info.directive == "const":
        return ["const"]
    if info.directive == "lookup":
        return [f"look-up {asked['kind']} ({asked['request']}: {asked['status']})" for asked in lookups
                if asked["status"] == 200] or ["look-up"]
    if info.directive == "var" and info.arg == "event_type":
        return ["event type"]
    found: list[str] = []
    for item in rule.items:
        if isinstance(item, tuple) and item[0] == "read" and _present(item[2]):
            found.append(item[1])
        elif isinstance(item, tuple) and item[0] == "let":
            found.extend([f"let {item[1]}", *lets.get(item[1], [])])
        elif isinstance(item, _Rule) and item.info.yaml_path[:1] != ("let",) and \
                "when" not in item.info.yaml_path[len(info.yaml_path):]:
            found.extend(_sources(item, lets, lookups))  # (a binding's own rule is told by its "let" record)
    return found


def _present(value: Any) -> bool:
    return value is not MISSING and value is not None and value != ""


def _tried(rule: _Rule, depth: int) -> list[dict[str, Any]]:
    """What ran inside ``rule``, in order: rules with their result, conditions, candidate paths."""
    out: list[dict[str, Any]] = []
    for item in rule.items:
        if isinstance(item, _Rule):
            out.append({"depth": depth, "rule": item.info.rule, "file": item.info.file, "line": item.info.line,
                        "spec": item.info.spec, "result": _rule_result(item)})
            out.extend(_tried(item, depth + 1))
        elif item[0] == "condition":
            out.append({"depth": depth, "condition": item[1].spec, "file": item[1].file, "line": item[1].line,
                        "result": bool(item[2])})
        elif item[0] == "read":
            out.append({"depth": depth, "path": item[1], "result": _read_result(item[2])})
    return out


def _rule_result(rule: _Rule) -> str:
    if rule.value is _OPEN:
        return "error"
    if rule.value is not MISSING:
        return "gave " + _short(rule.shown)
    own_when = rule.info.yaml_path + ("when",)
    if any(isinstance(i, tuple) and i[0] == "condition" and i[1].yaml_path == own_when and not i[2] for i in rule.items):
        return "skipped: condition false"
    if rule.info.directive == "case":
        subject = rule.info.yaml_path + ("case",)
        branches = rule.info.yaml_path + ("values",)
        picked = [i for i in rule.items if isinstance(i, _Rule) and i.info.yaml_path[:len(branches)] == branches]
        given = [i for i in rule.items if isinstance(i, _Rule) and i.info.yaml_path == subject]
        if not picked and given and given[0].value is not MISSING:
            return f"gave nothing: no branch under values for {_short(given[0].shown)}"
    return "gave nothing"


def _read_result(raw: Any) -> str:
    if raw is MISSING:
        return "missing"
    if raw is None:
        return "null"
    if raw == "":
        return "empty"
    if raw is HASHED:
        return f"found {HASHED}"
    return "found " + _short(raw)


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return TOO_DEEP
    return text if len(text) <= _VALUE_CHARS else text[:_VALUE_CHARS - 3] + "..."


# -- text ----------------------------------------------------------------------------------------

def select_field(data: dict[str, Any], wanted: str) -> dict[str, Any]:
    """``data`` with only the trace of the field ``wanted`` (``body.email``): the rules that give
    it, the fields below it (``body``) or the field that holds it (``body.emails.0.email``). A
    field no rule of this event type gives is a ValueError naming the closest one."""
    def holds(name: str) -> bool:
        return name == wanted or name.startswith(wanted + ".") or wanted.startswith(name + ".")

    chosen = [entry for entry in data["fields"] if holds(entry["field"])]
    if not chosen:
        names = [entry["field"] for entry in data["fields"]]
        raise ValueError(f"no rule of {data['destination']} {data['event_type'] or '?'} gives the field {wanted!r}"
                         f"{did_you_mean(wanted, names)}")
    return {**data, "fields": chosen, "selected": wanted}


def _summary(data: dict[str, Any]) -> list[str]:
    """The first lines: what came out, how many fields were sent or left out, the look-ups' answers."""
    counts: dict[str, int] = {}
    for entry in data["fields"]:
        counts[entry["result"]] = counts.get(entry["result"], 0) + 1
    head = (f"{data['request']['method']} {data['request']['endpoint']}" if "request" in data
            else f"error {data['error']['status_code']}: {data['error']['message']}")
    answers = ", ".join(str(asked["status"]) for asked in data["lookups"])
    lines = [f"summary: {head}; " + ", ".join(f"{n} {result}" for result, n in counts.items())
             + (f"; look-ups answered {answers}" if answers else "")]
    if "selected" not in data:
        sent = [entry["field"] for entry in data["fields"] if entry["result"] == "sent"]
        lines.append(f"sent: {', '.join(sent) or 'nothing'} (one field's trace: --field NAME)")
    return lines


def render(data: dict[str, Any]) -> str:
    """``Destination.explain``'s data as text for a person: a summary first, then the request and
    each field's trace (only the selected field's, and no whole request, after ``select_field``)."""
    lines = [f"{data['destination']} {data['event_type'] or '?'} event"
             + (f", rules in {data['file']}" if data.get("file") else ""), *_summary(data)]
    if "request" in data and "selected" not in data:  # one field's value is in its own trace below
        lines.append(json.dumps(data["request"], indent=2, ensure_ascii=False))
    for asked in data["lookups"]:
        lines.append(f"look-up {asked['kind']}: {asked['request']} -> {asked['status']}")
    for entry in data["fields"]:
        lines.append("")
        head = f"{entry['field']} = {_short(entry['value'])}" if entry["result"] == "sent" else \
            f"{entry['field']}: {entry['result']}" + (f" ({entry['why']})" if entry.get("why", "gave nothing") != "gave nothing" else "")
        lines.append(head)
        lines.append(f"  {entry['file']}:{entry['line']}  {entry['rule']}  {entry['spec']}")
        if entry.get("hashed_from"):
            lines.append(f"  hashed from {', '.join(entry['hashed_from'])} (the plain value is not shown)")
        elif entry.get("source"):
            lines.append(f"  from {', '.join(entry['source'])}")
        for step in entry["tried"]:
            indent = "    " + "  " * step["depth"]
            # file:line every time: a let or a condition may be written in another file (destination.yaml)
            if "rule" in step:
                lines.append(f"{indent}{step['rule']} ({step['file']}:{step['line']}) {step['spec']}: {step['result']}")
            elif "condition" in step:
                lines.append(f"{indent}when {step['condition']} ({step['file']}:{step['line']}): {str(step['result']).lower()}")
            else:
                lines.append(f"{indent}{step['path']}: {step['result']}")
    return "\n".join(lines) + "\n"
