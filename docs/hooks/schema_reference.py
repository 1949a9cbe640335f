"""MkDocs hook: the mapping language's reference tables, generated from the schema at build time.

docs/language/reference.md holds a marker; this hook replaces it with a table per family of the
language (directives, their options, modifiers, conditions, steps, coercions) and per kind of
file, each row a key and its description as the schema states it. The schema is read from
schema/*.json, which scripts/generate_schemas.py writes from
transformer/language/mapping.schema.json and the coercions of transformer/language/functions.py
(tests/test_schema.py fails while they are stale). Editors show these same descriptions, so the
site, the editor and the engine cannot disagree; tests/test_docs_reference.py checks that every
name in the schema is in the generated text.

Plain JSON and PyYAML only: the build needs no network and does not import the engine.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

MARKER = "<!-- generated from the schema: the mapping language reference -->"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"
# The keys any rule may carry beside its one directive, in the order the compiler applies them.
MODIFIERS = ("when", "then", "default", "required")
Schema = dict[str, Any]


def load(folder: Path = SCHEMA_DIR) -> tuple[Schema, Schema]:
    """The editor schemas: destination.yaml's and an event file's."""
    read = lambda name: json.loads((folder / name).read_text(encoding="utf-8"))  # noqa: E731
    return read("destination.schema.json"), read("event.schema.json")


def _cell(text: str) -> str:
    """Schema text as one table cell: reStructuredText's ``code`` as Markdown's and, outside code,
    pipes escaped and ``<`` and ``>`` as entities (``{var: <as>}`` is no HTML tag). A pipe inside
    code needs no escape: Python-Markdown's tables leave code spans whole."""
    parts = re.sub(r"``([^`]+)``", r"`\1`", " ".join(text.split())).split("`")
    parts[::2] = [part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
                  for part in parts[::2]]
    return "`".join(parts)


def _shape(node: Schema) -> str:
    """What a key without a description holds, from its type and bounds (``integer, at least 1``)."""
    bounds = {"minimum": "at least", "exclusiveMinimum": "over", "maximum": "at most"}
    kind = node.get("type", "")
    words = [", ".join(kind) if isinstance(kind, list) else kind]
    words += [f"{word} {node[key]}" for key, word in bounds.items() if key in node]
    return ", ".join(word for word in words if word)


def _description(node: Schema, defs: Schema) -> str:
    if "description" not in node and "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    return _cell(node.get("description") or _shape(node))


def _example(name: str, node: Schema) -> str:
    """The schema's first example for ``name``, as the YAML a mapping file holds (``{path: x}``)."""
    if not node.get("examples"):
        return ""
    example = node["examples"][0]
    whole = isinstance(example, dict) and name in example  # some examples are a whole rule already
    flow = yaml.safe_dump(example if whole else {name: example}, default_flow_style=True, allow_unicode=True,
                          width=10_000)
    return f"`{flow.strip().removesuffix('...').strip()}`"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _keys(properties: Schema, defs: Schema, prefix: str = "") -> list[tuple[str, ...]]:
    """One row per key, and per key of an object value declared in place (``delivery.retry.tries``)."""
    rows: list[tuple[str, ...]] = []
    for name, node in properties.items():
        rows.append((f"`{prefix}{name}`", _description(node, defs)))
        if isinstance(node.get("properties"), dict):
            rows += _keys(node["properties"], defs, f"{prefix}{name}.")
    return rows


def options(expr: Schema) -> dict[str, list[str]]:
    """The keys of a rule that only go with a directive (``vars`` with ``template``), each with the
    directives it goes with: what ``dependentRequired`` ties one way only, or a description that
    starts "With X or Y:" (``from``)."""
    tied = expr.get("dependentRequired", {})
    found: dict[str, list[str]] = {}
    for name, node in expr["properties"].items():
        stated = re.match(r"With ([a-z_]+(?: or [a-z_]+)*):", node.get("description", ""))
        if stated:
            found[name] = stated.group(1).split(" or ")
        elif name in tied and not any(name in tied.get(other, ()) for other in tied[name]):
            found[name] = list(tied[name])
    return found


def render(folder: Path = SCHEMA_DIR) -> str:
    """The reference, as Markdown: one section per family and per kind of file."""
    destination, event = load(folder)
    # The editor schemas name each definition by its word and keys ("rule:path,const,..."), the
    # name an editor shows: found here by the full name (a $ref) or by the word alone.
    defs = {**event["$defs"], **{name.split(":")[0]: node for name, node in event["$defs"].items()}}
    expr, with_ = defs["rule"]["properties"], options(defs["rule"])
    directives = [name for name in expr if name not in with_ and name not in MODIFIERS]
    coercion = defs["coercion"]
    out = ["## Directives", "", "A rule has exactly one of these: where its value comes from.", ""]
    out += _table(("directive", "gives", "example"), [(f"`{n}`", _description(expr[n], defs), _example(n, expr[n]))
                                                       for n in directives])
    out += ["## Options of a directive", ""]
    out += _table(("key", "with", "meaning", "example"),
                  [(f"`{n}`", ", ".join(f"`{d}`" for d in with_[n]), _description(expr[n], defs), _example(n, expr[n]))
                   for n in with_])
    out += ["## Modifiers", "", "Any rule may carry these, applied in this order.", ""]
    out += _table(("modifier", "what it does", "example"), [(f"`{n}`", _description(expr[n], defs), _example(n, expr[n]))
                                                            for n in MODIFIERS if n in expr])
    for title, family, intro in (("Conditions", "condition", "Each is exactly one key; `when` takes one."),
                                 ("Steps", "step", "The items of `then`, applied in order; each may have its own `when`.")):
        props = defs[family]["properties"]
        out += [f"## {title}", "", intro, ""]
        out += _table(("key", "meaning", "example"), [(f"`{n}`", _description(props[n], defs), _example(n, props[n]))
                                                      for n in props])
    out += ["## Coercions", "", f"The names `{{coerce: NAME}}` takes. {_cell(coercion.get('description', ''))}", ""]
    out += _table(("coercion", "what it gives"), [(f"`{name}`", _cell(text)) for name, text
                                                  in zip(coercion["enum"], coercion["enumDescriptions"], strict=True)])
    for title, properties in (("`destination.yaml`", destination["properties"]), ("an event file", event["properties"]),
                              ("`request`", defs["request"]["properties"]), ("`lookup`", defs["lookup"]["properties"]),
                              ("`validate` (each check)", defs["validate"]["items"]["properties"])):
        out += [f"## Keys of {title}", ""] + _table(("key", "meaning"), _keys(properties, defs))
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs' page event: the marker becomes the generated reference."""
    return markdown.replace(MARKER, render()) if MARKER in markdown else markdown
