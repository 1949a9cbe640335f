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
