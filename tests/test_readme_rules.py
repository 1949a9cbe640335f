"""Every YAML example in the mapping-language reference (docs/language/) runs, and gives what it says.

An example is a YAML block with ``rule`` (the rule under test, used as an event's whole body),
``event`` (its ``type`` defaults to ``track``), optional ``settings`` (each key becomes a declared
setting unless ``destination`` declares them), optional ``destination`` (more ``destination.yaml``
keys), optional ``file`` (more event-file keys: ``for_each``, ``as``), and what it ``gives``: the
body, or ``gives: nothing`` for no body, or ``gives_each``: the body of each request
``transform_all`` gives (a fan-out), or an ``error`` message (how the 400's text ends).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import transformer
from tests.docs_pages import blocks, page

# The reference's pages, in reading order (the README's "The mapping language" up to "How to change a field").
REFERENCE_PAGES = ["language/index.md", "language/destination-yaml.md", "language/rules.md", "language/checks.md",
                   "language/where-it-lives.md", "language/hashing-and-messages.md",
                   "language/fan-out-and-shapes.md"]
REFERENCE = "\n".join(page(name) for name in REFERENCE_PAGES)
EXAMPLES = blocks(REFERENCE, "yaml")


def test_the_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 7  # as many as the README had before they moved into docs/language/


def test_the_hashing_page_examples_are_collected() -> None:
    assert len(blocks(page("language/hashing-and-messages.md"), "yaml")) >= 8
    assert set(blocks(page("language/hashing-and-messages.md"), "yaml")) <= set(EXAMPLES)


@pytest.mark.parametrize("text", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example(tmp_path: Path, text: str) -> None:
    example = yaml.safe_load(text)
    assert set(example) <= {"rule", "event", "settings", "destination", "file", "gives", "gives_each", "error"}, text
    assert len({"gives", "gives_each", "error"} & set(example)) == 1, "an example says what it gives, or its error"
    settings = example.get("settings", {})
    destination: dict[str, Any] = {
        "name": "demo",
        "settings": {"type": "object", "properties": {name: {} for name in settings}},
        "request": {"method": "POST", "endpoint": {"const": "https://example.invalid/"}},
        "events": {"track": "event.yaml", "identify": "event.yaml", "page": "event.yaml"},
        **example.get("destination", {}),
    }
    (tmp_path / "destination.yaml").write_text(yaml.safe_dump(destination))
    (tmp_path / "event.yaml").write_text(yaml.safe_dump({"body": example["rule"], **example.get("file", {})}))
    loaded = transformer.load(tmp_path)
    event = {"type": "track", **example.get("event", {})}
    if "error" in example:
        with pytest.raises(transformer.TransformError) as caught:
            loaded.transform(event, settings)
        assert caught.value.message.endswith(example["error"])
        return
    if "gives_each" in example:
        assert [r["body"]["JSON"] for r in loaded.transform_all(event, settings)] == example["gives_each"]
        return
    body = loaded.transform(event, settings)["body"]["JSON"]
    assert body == ({} if example["gives"] == "nothing" else example["gives"])


def test_the_inline_examples_of_the_rule_tables_are_valid_rules() -> None:
    """The one-line examples in the directive and modifier tables (those not elided with ...)."""
    import jsonschema

    schema = transformer.mapping_schema()
    validator = jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/expr"})
    tables = page("language/rules.md").split("Conditions:", 1)[0]
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
    assert checked >= 11  # as many as the README's tables had
