"""The Python the engine generated for an event type, for reading (``transformer compile``): each
rule root (method, endpoint, each header and parameter, body, each validate condition) and each
let it calls, with a comment giving the file:line and YAML path each part came from."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .codegen import Fn
from .loader import EventPlan, Mapping, annotated_plan

_SHOWN_CONSTANT = 80  # a constant longer than this shows abbreviated in the listing


@dataclass(frozen=True)
class GeneratedRule:
    """One generated function: which root (``body``, ``headers.Authorization``, ``let user``) and its source."""

    root: str
    source: str


def generated_rules(mapping: Mapping, event_type: str) -> list[GeneratedRule]:
    """The functions of ``event_type``'s rules, roots first in request order, then the lets they call."""
    plan = annotated_plan(mapping, event_type)
    roots = _roots(plan)
    listed: list[GeneratedRule] = []
    seen: set[int] = set()
    pending = list(roots.items())
    while pending:
        root, function = pending.pop(0)
        if id(function) in seen:
            continue
        seen.add(id(function))
        listed.append(GeneratedRule(root, _with_constants(function)))
        pending += [(f"let {name[4:]}", value) for name, value in _globals_read(function).items()
                    if name.startswith("let_") and callable(value)]
    return listed


def _roots(plan: EventPlan) -> dict[str, Fn]:
    roots: dict[str, Fn]
    if plan.request is not None:  # what runs: the body, its checks, the method and the endpoint in one function
        roots = {"body, method and endpoint": plan.request}
    else:
        roots = {"method": plan.method.fn, "endpoint": plan.endpoint.fn}
    roots.update({f"headers.{name}": part.fn for name, part in plan.headers.items()})
    roots.update({f"params.{name}": part.fn for name, part in plan.params.items()})
    if plan.body is not None and plan.request is None:
        roots["body"] = plan.body
    roots.update({f"{check.label} when": check.when for check in plan.checks if check.when is not None})
    return roots


def _with_constants(function: Fn) -> str:
    """The function's source, then the constants it reads that are not written in it as
    themselves (``# _k3 = {'type': 'home'}``)."""
    constants = [f"# {name} = {_short(value)}" for name, value in _globals_read(function).items()
                 if name.startswith("_k") and not callable(value)]
    return (function.__doc__ or "") + "".join(line + "\n" for line in constants)


def _globals_read(function: Fn) -> dict[str, Any]:
    """The globals ``function``'s source names (all of a mapping's functions share one namespace)."""
    source = function.__doc__ or ""
    return {name: value for name, value in function.__globals__.items() if re.search(rf"\b{re.escape(name)}\b", source)}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CONSTANT else text[:_SHOWN_CONSTANT - 3] + "..."
