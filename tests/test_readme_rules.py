"""Every YAML example in the README's mapping-language reference (and in the language pages of
docs/, such as docs/language/hashing-and-messages.md) runs, and gives what it says.

An example is a YAML block with ``rule`` (the rule under test, used as an event's whole body),
``event`` (its ``type`` defaults to ``track``), optional ``settings`` (each key becomes a declared
setting unless ``destination`` declares them), optional ``destination`` (more ``destination.yaml``
keys), and what it ``gives``: the body, or ``gives: nothing`` for no body, or an ``error``
message (how the 400's text ends).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import transformer

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
REFERENCE = README.split("## The mapping language", 1)[1].split("### How to change a field", 1)[0]
LANGUAGE_PAGES = sorted((ROOT / "docs" / "language").glob("*.md"))
EXAMPLES = [text for page in [REFERENCE, *(p.read_text(encoding="utf-8") for p in LANGUAGE_PAGES)]
            for text in re.findall(r"```yaml\n(.*?)```", page, flags=re.S)]


def test_the_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 6


def test_the_language_pages_are_collected() -> None:
    page = ROOT / "docs" / "language" / "hashing-and-messages.md"
    assert page in LANGUAGE_PAGES
    assert sum(text in page.read_text(encoding="utf-8") for text in EXAMPLES) >= 8


@pytest.mark.parametrize("text", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example(tmp_path: Path, text: str) -> None:
    example = yaml.safe_load(text)
    assert set(example) <= {"rule", "event", "settings", "destination", "gives", "error"}, text
    assert ("gives" in example) != ("error" in example), "an example says what it gives, or its error"
    settings = example.get("settings", {})
    destination: dict[str, Any] = {
        "name": "demo",
        "settings": {"type": "object", "properties": {name: {} for name in settings}},
        "request": {"method": "POST", "endpoint": {"const": "https://example.invalid/"}},
        "events": {"track": "event.yaml", "identify": "event.yaml", "page": "event.yaml"},
        **example.get("destination", {}),
    }
    (tmp_path / "destination.yaml").write_text(yaml.safe_dump(destination))
    (tmp_path / "event.yaml").write_text(yaml.safe_dump({"body": example["rule"]}))
    loaded = transformer.load(tmp_path)
    event = {"type": "track", **example.get("event", {})}
    if "error" in example:
        with pytest.raises(transformer.TransformError) as caught:
            loaded.transform(event, settings)
        assert caught.value.message.endswith(example["error"])
        return
    body = loaded.transform(event, settings)["body"]["JSON"]
    assert body == ({} if example["gives"] == "nothing" else example["gives"])


def test_the_inline_examples_of_the_rule_tables_are_valid_rules() -> None:
    """The one-line examples in the directive and modifier tables (those not elided with ...)."""
    import jsonschema

    schema = transformer.mapping_schema()
    validator = jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/expr"})
    tables = REFERENCE.split("### Rules", 1)[1].split("Conditions:", 1)[0]
    checked = 0
    for row in re.findall(r"^\|.*\| `([^`]*(?:\\\|[^`]*)*)` \|$", tables, flags=re.M):
        code = row.replace("\\|", "|")
        if "..." in code:
            continue
        rule = yaml.safe_load(code)
        if not any(key in rule for key in schema["$defs"]["expr"]["properties"] if key not in ("when", "then", "default", "required")):
            rule = {"const": 1, **rule}  # a modifier's example
        assert not list(validator.iter_errors(rule)), code
        checked += 1
    assert checked >= 10
