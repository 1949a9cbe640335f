"""The documentation names only files the repository has, and never points outside it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("mappings", "fixtures", "transformer", "tests", "docs", "schema", "examples", "bench", "scripts", ".ci")
# A repository path in backticks or a link: it starts with one of the top folders (or is a top file).
PATH = re.compile(r"`((?:%s)/[^`\s]*|[A-Za-z_.-]+\.(?:md|toml|in))`|\]\(([^)#\s]+)\)" % "|".join(re.escape(t) for t in TOP))


@pytest.mark.parametrize("doc", DOCS, ids=[p.name for p in DOCS])
def test_named_files_exist(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert "shared/" not in text, f"{doc.name} points outside the repository"
    named = {a or b for a, b in PATH.findall(text)}
    assert named, "the pattern finds the paths the page names"
    missing = []
    for name in sorted(named):
        if "<" in name or "NAME" in name or "*" in name or name.startswith(("http:", "https:")):
            continue  # a placeholder or a pattern, not a file
        base = doc.parent if name.startswith(".") and not name.startswith(".ci") else ROOT
        if not (base / name.rstrip("/")).exists():
            missing.append(name)
    assert missing == [], f"{doc.name} names files the repository does not have"


def test_references_to_readme_sections_name_real_headings() -> None:
    """`(see README: "Kustomer settings")` once named a heading the README does not have."""
    headings = {line.lstrip("#").strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
                if line.startswith("#")}
    files = [p for top in ("examples", "mappings", "docs", "transformer") for p in (ROOT / top).rglob("*") if p.is_file()
             and p.suffix in (".yaml", ".yml", ".json", ".md", ".py")]
    named = {(p.name, name) for p in files
             for name in re.findall(r'README:\s*(?:#\s*)?"([^"]+)"', p.read_text(encoding="utf-8"))}
    assert named, "the pattern finds the references"
    assert [(file, name) for file, name in sorted(named) if name not in headings] == []


def test_every_command_option_is_in_the_readme() -> None:
    """`--no-progress` was in `run --help` and `send --help` but in no README synopsis."""
    from transformer import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = next(a for a in cli._parser()._actions if a.dest == "command").choices  # type: ignore[attr-defined]
    options = {(name, option) for name, parser in commands.items() for action in parser._actions
               for option in action.option_strings if option.startswith("--") and option != "--help"}
    assert [(name, option) for name, option in sorted(options) if f"[{option}" not in readme and f"{option} " not in readme] == []


@pytest.mark.parametrize("name", ["kustomer", "segment"])
def test_destination_docs_state_the_delivery_rules_send_follows(name: str) -> None:
    """docs/kustomer.md said pacing was the caller's concern while `send` enforces delivery.rate_limit."""
    import transformer

    rules = transformer.load(ROOT / "mappings" / name).delivery
    text = (ROOT / "docs" / f"{name}.md").read_text(encoding="utf-8")
    assert "caller's concern" not in text and "Delivery and retries are the caller's" not in text
    section = text.split("\n## Delivery\n", 1)[1].split("\n## ", 1)[0]
    assert rules.rate_limit is not None
    assert f"{rules.rate_limit.requests:,} requests" in section and f"up to\n  {rules.tries} tries" in section
    assert ", ".join(str(s) for s in sorted(rules.retry_statuses)[:-1]) in section and "--rate-limit" in section
