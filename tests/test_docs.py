"""The documentation names only files the repository has, and never points outside it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs_pages import README, ROOT, pages

DOCS = [README, *pages()]
TOP = ("mappings", "fixtures", "transformer", "tests", "docs", "schema", "examples", "bench", "scripts", ".ci")
# A repository path in backticks or a link: it starts with one of the top folders (or is a top file).
PATH = re.compile(r"`((?:%s)/[^`\s]*|[A-Za-z_.-]+\.(?:md|toml|in))`|\]\(([^)#\s]+)\)" % "|".join(re.escape(t) for t in TOP))


def _named(doc: Path) -> set[tuple[str, bool]]:
    """The repository paths a page names, each with whether it is a link (a link is relative to
    the page's folder, as GitHub and MkDocs read it; a path in backticks is from the root)."""
    return {(code or link, bool(link)) for code, link in PATH.findall(doc.read_text(encoding="utf-8"))}


def test_the_pattern_finds_named_paths() -> None:
    assert all(_named(doc) for doc in (README, ROOT / "docs" / "index.md", ROOT / "docs" / "cli.md"))


@pytest.mark.parametrize("doc", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_named_files_exist(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert "shared/" not in text, f"{doc.name} points outside the repository"
    missing = []
    for name, is_link in sorted(_named(doc)):
        if "<" in name or "NAME" in name or "*" in name or name.startswith(("http:", "https:")):
            continue  # a placeholder or a pattern, not a file
        relative = is_link or (name.startswith(".") and not name.startswith(".ci"))
        if not ((doc.parent if relative else ROOT) / name.rstrip("/")).exists():
            missing.append(name)
    assert missing == [], f"{doc.name} names files the repository does not have"


def _headings(doc: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.S | re.M)  # a `# comment` in code is no heading
    return {line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")}


def test_references_to_doc_sections_name_real_headings() -> None:
    """`(see README: "Kustomer settings")` once named a heading the README does not have. A
    reference names the README or a docs page, then a heading of it: `docs/cli.md: "Command line"`."""
    files = [p for top in ("examples", "mappings", "docs", "transformer") for p in (ROOT / top).rglob("*") if p.is_file()
             and p.suffix in (".yaml", ".yml", ".json", ".md", ".py")]
    named = {(p.name, doc, name) for p in files
             for doc, name in re.findall(r'(README|docs/[\w/.-]+\.md):\s*(?:#\s*)?"([^"]+)"', p.read_text(encoding="utf-8"))}
    assert named, "the pattern finds the references"
    headings = {doc: _headings(ROOT / ("README.md" if doc == "README" else doc)) for _, doc, _ in named}
    assert [(file, doc, name) for file, doc, name in sorted(named) if name not in headings[doc]] == []


def test_every_command_option_is_in_the_docs() -> None:
    """`--no-progress` was in `run --help` and `send --help` but in no README synopsis. The
    synopses are in docs/cli.md and docs/delivery.md (`send`)."""
    from transformer import cli

    readme = "\n".join(doc.read_text(encoding="utf-8") for doc in DOCS)
    commands = next(a for a in cli._parser()._actions if a.dest == "command").choices  # type: ignore[attr-defined]
    options = {(name, option) for name, parser in commands.items() for action in parser._actions
               for option in action.option_strings if option.startswith("--") and option != "--help"}
    assert [(name, option) for name, option in sorted(options) if f"[{option}" not in readme and f"{option} " not in readme] == []


@pytest.mark.parametrize("name", ["kustomer", "segment"])
def test_destination_docs_state_the_delivery_rules_send_follows(name: str) -> None:
    """docs/kustomer.md (now docs/destinations/kustomer.md) said pacing was the caller's concern while `send` enforces delivery.rate_limit."""
    import transformer

    rules = transformer.load(ROOT / "mappings" / name).delivery
    text = (ROOT / "docs" / "destinations" / f"{name}.md").read_text(encoding="utf-8")
    assert "caller's concern" not in text and "Delivery and retries are the caller's" not in text
    section = text.split("\n## Delivery\n", 1)[1].split("\n## ", 1)[0]
    assert rules.rate_limit is not None
    assert f"{rules.rate_limit.requests:,} requests" in section and f"up to\n  {rules.tries} tries" in section
    assert ", ".join(str(s) for s in sorted(rules.retry_statuses)[:-1]) in section and "--rate-limit" in section


def test_every_page_has_a_title_and_a_place_in_the_site() -> None:
    """A page not in mkdocs.yml's nav fails `mkdocs build --strict` (CI); this says so in every test run."""
    import yaml

    def listed(items: list[object]) -> set[str]:
        found: set[str] = set()
        for item in items:
            for value in (item.values() if isinstance(item, dict) else [item]):
                found |= listed(value) if isinstance(value, list) else {str(value)}
        return found

    nav = listed(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
    for doc in pages():
        name = doc.relative_to(ROOT / "docs").as_posix()
        assert doc.read_text(encoding="utf-8").startswith("# "), f"{name} starts with its title"
        assert name in nav, f"add {name} to the nav in mkdocs.yml"
