"""The editor schemas in schema/: generated, complete, and what every shipped mapping file names.

An editor (any YAML language server) validates and completes mapping files with them, so these
tests use them the way an editor does: plain `jsonschema`, no help from the library.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from transformer import mapping_schema
from transformer.language.functions import COERCIONS

ROOT = Path(__file__).resolve().parent.parent
MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_schemas", ROOT / "scripts" / "generate_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "schema" / name).read_text(encoding="utf-8"))
    return data


def _mapping_files() -> list[Path]:
    folders = [p.parent for base in ("mappings", "examples") for p in (ROOT / base).rglob("destination.yaml")]
    return sorted(f for folder in folders for f in folder.glob("*.y*ml"))


FILES = _mapping_files()


def _kind(path: Path) -> str:
    return "destination.schema.json" if path.name == "destination.yaml" else "event.schema.json"


def test_committed_schemas_are_what_the_generator_writes() -> None:
    """Fails when mapping.schema.json or the coercions changed and schema/ was not regenerated:
    run `python scripts/generate_schemas.py`."""
    for file_name, text in _generator().schemas().items():
        assert (ROOT / "schema" / file_name).read_text(encoding="utf-8") == text, f"schema/{file_name} is stale"


def test_schemas_are_standalone_and_complete() -> None:
    for name in ("destination.schema.json", "event.schema.json"):
        schema = _schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].startswith("urn:event-transformer:schema:")
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        text = json.dumps(schema)
        assert "example.invalid" not in text and "filled in" not in text
        defs = {key.split(":")[0]: node for key, node in schema["$defs"].items()}  # by the word before the keys
        assert defs["coercion"]["enum"] == sorted(COERCIONS)
        assert all(defs["coercion"]["enumDescriptions"]), "every coercion has a docstring"
        # Every directive, modifier, condition and step says what it does and shows how.
        for kind in ("rule", "condition", "step"):
            for key, node in defs[kind]["properties"].items():
                assert node.get("description"), f"{kind}.{key} has no description"
                assert node.get("examples"), f"{kind}.{key} has no examples"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_mapping_file_names_its_schema_and_is_valid(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = MODELINE.match(text)
    assert found, f"{path.name}: the first line must be '# yaml-language-server: $schema=...'"
    target = (path.parent / found.group(1)).resolve()
    assert target == (ROOT / "schema" / _kind(path)).resolve()
    validator = jsonschema.Draft202012Validator(json.loads(target.read_text(encoding="utf-8")))
    assert [e.message for e in validator.iter_errors(yaml.safe_load(text))] == []


def test_a_typo_is_rejected() -> None:
    event = jsonschema.Draft202012Validator(_schema("event.schema.json"))
    destination = jsonschema.Draft202012Validator(_schema("destination.schema.json"))
    typo_rule = {"body": {"object": {"email": {"pth": "traits.email"}}}}
    assert any("'pth' was unexpected" in e.message for e in event.iter_errors(typo_rule))
    typo_coercion = {"body": {"path": "name", "then": [{"coerce": "lowr"}]}}
    assert any("'lowr' is not one of" in e.message for e in event.iter_errors(typo_coercion))
    typo_condition = {"body": {"path": "name", "when": {"settting": "x"}}}
    assert not event.is_valid(typo_condition)
    spec = {"nme": "demo", "settings": {}, "request": {}, "events": {"track": "track.yaml"}}
    assert {e.message for e in destination.iter_errors(spec)} >= {"'name' is a required property"}
    assert event.is_valid({"body": {"object": {"email": {"path": "traits.email", "then": [{"coerce": "lower"}]}}}})


def test_editor_messages_name_directives_never_internal_definitions() -> None:
    """An editor says 'Incorrect type. Expected "<last part of the $ref>"': that part is the words a
    user writes (rule:path,const,...), never the engine's internal name (expr)."""
    internal = set(mapping_schema()["$defs"]) - set(_generator().WORDS.values())
    for name in ("destination.schema.json", "event.schema.json"):
        text = (ROOT / "schema" / name).read_text(encoding="utf-8")
        shown = {ref.rsplit("/", 1)[1] for ref in re.findall(r'"\$ref": "([^"]+)"', text)}
        assert shown and not shown & internal, shown & internal
        rule = next(word for word in shown if word.startswith("rule:"))
        assert {"path", "const", "template", "first", "lookup"} <= set(rule.removeprefix("rule:").split(","))
        assert all(re.fullmatch(r"[\w:,.-]+", word) for word in shown)  # what a URI fragment holds as it is
