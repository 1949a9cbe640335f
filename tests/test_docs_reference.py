"""The mapping language reference on the site is generated from the schema (docs/hooks/), and
names every directive, option, modifier, condition, step and coercion the engine knows; and the
site's other hook."""
from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import yaml

import transformer
from tests.docs_pages import ROOT, page
from transformer.language.conditions import CONDITIONS
from transformer.language.directives import COMPANIONS, DIRECTIVES
from transformer.language.functions import COERCIONS
from transformer.language.steps import STEPS


def _hook(name: str = "schema_reference") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _hook()
REFERENCE = HOOK.render()
SECTIONS = {title: re.findall(r"^\| `([^`]+)` \|", text, flags=re.M)
            for title, text in re.findall(r"^## ([^\n]+)\n(.*?)(?=^## |\Z)", REFERENCE, flags=re.S | re.M)}


def test_each_family_lists_exactly_what_the_engine_registers() -> None:
    assert SECTIONS["Directives"] == list(DIRECTIVES)
    assert set(SECTIONS["Options of a directive"]) == {name for names in COMPANIONS.values() for name in names}
    assert SECTIONS["Modifiers"] == ["when", "then", "default", "required"]
    assert SECTIONS["Conditions"] == list(CONDITIONS)
    assert set(SECTIONS["Steps"]) == set(STEPS) | {"when"}
    assert SECTIONS["Coercions"] == sorted(COERCIONS)


def test_every_key_of_the_schema_is_in_the_reference_with_its_description() -> None:
    """From the schema's source (transformer.mapping_schema()), not the editor copies the hook reads."""
    defs = transformer.mapping_schema()["$defs"]
    families = {"Directives": "expr", "Options of a directive": "expr", "Modifiers": "expr", "Conditions": "condition",
                "Steps": "step", "Keys of `destination.yaml`": "destination", "Keys of an event file": "eventFile",
                "Keys of `request`": "request", "Keys of `lookup`": "lookup"}
    for family in set(families.values()):
        listed = {name for title, kind in families.items() if kind == family for name in SECTIONS[title]}
        assert set(defs[family]["properties"]) <= listed, family
        for name, node in defs[family]["properties"].items():
            if "description" in node:  # as the schema words it, on one line
                head = re.split(r"[<>&|]", " ".join(node["description"].split()))[0][:40]
                assert f"| `{name}` | {head}" in REFERENCE or f"| {head}" in REFERENCE, (family, name)
    for name, text in zip(defs["coercion"]["enum"], defs["coercion"]["enumDescriptions"], strict=True):
        head = re.split(r"[<>&|]", text.replace("``", "`"))[0][:30]  # up to what a cell escapes
        assert f"| `{name}` | {head}" in REFERENCE
    for name in defs["destination"]["properties"]["delivery"]["properties"]:
        assert f"delivery.{name}" in SECTIONS["Keys of `destination.yaml`"]


def test_every_example_in_the_reference_is_a_valid_rule() -> None:
    """Each example column holds what a mapping file may hold under that key, in YAML."""
    import jsonschema

    schema = transformer.mapping_schema()
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([^`]*)` \|$", REFERENCE, flags=re.M)
    assert len(rows) >= 40
    for title, kind in (("Directives", "expr"), ("Conditions", "condition"), ("Steps", "step")):
        text = REFERENCE.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
        for name, example in re.findall(r"^\| `([^`]+)` \|.*\| `([^`]*)` \|$", text, flags=re.M):
            value = yaml.safe_load(example)
            assert name in value, example
            assert not list(jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{kind}"}).iter_errors(value)), example


def test_the_site_builds_the_reference_into_its_page() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert "docs/hooks/schema_reference.py" in config["hooks"]
    text = page("language/reference.md")
    assert HOOK.MARKER in text
    built = HOOK.on_page_markdown(text, page=None, config=config, files=None)
    assert HOOK.MARKER not in built and REFERENCE in built
    assert HOOK.on_page_markdown("# Other page\n") == "# Other page\n"


def test_a_pipe_escaped_for_github_in_a_table_shows_as_a_pipe_on_the_site() -> None:
    hook = _hook("table_pipes")
    row = "| `jmespath` | a search | `{jmespath: \"ids \\| [0]\"}` |"
    assert hook.on_page_markdown(f"# T\n\n{row}\n") == "# T\n\n| `jmespath` | a search | `{jmespath: \"ids | [0]\"}` |\n"
    prose = "a \\| outside a table, and `a \\| b` in a line that is no row"
    assert hook.on_page_markdown(prose) == prose
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert "docs/hooks/table_pipes.py" in config["hooks"]
    assert "\\|" in page("language/rules.md")  # the pages keep GitHub's form
