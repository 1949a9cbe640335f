"""Write the editor schemas, schema/destination.schema.json and schema/event.schema.json.

They are transformer.mapping_schema() (transformer/mapping.schema.json with the coercions of
transformer/functions.py filled in) cut into two standalone files, one per kind of mapping file,
each with its kind at the top level, so a YAML language server or plain `jsonschema` can use them
as they are. Run it after changing either source:

    python scripts/generate_schemas.py           # rewrite the files
    python scripts/generate_schemas.py --check   # exit 1 if they are stale (tests/test_schema.py does this)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's engine, whatever is installed

from transformer import mapping_schema  # noqa: E402

SCHEMA_DIR = ROOT / "schema"
# file name -> (the definition at its top level, title). The $id names the kind of file, never a
# location: it stays the same wherever the file is kept.
FILES = {
    "destination.schema.json": ("destination", "event-transformer destination.yaml"),
    "event.schema.json": ("eventFile", "event-transformer event file"),
}


# An editor names a definition by its $ref's last part ('Incorrect type. Expected "expr"'), so each
# gets a name made of the words a user writes: what it is and its directives or keys. Characters
# stay those a URI fragment allows (no space, no "/"). Modifiers go with a directive, not instead of one.
WORDS = {"name": "name", "pathString": "event-path", "pathList": "event-path-or-list", "expr": "rule",
         "condition": "condition", "step": "step", "digest": "digest", "coercion": "coercion", "entries": "entries",
         "lookup": "lookup", "validate": "validate", "limit": "limit", "lets": "let", "request": "request"}
MODIFIERS = {"from", "vars", "needs", "omit_empty", "values", "else", "map", "as", "when", "then", "default", "required"}


def editor_names(defs: dict[str, Any]) -> dict[str, str]:
    """Each definition's name for editors: ``rule:path,const,...``, ``condition:setting,present,...``."""
    names: dict[str, str] = {}
    for name, node in defs.items():
        keys = [key for key in node.get("properties", {}) if key not in MODIFIERS]
        names[name] = WORDS[name] + (":" + ",".join(keys) if keys else "")
    return names


def _renamed(top: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``top`` with its definitions, and every $ref to them, under their editor names."""
    text = json.dumps(top, ensure_ascii=False)
    for name, new in names.items():
        text = text.replace(json.dumps(f"#/$defs/{name}"), json.dumps(f"#/$defs/{new}"))
    renamed: dict[str, Any] = json.loads(text)
    renamed["$defs"] = {names[name]: {"title": names[name], **node} for name, node in renamed["$defs"].items()}
    return renamed


def schemas() -> dict[str, str]:
    """Each editor schema's file name and text."""
    full = mapping_schema()
    out: dict[str, str] = {}
    for file_name, (kind, title) in FILES.items():
        defs = {name: node for name, node in full["$defs"].items() if name not in ("destination", "eventFile")}
        top: dict[str, Any] = {
            "$schema": full["$schema"],
            "$id": f"urn:event-transformer:schema:{file_name.removesuffix('.schema.json')}",
            "title": title,
            **full["$defs"][kind],
            "$defs": defs,
        }
        out[file_name] = json.dumps(_renamed(top, editor_names(defs)), indent=2, ensure_ascii=False) + "\n"
    return out


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    stale = []
    for file_name, text in schemas().items():
        path = SCHEMA_DIR / file_name
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(file_name)
        if not check:
            SCHEMA_DIR.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for file_name in stale:
        print(f"{'stale' if check else 'wrote'}: schema/{file_name}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
